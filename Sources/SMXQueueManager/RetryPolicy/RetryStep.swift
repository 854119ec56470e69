/// One step of an Exim-style retry schedule: how far apart retries are while the time since
/// the destination's first failure is below `cutoff`.
///
/// Steps are listed in increasing cutoff order; the step in effect is the first whose cutoff
/// the time since the first failure has not reached (Exim's rule). The last step stays in
/// effect past its cutoff: the rule's queue lifetime, not the schedule, ends retrying.
public struct RetryStep: Hashable, Sendable {
    /// How the intervals within a step are chosen.
    public enum Interval: Hashable, Sendable {
        /// The same interval every time (Exim's `F`).
        case fixed(Duration)
        /// `start`, then each interval `factor` times the one before (Exim's `G`); the
        /// count restarts when the step comes into effect.
        case geometric(start: Duration, factor: Double)
        /// A fresh uniform draw in `minimum ... maximum` after each failure. Not a grid: the
        /// next try is the draw after the current time.
        case random(minimum: Duration, maximum: Duration)
    }

    public var interval: Interval
    /// Measured from the destination's first failure.
    public var cutoff: Duration

    public init(_ interval: Interval, until cutoff: Duration) {
        self.interval = interval
        self.cutoff = cutoff
    }

    /// Retry every `interval` until `cutoff` after the first failure.
    public static func fixed(_ interval: Duration, until cutoff: Duration) -> RetryStep {
        RetryStep(.fixed(interval), until: cutoff)
    }

    /// Retry after `start`, then after intervals growing by `factor` (> 1), until `cutoff`.
    public static func geometric(start: Duration, factor: Double, until cutoff: Duration) -> RetryStep {
        RetryStep(.geometric(start: start, factor: factor), until: cutoff)
    }

    /// Retry after a random interval between `minimum` and `maximum`, until `cutoff`.
    public static func random(minimum: Duration, maximum: Duration, until cutoff: Duration) -> RetryStep {
        RetryStep(.random(minimum: minimum, maximum: maximum), until: cutoff)
    }
}
