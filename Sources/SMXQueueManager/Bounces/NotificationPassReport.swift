import SMXStore

/// What one ``NotificationPass/run(now:)`` did, for logs, tests and the queue manager,
/// which drops ``removedRecipients`` from its next-try cache and ``releasedBodies`` from
/// its reference counts.
public struct NotificationPassReport: Sendable {
    /// Envelopes of the deferred queue looked at.
    public var envelopesExamined = 0
    /// Envelopes whose recipients were read (a failure due, or a delay warning possibly owed).
    public var envelopesRead = 0
    /// Notifications enqueued, one per envelope at most.
    public var sent: [SentNotification] = []
    /// Failed recipients removed after a notification reported them.
    public var recipientsReported = 0
    /// Failed recipients removed without a notification because their NOTIFY excludes
    /// failures (NOTIFY=NEVER, or a list without FAILURE).
    public var recipientsSuppressed = 0
    /// Failures nobody is told about (a failed postmaster notice, a null-sender failure
    /// without a postmaster); their recipients are removed.
    public var dropped: [DroppedNotification] = []
    /// Deferred or held recipients reported in a delay notification and marked so.
    public var recipientsWarned = 0
    /// Every recipient the pass removed from the deferred queue.
    public var removedRecipients: [RecipientID] = []
    /// Bodies released because their last reference went.
    public var releasedBodies: [ContentID] = []
    /// Envelopes left for the next pass.
    public var failures: [EnvelopeNotificationFailure] = []

    public init() {}
}
