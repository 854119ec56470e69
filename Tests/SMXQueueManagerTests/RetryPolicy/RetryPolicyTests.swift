import SMXQueueManager
import SMXTestSupport
import Testing

@Suite struct RetryPolicyTests {
    static let t0 = Timestamp(secondsSinceEpoch: 1_800_000_000)

    static func waitSeconds(_ decision: RetryDecision, from now: Timestamp) -> Double? {
        guard case .retry(let at, _, _) = decision else { return nil }
        return Double(at.microsecondsSinceEpoch - now.microsecondsSinceEpoch) / 1e6
    }

    @Test func fuzzStaysWithinItsFractionAndReplaysPerSeed() throws {
        let policy = try RetryPolicy(rules: [RetryRule(.any, schedule: .steps([.fixed(.minutes(15), until: .days(1))]), lifetime: .days(5))], fuzz: 0.1)
        func draws(seed: UInt64) -> [Timestamp] {
            var random = SplitMix64(seed: seed)
            return (0..<10_000).map { _ in policy.nextTry(destination: "example.com", firstFailure: Self.t0, now: Self.t0, using: &random) }
        }
        let first = draws(seed: 42)
        let waits = first.map { Double($0.microsecondsSinceEpoch - Self.t0.microsecondsSinceEpoch) / 1e6 }
        #expect(waits.allSatisfy { (810.0...990.0).contains($0) })
        // Spread over the range, not stuck at one end.
        #expect(waits.min()! < 820 && waits.max()! > 980)
        #expect(draws(seed: 42) == first)
        #expect(draws(seed: 43) != first)
    }

    @Test func noFuzzMeansTheExactSchedule() throws {
        let policy = try RetryPolicy(rules: [.qmailRemote()], fuzz: 0)
        var random = SplitMix64(seed: 1)
        let now = Self.t0 + .seconds(500)
        #expect(policy.nextTry(destination: "x", firstFailure: Self.t0, now: now, using: &random) == Self.t0 + .seconds(1_764))
    }

    @Test func expiryAndTheDelayWarning() throws {
        let policy = try RetryPolicy(rules: [.eximDefault()], fuzz: 0)
        var random = SplitMix64(seed: 1)
        let arrival = Self.t0
        func decide(after elapsed: Duration, warned: Bool = false, firstFailure: Timestamp = Self.t0) -> RetryDecision {
            policy.decide(
                destination: "example.com", firstFailure: firstFailure, messageArrival: arrival,
                now: arrival + elapsed, delayWarned: warned, using: &random
            )
        }
        let expiresAt = arrival + .days(4)
        #expect(decide(after: .minutes(20)) == .retry(at: arrival + .minutes(30), warn: false, expiresAt: expiresAt))
        // Warned once the warning time has passed, and only while not yet warned.
        #expect(decide(after: .hours(23)).isWarning == false)
        #expect(decide(after: .hours(24)).isWarning == true)
        #expect(decide(after: .hours(25), warned: true).isWarning == false)
        // The last try is brought forward to the expiry time.
        #expect(decide(after: .days(4) - .minutes(1)) == .retry(at: expiresAt, warn: true, expiresAt: expiresAt))
        #expect(decide(after: .days(4)) == .expire)
        #expect(decide(after: .days(9), warned: true) == .expire)
        // Lifetime counts from the message's arrival, the schedule from the destination's
        // first failure (here a day before the message came).
        // 25 hours after it the grid's next point is 1726.875 minutes, 286.875 after arrival.
        #expect(decide(after: .hours(1), firstFailure: arrival - .days(1))
            == .retry(at: arrival + .minutes(286) + .seconds(52) + .milliseconds(500), warn: false, expiresAt: expiresAt))
    }

    @Test func aClockGoingBackwardsDoesNotTrap() throws {
        let policy = try RetryPolicy(rules: [.courierDefault()], fuzz: 0.5)
        var random = SplitMix64(seed: 9)
        let before = Self.t0 - .hours(1)
        let decision = policy.decide(destination: "a", firstFailure: Self.t0, messageArrival: Self.t0, now: before, delayWarned: false, using: &random)
        guard case .retry(let at, let warn, _) = decision else { Issue.record("expected a retry"); return }
        #expect(at > before && !warn)
    }

    @Test func mostSpecificPatternWins() throws {
        let policy = try RetryPolicy(rules: [
            .qmailRemote(.any),
            .courierDefault(.subdomains(of: "Example.COM")),
            .qmailLocal(.subdomains(of: "mx.example.com")),
            .eximDefault(.exact("mx.example.com.")),
        ])
        #expect(policy.rule(for: "elsewhere.org").schedule == .qmailRemote)
        #expect(policy.rule(for: "example.com").schedule == .qmailRemote)
        #expect(policy.rule(for: "a.example.com").schedule == .courierDefault)
        #expect(policy.rule(for: "A.B.EXAMPLE.com.").schedule == .courierDefault)
        #expect(policy.rule(for: "MX.example.com").schedule == .eximDefault)
        #expect(policy.rule(for: "in.mx.example.com").schedule == .qmailLocal)
        #expect(policy.rule(for: "notexample.com").schedule == .qmailRemote)
        #expect(policy.rule(for: "").schedule == .qmailRemote)
    }

    @Test func badConfigurationsAreRejected() {
        #expect(throws: RetryConfigurationError.missingDefaultRule) { try RetryPolicy(rules: [.qmailRemote(.exact("a"))]) }
        #expect(throws: RetryConfigurationError.duplicatePattern(.exact("A."))) {
            try RetryPolicy(rules: [.qmailRemote(), .qmailLocal(.exact("a")), .courierDefault(.exact("A."))])
        }
        #expect(throws: RetryConfigurationError.duplicatePattern(.any)) { try RetryPolicy(rules: [.qmailRemote(), .qmailLocal()]) }
        #expect(throws: RetryConfigurationError.emptyPattern) { try RetryPolicy(rules: [.qmailRemote(), .qmailLocal(.subdomains(of: "."))]) }
        #expect(throws: RetryConfigurationError.invalidFuzz) { try RetryPolicy(rules: [.qmailRemote()], fuzz: 1) }
        #expect(throws: RetryConfigurationError.invalidFuzz) { try RetryPolicy(rules: [.qmailRemote()], fuzz: -0.1) }
        #expect(throws: RetryConfigurationError.invalidLifetime) {
            try RetryPolicy(rules: [RetryRule(.any, schedule: .qmailRemote, lifetime: .zero)])
        }
    }
}

extension RetryDecision {
    var isWarning: Bool {
        if case .retry(_, let warn, _) = self { return warn }
        return false
    }
}
