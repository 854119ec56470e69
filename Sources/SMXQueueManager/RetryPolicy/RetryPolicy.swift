/// The retry policy of a queue: which ``RetryRule`` applies to a destination, when that
/// destination is tried next, and what becomes of a message that keeps failing there.
///
/// Pure: no clock, no I/O, no hidden randomness. The caller passes the current time and a
/// random number generator (`SystemRandomNumberGenerator` in production, a seeded one in
/// tests and simulations, which then replay exactly).
///
/// The next try belongs to the destination, not to a message (the seed's "Next Retry
/// Time"): the caller keeps each destination's first failure (the destination connection
/// cache) and asks ``nextTry(destination:firstFailure:now:using:)`` once per failure; every
/// message waiting for that destination uses the answer. ``decide(destination:firstFailure:messageArrival:now:delayWarned:using:)``
/// adds what belongs to the message: its lifetime and its delay warning.
public struct RetryPolicy: Sendable {
    /// Fraction of each wait added or taken away at random, so that tries do not fall into
    /// step with a destination's periodic outages (the seed's "fuzz" note). 0.1 means the
    /// wait is multiplied by a uniform factor in `0.9 ... 1.1`.
    public let fuzz: Double
    public let rules: [RetryRule]

    private let table: DestinationPatternTable<RetryRule>
    private let fallback: RetryRule

    /// Throws when a rule is invalid, two rules share a pattern, no rule has pattern
    /// ``DestinationPattern/any``, or `fuzz` is not in `0 ..< 1`.
    public init(rules: [RetryRule], fuzz: Double = 0.1) throws(RetryConfigurationError) {
        guard fuzz.isFinite, fuzz >= 0, fuzz < 1 else { throw .invalidFuzz }
        var table = DestinationPatternTable<RetryRule>()
        for rule in rules {
            try rule.validate()
            guard table.insert(rule, for: rule.pattern) else { throw .duplicatePattern(rule.pattern) }
        }
        guard let fallback = table.fallback else { throw .missingDefaultRule }
        self.fuzz = fuzz
        self.rules = rules
        self.table = table
        self.fallback = fallback
    }

    /// The rule for `destination`: an exact match, else the longest `*.suffix` match, else
    /// the default.
    public func rule(for destination: String) -> RetryRule {
        table.value(for: destination) ?? fallback
    }

    /// When `destination`, failing since `firstFailure`, is tried next: its rule's schedule
    /// with fuzz applied to the wait from `now`. Always after `now` (by at least a
    /// microsecond) unless `now` is the largest instant.
    public func nextTry(
        destination: String, firstFailure: Timestamp, now: Timestamp, using random: inout some RandomNumberGenerator
    ) -> Timestamp {
        nextTry(rule: rule(for: destination), firstFailure: firstFailure, now: now, using: &random)
    }

    /// The fate of a recipient whose delivery to `destination` just failed temporarily.
    ///
    /// - `now` at or after `messageArrival + lifetime`: ``RetryDecision/expire``.
    /// - otherwise a retry at the destination's next try (``nextTry(destination:firstFailure:now:using:)``),
    ///   brought forward to the expiry time when it would fall after it, so the last try
    ///   happens just as the lifetime ends; and `warn` is true when the rule has a warning
    ///   time, it has passed, and `delayWarned` is false.
    public func decide(
        destination: String, firstFailure: Timestamp, messageArrival: Timestamp, now: Timestamp,
        delayWarned: Bool, using random: inout some RandomNumberGenerator
    ) -> RetryDecision {
        let rule = rule(for: destination)
        let expiresAt = messageArrival + rule.lifetime
        guard now < expiresAt else { return .expire }
        let next = min(nextTry(rule: rule, firstFailure: firstFailure, now: now, using: &random), expiresAt)
        let warn = !delayWarned && rule.warnAfter.map { now >= messageArrival + $0 } == true
        return .retry(at: next, warn: warn, expiresAt: expiresAt)
    }

    private func nextTry(
        rule: RetryRule, firstFailure: Timestamp, now: Timestamp, using random: inout some RandomNumberGenerator
    ) -> Timestamp {
        let elapsed = now.microseconds(since: firstFailure)
        let offset = rule.schedule.nextOffset(after: elapsed, using: &random)
        let wait = offset > elapsed ? offset - elapsed : 1
        return now.adding(microseconds: fuzzed(wait, using: &random))
    }

    /// `wait` scaled by a uniform factor in `1 - fuzz ... 1 + fuzz`, at least 1 µs. Draws
    /// once, and only when `fuzz` is not zero.
    private func fuzzed(_ wait: UInt64, using random: inout some RandomNumberGenerator) -> UInt64 {
        guard fuzz > 0 else { return wait }
        let factor = 1 + fuzz * (2 * random.unitInterval() - 1)
        let scaled = Double(wait) * factor
        return scaled >= 0x1p64 ? .max : max(UInt64(scaled), 1)
    }
}
