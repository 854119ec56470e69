/// An envelope in the deferred queue (the seed's DEFEDB transaction context): the MAIL
/// FROM data, the body it refers to, and the counters and DSN bookkeeping the queue
/// manager needs while any of its recipients is still queued.
///
/// **Counters.** ``recipientCount`` is how many recipients the envelope had when it was
/// received (in the incoming queue and the deferred queue together; the seed's note on
/// envelopes spread over both). ``deferred``, ``held`` and ``failed`` count the envelope's
/// recipient records in the deferred queue by status, and ``DeferredQueue`` keeps them
/// exact in the same commit as every recipient change (`verify()` checks them).
/// ``delivered`` and ``bounced`` count recipients that left the deferred queue after
/// delivery, or after their failure was reported; with the three above they never exceed
/// ``recipientCount``. The envelope leaves the deferred queue with its last recipient, and
/// the caller then releases its body (ARCHITECTURE.md rule 2: the reference goes only
/// after the commit that dropped it is durable).
public struct DeferredTransaction: Equatable, Sendable {
    public var envelopeID: EnvelopeID
    /// The reverse-path without angle brackets; empty for the null sender (a DSN, which is
    /// never bounced).
    public var sender: String
    public var mail: MailParameters
    public var content: ContentReference
    /// Microseconds since the Unix epoch at which the final dot was received (the queue
    /// lifetime and the delay-DSN timeout count from here).
    public var arrivalMicros: UInt64
    /// Recipients the envelope had when it was received.
    public var recipientCount: UInt32
    /// Recipient records with status ``DeferredRecipient/Status/deferred``.
    public var deferred: UInt32
    /// Recipient records with status ``DeferredRecipient/Status/held``.
    public var held: UInt32
    /// Recipient records with status ``DeferredRecipient/Status/failed``: failed
    /// permanently, their failure DSN (bounce) still pending.
    public var failed: UInt32
    /// Recipients removed from the deferred queue as delivered.
    public var delivered: UInt32
    /// Recipients removed from the deferred queue after their failure was reported.
    public var bounced: UInt32
    /// When the last delay DSN for this envelope was sent (RFC 3464 "delayed"); nil when
    /// none was. The queue manager sends the next one, if any, from here.
    public var delayNotifiedMicros: UInt64?

    public init(
        envelopeID: EnvelopeID,
        sender: String,
        mail: MailParameters = MailParameters(),
        content: ContentReference,
        arrivalMicros: UInt64,
        recipientCount: UInt32,
        deferred: UInt32 = 0,
        held: UInt32 = 0,
        failed: UInt32 = 0,
        delivered: UInt32 = 0,
        bounced: UInt32 = 0,
        delayNotifiedMicros: UInt64? = nil
    ) {
        self.envelopeID = envelopeID
        self.sender = sender
        self.mail = mail
        self.content = content
        self.arrivalMicros = arrivalMicros
        self.recipientCount = recipientCount
        self.deferred = deferred
        self.held = held
        self.failed = failed
        self.delivered = delivered
        self.bounced = bounced
        self.delayNotifiedMicros = delayNotifiedMicros
    }

    /// Recipient records the deferred queue holds for this envelope.
    public var queued: UInt64 { UInt64(deferred) + UInt64(held) + UInt64(failed) }

    /// Every recipient accounted for so far: queued, delivered or bounced.
    public var accounted: UInt64 { queued + UInt64(delivered) + UInt64(bounced) }

    /// A failure DSN is owed: some recipient failed and was not reported yet.
    public var bouncePending: Bool { failed > 0 }
}
