/// One recipient in the deferred queue (the seed's DEFEDB recipient record): its address
/// and RCPT TO parameters, where it stands, what its attempts so far got, and when it is
/// tried next.
///
/// **Status and indexes.** Each status says which index entries the recipient has, and
/// ``DeferredQueue`` keeps them in the same commit as the record (`verify()` checks them):
///
/// | status | ``nextTry`` | next-try index | hold set | destination index |
/// |---|---|---|---|---|
/// | ``Status/deferred`` | required | one entry | none | one entry |
/// | ``Status/held`` | nil | none | one entry | one entry |
/// | ``Status/failed`` | required (when the bounce is due) | one entry | none | one entry |
public struct DeferredRecipient: Equatable, Sendable {
    public enum Status: UInt8, Sendable, CaseIterable, CustomStringConvertible {
        /// Failed temporarily; tried again at ``DeferredRecipient/nextTry``.
        case deferred = 1
        /// Not tried until released (operator hold, quarantine, ETRN-only domain).
        case held = 2
        /// Failed permanently; kept until its failure DSN (bounce) is built, which the
        /// scheduler does at ``DeferredRecipient/nextTry``. Not tried again.
        case failed = 3

        public var description: String {
            switch self {
            case .deferred: "deferred"
            case .held: "held"
            case .failed: "failed"
            }
        }
    }

    public var id: RecipientID
    public var address: String
    public var notify: NotifyFlags
    /// RFC 3461 ORCPT, as "addr-type;xtext-decoded-address".
    public var originalRecipient: String?
    /// Where the recipient goes: its domain or next hop, lower-cased (1...255 bytes, no
    /// NUL). Keys the destination index.
    public var destination: String
    public var status: Status
    /// Delivery attempts made so far.
    public var attempts: UInt32
    /// When the first failed attempt was made (µs since the epoch); nil before any.
    public var firstFailureMicros: UInt64?
    /// When the last attempt was made; nil before any.
    public var lastAttemptMicros: UInt64?
    public var lastReply: DeliveryReply?
    /// When the recipient is due (µs since the epoch); nil exactly when it is held.
    public var nextTry: UInt64?
    /// A delay DSN has reported this recipient (RFC 3464 "delayed"); the next one reports
    /// only recipients delayed since.
    public var delayReported: Bool

    public init(
        id: RecipientID,
        address: String,
        notify: NotifyFlags = [],
        originalRecipient: String? = nil,
        destination: String,
        status: Status = .deferred,
        attempts: UInt32 = 0,
        firstFailureMicros: UInt64? = nil,
        lastAttemptMicros: UInt64? = nil,
        lastReply: DeliveryReply? = nil,
        nextTry: UInt64?,
        delayReported: Bool = false
    ) {
        self.id = id
        self.address = address
        self.notify = notify
        self.originalRecipient = originalRecipient
        self.destination = destination
        self.status = status
        self.attempts = attempts
        self.firstFailureMicros = firstFailureMicros
        self.lastAttemptMicros = lastAttemptMicros
        self.lastReply = lastReply
        self.nextTry = nextTry
        self.delayReported = delayReported
    }

    /// The recipient's next-try index entry, when it has one.
    public var nextTryKey: NextTryKey? {
        nextTry.map { NextTryKey(nextTry: $0, envelopeID: id.envelopeID, recipient: id.index) }
    }
}
