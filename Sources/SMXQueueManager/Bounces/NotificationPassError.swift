import SMXStore

/// Why the notification pass could not do its work. A pass that throws has changed nothing
/// it did not finish: every notification it enqueued was followed by its deferred-queue
/// commit, or is listed in the report as a failure to be retried.
public enum NotificationPassError: Error, Sendable {
    /// The deferred queue could not be read (closed, damaged, a failed read).
    case reading(StoreError)
    /// The receiving side did not take the notification (admission, a full or failed
    /// store): nothing about the recipients changed, the next pass tries again.
    case enqueue(ReceiveError)
    /// The notification was accepted but the deferred-queue commit that removes or marks
    /// its recipients failed: the next pass (after a reopen, if the file is poisoned)
    /// sends it again. A duplicate, never a loss.
    case commit(StoreError)

    static func wrapping(_ error: any Error, _ make: (StoreError) -> NotificationPassError) -> NotificationPassError {
        if let error = error as? StoreError { return make(error) }
        return make(StoreError(.io, "notification pass: \(error)", cause: error))
    }
}
