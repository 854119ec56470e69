/// The operator's verbs on the deferred queue (`smx-qctl`).
public enum QueueOperationKind: String, Hashable, Sendable, CaseIterable {
    /// Deferred recipients stop being tried until released.
    case hold
    /// Held recipients become deferred, due now.
    case release
    /// Deferred recipients become due now.
    case requeue
    /// Recipients leave the queue without a notification.
    case delete
    /// Deferred and held recipients fail permanently with an administrative reply, so the
    /// notification pass tells their senders.
    case bounce
}
