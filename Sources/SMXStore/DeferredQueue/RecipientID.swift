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
