/// Why ``SchedulerWakeup/wait(until:)`` returned. The queue manager does a whole round on any
/// wake (fill the active queue, pop what is due, clean up), so the reason is for logs and
/// tests; only ``stopped`` changes what it does next.
public enum WakeReason: Hashable, Sendable, CustomStringConvertible {
    /// New mail was signalled (once for any number of signals since the last wake).
    case newMail
    /// The due time the caller gave has come.
    case due
    /// ``SchedulerWakeup/stop()`` was called, or the waiting task was cancelled.
    case stopped

    public var description: String {
        switch self {
        case .newMail: "new mail"
        case .due: "due"
        case .stopped: "stopped"
        }
    }
}
