/// Why a ``QueueManager`` could not start, or stopped on its own.
///
/// A store failure is final for the running manager (rule 6: a failed sync poisons the
/// store until it is reopened): the loop stops, nothing more is written, and every
/// recipient stays where the stores last durably put it. Reopening the stores and starting
/// a new manager (which runs ``QueueStartup``) continues from there.
public enum QueueManagerError: Error, Sendable, CustomStringConvertible {
    /// ``QueueManager/start()`` was called twice, or after ``QueueManager/stop()``.
    case alreadyStarted
    /// The loop is not running (not started, stopped, or stopped by a failure): the call
    /// changed nothing.
    case notRunning
    /// Startup failed (see ``StartupError``).
    case startup(StartupError)
    /// A store refused a read or a write the loop needed; `operation` says which.
    case store(operation: String, cause: any Error)

    public var description: String {
        switch self {
        case .alreadyStarted: "the queue manager was already started"
        case .notRunning: "the queue manager is not running"
        case .startup(let error): "\(error)"
        case .store(let operation, let cause): "queue manager: \(operation) failed: \(cause)"
        }
    }
}
