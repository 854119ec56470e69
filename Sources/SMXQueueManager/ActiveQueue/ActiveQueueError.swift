import SMXStore

/// Why the ``ActiveQueue`` refused a change. Nothing changed when one is thrown.
///
/// ``full`` and ``deferredMaximum`` answer an admission the fill plan did not allow (a
/// scheduler bug, or a forced read such as an operator's requeue, which must then wait).
/// ``unknownRecipient`` and ``wrongState`` are normal for late answers: a resolver or agent
/// that answers after its recipient timed out and left the active queue.
public enum ActiveQueueError: Error, Hashable, Sendable {
    /// The active queue holds ``ActiveQueueConfiguration/capacity`` entries.
    case full
    /// A deferred entry would take the deferred entries above
    /// ``ActiveQueueConfiguration/maximumDeferred``.
    case deferredMaximum
    /// The recipient is already in the active queue.
    case duplicate(RecipientID)
    /// The recipient is not in the active queue.
    case unknownRecipient(RecipientID)
    /// The recipient is in another state than the change needs (or, for a result, in
    /// another job).
    case wrongState(RecipientID, ActiveQueueEntry.State)
}
