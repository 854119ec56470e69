/// One entry of the deferred queue's next-try index (the seed's DEFEDB "next time to try"):
/// a recipient of an envelope and the time of its next delivery attempt.
///
/// Keys order by `nextTry`, then `envelopeID`, then `recipient`, so the smallest key is the
/// recipient that is due first, and two recipients due at the same microsecond have a fixed
/// order. The order is the index's order; ``NextTryCache`` keeps a prefix of it.
public struct NextTryKey: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// When the next attempt is due, in microseconds since the Unix epoch (what the deferred
    /// queue stores).
    public var nextTry: UInt64
    /// The envelope the recipient belongs to.
    public var envelopeID: EnvelopeID
    /// The recipient's index within its envelope.
    public var recipient: UInt32

    public init(nextTry: UInt64, envelopeID: EnvelopeID, recipient: UInt32) {
        self.nextTry = nextTry
        self.envelopeID = envelopeID
        self.recipient = recipient
    }

    /// The smallest key there is.
    public static let min = NextTryKey(nextTry: 0, envelopeID: EnvelopeID(0), recipient: 0)
    /// The largest key there is.
    public static let max = NextTryKey(nextTry: .max, envelopeID: EnvelopeID(.max), recipient: .max)

    /// The smallest key greater than this one, or nil for ``max``.
    public var successor: NextTryKey? {
        if recipient < .max {
            return NextTryKey(nextTry: nextTry, envelopeID: envelopeID, recipient: recipient + 1)
        }
        if envelopeID.rawValue < .max {
            return NextTryKey(nextTry: nextTry, envelopeID: EnvelopeID(envelopeID.rawValue + 1), recipient: 0)
        }
        if nextTry < .max {
            return NextTryKey(nextTry: nextTry + 1, envelopeID: EnvelopeID(0), recipient: 0)
        }
        return nil
    }

    public static func < (a: NextTryKey, b: NextTryKey) -> Bool {
        if a.nextTry != b.nextTry { return a.nextTry < b.nextTry }
        if a.envelopeID != b.envelopeID { return a.envelopeID < b.envelopeID }
        return a.recipient < b.recipient
    }

    /// `nextTry/envelope/recipient`, e.g. `1700000000000000/0000000000001/0`.
    public var description: String { "\(nextTry)/\(envelopeID)/\(recipient)" }
}
