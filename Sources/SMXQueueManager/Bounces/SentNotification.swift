import SMXStore

/// One notification the pass enqueued: a new message with the null sender, durable in the
/// incoming log before any recipient it reports changed in the deferred queue.
public struct SentNotification: Equatable, Sendable {
    /// The notification's own envelope (a new message in the incoming log).
    public var notificationEnvelopeID: EnvelopeID
    /// The message it reports on.
    public var originalEnvelopeID: EnvelopeID
    public var kind: NotificationKind
    /// The address it was sent to: the original sender, or the postmaster.
    public var deliverTo: String
    /// True when it went to the postmaster because the original had the null sender. Such
    /// a notice carries ``NotificationPass/postmasterNoticeEnvelopeID`` as its ENVID and
    /// NOTIFY=NEVER, so its own failure is dropped, never reported.
    public var isPostmasterNotice: Bool
    /// The recipients it reports, in index order.
    public var recipients: [RecipientID]

    public init(
        notificationEnvelopeID: EnvelopeID, originalEnvelopeID: EnvelopeID, kind: NotificationKind, deliverTo: String,
        isPostmasterNotice: Bool, recipients: [RecipientID]
    ) {
        self.notificationEnvelopeID = notificationEnvelopeID
        self.originalEnvelopeID = originalEnvelopeID
        self.kind = kind
        self.deliverTo = deliverTo
        self.isPostmasterNotice = isPostmasterNotice
        self.recipients = recipients
    }
}
