import SMXStore

/// What an operation applies to: whole envelopes (every recipient the deferred queue holds
/// of each, read just before the commit) or single recipients.
public enum QueueOperationTarget: Hashable, Sendable {
    case envelopes([EnvelopeID])
    case recipients([RecipientID])
}
