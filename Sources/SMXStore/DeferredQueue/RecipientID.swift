/// Names one recipient of the deferred queue: its envelope and its index within the
/// envelope (the position of its RCPT TO, as the incoming log numbers them). Orders by
/// envelope, then index, which is the order of the recipients tree.
public struct RecipientID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var envelopeID: EnvelopeID
    public var index: UInt32

    public init(_ envelopeID: EnvelopeID, _ index: UInt32) {
        self.envelopeID = envelopeID
        self.index = index
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(envelopeID.rawValue)
        hasher.combine(index)
    }

    /// One word, hashed in one shot (see ``Identifier/_rawHashValue(seed:)``): the envelope
    /// id multiplied by an odd constant (a bijection) with the index folded in. Equal ids give
    /// equal words; the rare unequal ids that share a word only share a bucket.
    public func _rawHashValue(seed: Int) -> Int {
        (envelopeID.rawValue &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(index))._rawHashValue(seed: seed)
    }

    public static func < (a: RecipientID, b: RecipientID) -> Bool {
        (a.envelopeID.rawValue, a.index) < (b.envelopeID.rawValue, b.index)
    }

    /// `envelope/index`, e.g. `0000000000001/3`.
    public var description: String { "\(envelopeID)/\(index)" }
}

/// Which recipients a hold, release or requeue applies to.
public enum RecipientSelector: Sendable, Equatable {
    /// One recipient.
    case recipient(RecipientID)
    /// Every recipient of one envelope.
    case envelope(EnvelopeID)
    /// Every recipient whose destination is this one (lower-cased, as stored): "a
    /// connection to this site works again", ETRN.
    case destination(String)
}
