/// When a destination that keeps failing is tried again: a function from the time since the
/// destination's first failure to the time of the next try, measured the same way.
///
/// Times count from the destination's first failure, not from a message's arrival (the
/// seed's "Next Retry Time"; Exim does the same), so every message for one destination
/// shares one schedule, and a message for a site that has been down for two days starts on
/// the two-day part of it. Without randomness (the `random` step) the result depends only
/// on that elapsed time: the tries fall on a grid, whoever asks.
public enum RetrySchedule: Hashable, Sendable {
    /// Exim-style steps (see ``RetryStep``), cutoffs strictly increasing.
    case steps([RetryStep])
    /// qmail's quadratic schedule: the next try is `(⌊√s⌋ + skip)²` seconds after the first
    /// failure, where `s` is the number of whole seconds since it. With `skip` 20 (qmail's
    /// remote channel) tries fall at 400·n² seconds, with 10 (local) at 100·n² seconds.
    ///
    /// Source: qmail-1.03 `qmail-send.c`, `nextretry()`:
    /// `n = squareroot(recent - birth) + chanskip[c]; return birth + n * n;` with
    /// `chanskip = { 10, 20 }` (local, remote). qmail counts from the message's birth; here
    /// the origin is the destination's first failure, as for every schedule.
    case quadratic(skip: Int)
    /// Courier's schedule: `beta` tries `alpha` apart, then a pause of `gamma`, `beta - 1`
    /// more tries `alpha` apart, then a pause of `2·gamma`, and so on, the pause doubling
    /// up to `gamma·2^maxDelta` and staying there. With Courier's defaults (5 min, 3,
    /// 15 min, 3) the waits in minutes are 5, 5, 5, 15, 5, 5, 30, 5, 5, 60, 5, 5, 120, 5, 5,
    /// 120, ... as the seed document (after Courier's manual) lists them.
    ///
    /// Courier itself counts attempts; this counts the same waits as time since the first
    /// failure, which is the same when each try happens on time. Courier's code
    /// (`courier/msgq.C`, `msgq::done`) differs from its manual: it waits
    /// `gamma·2^min(n/beta, maxDelta)` after attempt `n` when `beta` divides `n`, which gives
    /// 5, 5, 30, 5, 5, 60, ...; this follows the manual's schedule, as the seed does.
    /// Defaults from `courier/libs/comreadtime.c` and `comconfig`.
    case courier(alpha: Duration, beta: Int, gamma: Duration, maxDelta: Int)

    /// Throws when a parameter is out of range (see ``RetryConfigurationError``).
    public func validate() throws(RetryConfigurationError) {
        switch self {
        case .steps(let steps):
            guard !steps.isEmpty else { throw .emptySchedule }
            var previousCutoff = Duration.zero
            for (index, step) in steps.enumerated() {
                guard step.cutoff > previousCutoff else { throw .cutoffNotIncreasing(step: index) }
                previousCutoff = step.cutoff
                switch step.interval {
                case .fixed(let interval):
                    guard interval.wholeMicroseconds > 0 else { throw .invalidInterval(step: index) }
                case .geometric(let start, let factor):
                    guard start.wholeMicroseconds > 0 else { throw .invalidInterval(step: index) }
                    guard factor.isFinite, factor > 1 else { throw .invalidFactor(step: index) }
                case .random(let minimum, let maximum):
                    guard minimum.wholeMicroseconds > 0, minimum <= maximum else { throw .invalidInterval(step: index) }
                }
            }
        case .quadratic(let skip):
            guard (1...1_000_000).contains(skip) else { throw .invalidParameter("quadratic skip must be 1 ... 1000000") }
        case .courier(let alpha, let beta, let gamma, let maxDelta):
            guard alpha.wholeMicroseconds > 0, gamma.wholeMicroseconds > 0 else {
                throw .invalidParameter("courier alpha and gamma must be positive")
            }
            guard (1...1_000).contains(beta) else { throw .invalidParameter("courier beta must be 1 ... 1000") }
            guard (0...30).contains(maxDelta) else { throw .invalidParameter("courier maxDelta must be 0 ... 30") }
        }
    }
}
