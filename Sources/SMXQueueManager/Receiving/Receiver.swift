import SMXStore

/// What an SMTP server calls to hand mail to the queue (the seed's SMTP server → QMGR
/// protocol, receiving half): ``begin(sender:parameters:)`` at MAIL FROM, then on the
/// ``IncomingMessage`` it returns `addRecipient` per RCPT TO, `appendBody` as DATA
/// arrives, and `commit()` at the final dot, which returns only once rule 1 holds.
///
/// **Order of writes.** The body streams into a ``ContentWriter`` of the content store
/// (held compressed in memory up to the store's large-body threshold, spilled to its own
/// file past it); at commit the writer finishes and the transaction record (sender,
/// parameters, body reference, recipients) goes to the incoming log with
/// ``IncomingLog/commit(_:bodies:in:)``: both stores' group commits run at once and the
/// call returns when both synced. Only then is the message acknowledged and
/// ``onAccepted`` told. A crash before that leaves at most an unacknowledged envelope or a
/// body without one, which startup discards or releases (``QueueStartup``).
///
/// **Admission.** ``AdmissionPolicy`` is asked at `begin` and at `commit`; a slow-down or
/// refusal is a ``ReceiveError`` thrown at once, never a wait. The stores' own
/// back-pressure (bounded pending bytes) is the only wait, and it is bounded by a sync.
///
/// **Lifetime.** One per queue, made after ``QueueStartup`` ran (startup supplies the
/// ``EnvelopeIDSource``) and before the stores close. Thread-safe: any number of sessions
/// call it at once; each ``IncomingMessage`` belongs to one session.
public final class Receiver: Sendable {
    public let log: IncomingLog
    public let contentStore: ContentStore
    public let configuration: ReceiverConfiguration
    public let envelopeIDs: EnvelopeIDSource
    public let admission: any AdmissionPolicy
    /// Called once per acknowledged message, after its commit is durable and before
    /// `commit()` returns: the queue manager's "new mail" hook (it adds the envelope to
    /// its incoming and active queues). Must not block.
    public let onAccepted: @Sendable (AcceptedMessage) -> Void
    /// The arrival time of a message (µs since the epoch), read at commit.
    let clock: @Sendable () -> UInt64

    public init(
        log: IncomingLog,
        contentStore: ContentStore,
        envelopeIDs: EnvelopeIDSource,
        configuration: ReceiverConfiguration = ReceiverConfiguration(),
        admission: any AdmissionPolicy = AlwaysAccept(),
        clock: @escaping @Sendable () -> UInt64 = { wallClockMicros() },
        onAccepted: @escaping @Sendable (AcceptedMessage) -> Void = { _ in }
    ) {
        self.log = log
        self.contentStore = contentStore
        self.envelopeIDs = envelopeIDs
        self.configuration = configuration
        self.admission = admission
        self.clock = clock
        self.onAccepted = onAccepted
    }

    /// Starts a transaction (MAIL FROM). `sender` is the reverse-path without angle
    /// brackets, empty for the null sender. Allocates the envelope id at once, so the
    /// server can name it in its `Received:` field.
    ///
    /// Throws ``ReceiveError/slowDown(_:)`` or ``ReceiveError/refused(_:)`` when admission
    /// says so, ``ReceiveError/messageTooLarge(limit:)`` for a SIZE= above the limit, and
    /// ``ReceiveError/invalidParameter(_:)`` for a sender or ENVID the queue cannot store.
    public func begin(sender: String, parameters: MailParameters = MailParameters()) throws(ReceiveError) -> IncomingMessage {
        switch admission.admission() {
        case .accept: break
        case .slowDown(let reason): throw .slowDown(reason)
        case .refuse(let reason): throw .refused(reason)
        }
        if let size = parameters.size, size > configuration.maxMessageBytes {
            throw .messageTooLarge(limit: configuration.maxMessageBytes)
        }
        if sender.utf8.count > DeferredQueueSchema.maxAddressBytes {
            throw .invalidParameter("sender of \(sender.utf8.count) bytes (at most \(DeferredQueueSchema.maxAddressBytes))")
        }
        if let envid = parameters.envelopeID, envid.utf8.count > DeferredQueueSchema.maxEnvelopeIDBytes {
            throw .invalidParameter("ENVID of \(envid.utf8.count) bytes (at most \(DeferredQueueSchema.maxEnvelopeIDBytes))")
        }
        return IncomingMessage(receiver: self, envelopeID: envelopeIDs.next(), sender: sender, parameters: parameters)
    }
}
