/// Whether a job reached its destination: what the destination state learns from it.
public enum ConnectionOutcome: Hashable, Sendable {
    /// A session was established and the destination answered for the recipients, whatever
    /// it answered. Ends the destination's run of failures.
    case connected
    /// No usable session: no address found, connection refused or timed out, the greeting
    /// refused (421), or the connection lost before any recipient was answered. Every
    /// recipient then has a temporary (or, for a destination that cannot exist, permanent)
    /// failure. Starts or continues the destination's run of failures.
    case failed
}
