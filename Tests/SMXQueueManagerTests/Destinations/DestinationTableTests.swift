import SMXQueueManager
import SMXTestSupport
import Testing

@Suite struct DestinationTableTests {
    static let t0 = Timestamp(secondsSinceEpoch: 1_800_000_000)

    static func hop(_ name: String) -> NextHop { NextHop(name)! }

    /// Starts a job, expecting the table to allow it.
    static func start(_ table: inout DestinationTable, _ hop: NextHop, now: Timestamp, sourceLocation: SourceLocation = #_sourceLocation) {
        let started = table.started(hop, now: now)
        #expect(started, "\(hop) did not start", sourceLocation: sourceLocation)
    }

    @Test func limitsFollowPatternPrecedence() throws {
        let limits = try DestinationLimits(default: 10, overrides: [.subdomains(of: "example.com"): 4, .exact("mx.example.com"): 2])
        #expect(limits.limit(for: Self.hop("mx.example.com:2525")) == 2)
        #expect(limits.limit(for: Self.hop("a.example.com")) == 4)
        #expect(limits.limit(for: Self.hop("example.com")) == 10)
        #expect(try DestinationLimits().limit(for: Self.hop("x.example")) == DestinationLimits.defaultLimit)
        #expect(throws: DeliveryConfigurationError.self) { try DestinationLimits(default: 0) }
        #expect(throws: DeliveryConfigurationError.self) { try DestinationLimits(overrides: [.exact("a.example"): 0]) }
        #expect(throws: DeliveryConfigurationError.duplicatePattern(.any)) { try DestinationLimits(overrides: [.any: 3]) }
        #expect(throws: DeliveryConfigurationError.duplicatePattern(.exact("a.example"))) {
            try DestinationLimits(overrides: [.exact("A.example"): 3, .exact("a.example"): 4])
        }
        #expect(throws: DeliveryConfigurationError.self) {
            try DestinationTable(policy: RetryPolicy(rules: [.eximDefault()]), limits: limits, capacity: 0)
        }
    }

    @Test func concurrencyStopsAtTheLimit() throws {
        var table = try DestinationTable(policy: RetryPolicy(rules: [.eximDefault()]), limits: DestinationLimits(default: 3))
        var random = SplitMix64(seed: 1)
        let hop = Self.hop("example.com")
        for _ in 0..<3 { Self.start(&table, hop, now: Self.t0) }
        #expect(!table.canStart(hop, now: Self.t0))
        let refused = table.started(hop, now: Self.t0)
        #expect(!refused)
        #expect(table.state(of: hop)?.inFlight == 3)
        table.finished(hop, outcome: .connected, now: Self.t0, using: &random)
        #expect(table.canStart(hop, now: Self.t0))
        #expect(table.verify() == [])
    }

    /// The seed's "Next Retry Time": once a destination fails, nothing starts before the
    /// policy's next try, whichever message asks; then one probe at a time; a connection
    /// ends the run of failures.
    @Test func retryGatingFollowsThePolicy() throws {
        let policy = try RetryPolicy(rules: [.eximDefault()], fuzz: 0)
        var table = try DestinationTable(policy: policy, limits: DestinationLimits(default: 5))
        var random = SplitMix64(seed: 1)
        let hop = Self.hop("mx.example.com:25")
        Self.start(&table, hop, now: Self.t0)
        Self.start(&table, hop, now: Self.t0)
        table.finished(hop, outcome: .failed, now: Self.t0 + .seconds(30), using: &random)
        // Exim's default: every 15 minutes from the first failure.
        let first = Self.t0 + .seconds(30)
        #expect(table.nextRetry(hop) == first + .minutes(15))
        #expect(!table.canStart(hop, now: first + .minutes(14)))
        // The job still in flight fails too: same run, the grid does not move.
        table.finished(hop, outcome: .failed, now: first + .minutes(1), using: &random)
        var state = try #require(table.state(of: hop))
        #expect(state.firstFailure == first && state.consecutiveFailures == 2 && state.nextRetry == first + .minutes(15))
        #expect(!table.canStart(hop, now: first + .minutes(15) - .microseconds(1)))
        Self.start(&table, hop, now: first + .minutes(15))
        #expect(!table.canStart(hop, now: first + .minutes(15)))  // one probe at a time
        table.finished(hop, outcome: .failed, now: first + .minutes(16), using: &random)
        #expect(table.nextRetry(hop) == first + .minutes(30))
        // Two hours in, the geometric step: the next try is an hour after the 2h point.
        Self.start(&table, hop, now: first + .hours(2))
        table.finished(hop, outcome: .failed, now: first + .hours(2), using: &random)
        #expect(table.nextRetry(hop) == policy.nextTry(destination: "mx.example.com", firstFailure: first, now: first + .hours(2), using: &random))
        #expect(table.nextRetry(hop) == first + .hours(3))
        Self.start(&table, hop, now: first + .hours(3))
        table.finished(hop, outcome: .connected, now: first + .hours(3), using: &random)
        state = try #require(table.state(of: hop))
        #expect(!state.isFailing && state.consecutiveFailures == 0 && state.nextRetry == nil && state.lastAttempt == first + .hours(3))
        for _ in 0..<5 { Self.start(&table, hop, now: first + .hours(3)) }
        #expect(table.verify() == [])
    }

    @Test func markUpOpensTheGate() throws {
        var table = try DestinationTable(policy: RetryPolicy(rules: [.qmailRemote()]), limits: DestinationLimits())
        var random = SplitMix64(seed: 2)
        let hop = Self.hop("example.org")
        table.markUp(hop)
        #expect(table.state(of: hop) == nil)
        Self.start(&table, hop, now: Self.t0)
        table.finished(hop, outcome: .failed, now: Self.t0, using: &random)
        #expect(!table.canStart(hop, now: Self.t0 + .minutes(1)))
        table.markUp(hop)
        #expect(table.canStart(hop, now: Self.t0 + .minutes(1)) && table.nextRetry(hop) == nil)
        #expect(table.verify() == [])
    }

    @Test func oneOffDestinationsDoNotGrowTheTable() throws {
        let rule = RetryRule(.any, schedule: .steps([.fixed(.minutes(10), until: .hours(1))]), lifetime: .hours(6))
        var table = try DestinationTable(policy: RetryPolicy(rules: [rule]), limits: DestinationLimits(), capacity: 100)
        var random = SplitMix64(seed: 3)
        var now = Self.t0
        // Held: ten with a job in flight, ten down.
        let busy = (0..<10).map { Self.hop("busy\($0).example") }
        let down = (0..<10).map { Self.hop("down\($0).example") }
        for hop in busy + down { Self.start(&table, hop, now: now) }
        for hop in down { table.finished(hop, outcome: .failed, now: now, using: &random) }
        for i in 0..<10_000 {
            let hop = Self.hop("once\(i).example")
            Self.start(&table, hop, now: now)
            table.finished(hop, outcome: .connected, now: now, using: &random)
            #expect(table.count <= 100)
            if i % 500 == 0 { #expect(table.verify() == []) }
        }
        #expect((busy + down).allSatisfy { table.state(of: $0) != nil })
        // A table full of held destinations grows past its capacity rather than forget one.
        var small = try DestinationTable(policy: RetryPolicy(rules: [rule]), limits: DestinationLimits(), capacity: 5)
        for hop in busy { Self.start(&small, hop, now: now) }
        #expect(small.count == 10 && small.verify() == [])
        // Down destinations nothing has tried for the rule's lifetime go first.
        now = now + .hours(6)
        let fresh = Self.hop("fresh.example")
        Self.start(&table, fresh, now: now)
        #expect(table.state(of: down[0]) == nil && table.state(of: down[1]) != nil)
        #expect(busy.allSatisfy { table.state(of: $0) != nil })
        #expect(table.verify() == [])
    }

    /// A random walk of starts, finishes, time steps and mark-ups against a plain model:
    /// the table agrees with the model after every step, its invariants hold, and it only
    /// forgets what the model says may be forgotten.
    @Test(arguments: 0..<8 as Range<UInt64>)
    func agreesWithAModel(seed: UInt64) throws {
        struct Model {
            var limit: Int
            var inFlight = 0
            var lastAttempt: Timestamp?
            var firstFailure: Timestamp?
            var failures = 0
            var nextRetry: Timestamp?

            func canStart(now: Timestamp) -> Bool {
                guard let nextRetry else { return inFlight < limit }
                return now >= nextRetry && inFlight == 0
            }
        }
        let rule = RetryRule(
            .any, schedule: .steps([.fixed(.minutes(10), until: .hours(1)), .random(minimum: .minutes(5), maximum: .minutes(40), until: .hours(4))]),
            lifetime: .hours(5)
        )
        let policy = try RetryPolicy(rules: [rule], fuzz: 0.1)
        let limits = try DestinationLimits(default: 3, overrides: [.subdomains(of: "slow.example"): 1, .exact("big.example"): 6])
        let capacity = 6
        var table = try DestinationTable(policy: policy, limits: limits, capacity: capacity)
        let hops = ["a.example", "b.example", "c.example:2525", "big.example", "x.slow.example", "y.slow.example"]
            + (0..<8).map { "one\($0).example" }
        var random = SplitMix64(seed: seed)
        var model: [NextHop: Model] = [:]
        var now = Self.t0
        var starts = 0, failures = 0, forgotten = 0
        for step in 0..<3_000 {
            let hop = Self.hop(hops[random.below(hops.count)])
            switch random.below(100) {
            case 0..<45:
                let expected = model[hop]?.canStart(now: now) ?? true
                #expect(table.canStart(hop, now: now) == expected)
                let started = table.started(hop, now: now)
                #expect(started == expected, "step \(step) seed \(seed)")
                if expected {
                    starts += 1
                    model[hop, default: Model(limit: limits.limit(for: hop))].inFlight += 1
                    model[hop]?.lastAttempt = now
                }
            case 45..<80:
                guard let busy = model.filter({ $0.value.inFlight > 0 }).keys.sorted(by: { $0.name < $1.name }).randomElement(using: &random) else { break }
                var entry = model[busy]!
                entry.inFlight -= 1
                if random.below(5) < 2 {
                    failures += 1
                    let first = entry.firstFailure ?? now
                    var copy = random
                    entry.firstFailure = first
                    entry.failures += 1
                    entry.nextRetry = policy.nextTry(destination: busy.host, firstFailure: first, now: now, using: &copy)
                    table.finished(busy, outcome: .failed, now: now, using: &random)
                } else {
                    (entry.firstFailure, entry.failures, entry.nextRetry) = (nil, 0, nil)
                    table.finished(busy, outcome: .connected, now: now, using: &random)
                }
                model[busy] = entry
            case 80..<97:
                now = now + .seconds(Int64(random.below(3_600)))
            default:
                if model[hop] != nil { (model[hop]!.firstFailure, model[hop]!.failures, model[hop]!.nextRetry) = (nil, 0, nil) }
                table.markUp(hop)
            }
            #expect(table.verify() == [], "step \(step) seed \(seed)")
            for (hop, entry) in model {
                guard let state = table.state(of: hop) else {
                    // Forgotten: only idle, and healthy or stale.
                    let stale = entry.nextRetry.map { now >= $0 && now >= entry.lastAttempt! + rule.lifetime } ?? false
                    #expect(entry.inFlight == 0 && (entry.firstFailure == nil || stale), "\(hop) forgotten at step \(step) seed \(seed)")
                    model[hop] = nil
                    forgotten += 1
                    continue
                }
                #expect(state.limit == entry.limit && state.inFlight == entry.inFlight && state.lastAttempt == entry.lastAttempt)
                #expect(state.firstFailure == entry.firstFailure && state.consecutiveFailures == entry.failures && state.nextRetry == entry.nextRetry)
                #expect(table.nextRetry(hop) == entry.nextRetry)
            }
            #expect(table.count == model.count)
            if table.count > capacity {
                #expect(!model.values.contains { $0.inFlight == 0 && $0.firstFailure == nil })
            }
        }
        // The walk went where it should.
        #expect(starts > 500 && failures > 100 && forgotten > 20)
    }
}
