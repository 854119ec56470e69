import SMXQueueManager
import SMXStore
import SMXTestSupport
import Testing

/// A seeded random workload over ``ActiveQueue`` and ``FillPlanner`` together, as the queue
/// manager will drive them: mail arrives, deferred recipients fall due, fills follow the
/// plan, the resolver and agents answer (sometimes late), and cleanup takes out what waited
/// too long. A plain model (a dictionary) shadows the queue; after every step the queue
/// must verify, match the model, and after every fill the fairness rules must hold.
@Suite struct ActiveQueueModelTests {
    struct ModelEntry: Equatable {
        var source: ActiveQueueEntry.Source
        var state: ActiveQueueEntry.State
        var since: Timestamp
        var job: DeliveryJob.ID?
    }

    struct Statistics {
        var fills = 0
        var reserveFills = 0
        /// Fills after which deferred entries were due and slots free, but the maximum held
        /// them back.
        var maximumBinding = 0
        var expired = 0
        var lateResults = 0
        var slackFills = 0
    }

    static let resolverTimeout = Duration.seconds(300)
    static let agentTimeout = Duration.seconds(900)
    static let hops = ["a.example", "b.example", "c.example"].compactMap { NextHop($0) }

    @Test(arguments: [(UInt64(1), 40, 30, 0.10, 0.70, 4), (2, 1, 0, 0.10, 0.70, 1), (3, 2, 1, 0.10, 0.70, 1), (4, 10, 7, 0.10, 0.70, 3), (5, 100, 60, 0.20, 0.50, 25), (6, 25, 10, 0.0, 0.3, 15), (7, 50, 30, 0.3, 0.3, 20), (8, 12, 6, 0.25, 1.0, 2)])
    func randomWorkloadKeepsTheRules(seed: UInt64, capacity: Int, lowWatermark: Int, reserve: Double, maximum: Double, batch: Int) throws {
        let configuration = try ActiveQueueConfiguration(
            capacity: capacity, lowWatermark: lowWatermark, deferredReserve: reserve, deferredMaximum: maximum, minimumBatch: batch)
        let stats = try Self.run(configuration: configuration, seed: seed, steps: 6_000)
        // The workload reached every rule (else the checks above prove little).
        #expect(stats.fills > 100)
        #expect(stats.expired > 10 && stats.lateResults > 10)
        if configuration.reservedDeferred > 0 { #expect(stats.reserveFills >= 3) }
        if configuration.maximumDeferred < configuration.capacity { #expect(stats.maximumBinding >= 3) }
        if configuration.maximumDeferred > configuration.reservedDeferred { #expect(stats.slackFills >= 3) }
    }

    enum Action: CaseIterable {
        case arrive, fill, resolve, dispatch, result, lateResult, tick, cleanup
    }

    /// The workload changes character every 400 steps, so that every rule is exercised:
    /// a flood of new mail (the reserve must hold against it), a deferred backlog with no
    /// new mail (the maximum must hold), slow agents and resolvers (timeouts, late results).
    enum Mode: CaseIterable {
        case normal, flood, backlog, slowAgents
    }

    static func mode(_ step: Int) -> Mode { Mode.allCases[step / 400 % Mode.allCases.count] }

    static func action(step: Int, using random: inout SplitMix64) -> Action {
        let weights: [Action: Int] =
            switch mode(step) {
            case .normal: [.arrive: 2, .fill: 3, .resolve: 2, .dispatch: 1, .result: 2, .lateResult: 1, .tick: 1, .cleanup: 1]
            case .flood: [.arrive: 6, .fill: 3, .resolve: 3, .dispatch: 2, .result: 3, .lateResult: 1, .tick: 1, .cleanup: 1]
            case .backlog: [.arrive: 0, .fill: 3, .resolve: 3, .dispatch: 2, .result: 3, .lateResult: 1, .tick: 2, .cleanup: 1]
            case .slowAgents: [.arrive: 2, .fill: 2, .resolve: 1, .dispatch: 2, .result: 0, .lateResult: 2, .tick: 2, .cleanup: 2]
            }
        var pick = random.below(weights.values.reduce(0, +))
        for action in Action.allCases {
            pick -= weights[action] ?? 0
            if pick < 0 { return action }
        }
        return .tick
    }

    static func run(configuration: ActiveQueueConfiguration, seed: UInt64, steps: Int) throws -> Statistics {
        var random = SplitMix64(seed: seed)
        var queue = ActiveQueue(configuration: configuration)
        let planner = FillPlanner(configuration: configuration)
        var model: [RecipientID: ModelEntry] = [:]
        var incoming: [RecipientID] = []  // FIFO
        var deferredQueue: [RecipientID: Timestamp] = [:]  // recipient -> next try
        var now = Timestamp(secondsSinceEpoch: 1_800_000_000)
        var nextEnvelope: UInt64 = 1
        var nextJob: UInt64 = 1
        var oldJobs: [(RecipientID, DeliveryJob.ID)] = []
        var stats = Statistics()
        // A restart: the deferred queue holds a backlog, all due.
        for n in 0..<(3 * configuration.capacity) {
            deferredQueue[RecipientID(EnvelopeID(nextEnvelope), UInt32(n))] = now
        }
        nextEnvelope += 1

        func due() -> [RecipientID] {
            deferredQueue.filter { $0.value <= now }.sorted { $0.value != $1.value ? $0.value < $1.value : $0.key < $1.key }.map(\.key)
        }
        func ids(in state: ActiveQueueEntry.State) -> [RecipientID] {
            model.filter { $0.value.state == state }.keys.sorted()
        }

        for step in 0..<steps {
            let context = "seed \(seed) step \(step)"
            switch Self.action(step: step, using: &random) {
            case .arrive:  // mail arrives: one envelope with 1 ... 4 recipients
                guard incoming.count < 2 * configuration.capacity + 4 else { break }
                for index in 0..<(1 + random.below(4)) { incoming.append(RecipientID(EnvelopeID(nextEnvelope), UInt32(index))) }
                nextEnvelope += 1
            case .fill:  // a fill, when the planner says so
                let i0 = queue.count(from: .incoming), d0 = queue.count(from: .deferred)
                let dueNow = due()
                let known = random.below(4) != 0
                let plan = planner.plan(for: queue, waitingIncoming: incoming.count, dueDeferred: known ? dueNow.count : (dueNow.isEmpty ? 0 : .max))
                if known {
                    let broken = FillPlannerTests.brokenRules(plan, configuration, incoming: i0, deferred: d0, waitingIncoming: incoming.count, dueDeferred: dueNow.count)
                    #expect(broken == [], "\(context): \(plan)")
                }
                if i0 + d0 > configuration.lowWatermark { #expect(plan == .none, "\(context)") }
                let moved = Array(incoming.prefix(plan.incoming))
                incoming.removeFirst(moved.count)
                for id in moved {
                    try queue.admit(id, from: .incoming, now: now)
                    model[id] = ModelEntry(source: .incoming, state: .awaitingResolution, since: now)
                }
                let popped = dueNow.prefix(plan.deferred)
                for id in popped {  // popDue may give fewer than planned
                    deferredQueue[id] = nil
                    try queue.admit(id, from: .deferred, now: now)
                    model[id] = ModelEntry(source: .deferred, state: .awaitingResolution, since: now)
                }
                let d1 = queue.count(from: .deferred)
                #expect(d1 <= configuration.maximumDeferred, "\(context): deferred share over the maximum")
                #expect(queue.count <= configuration.capacity, "\(context)")
                if plan.total > 0 {
                    stats.fills += 1
                    if dueNow.count >= configuration.reservedDeferred - d0 {
                        #expect(d1 >= configuration.reservedDeferred, "\(context): reserve not reached")
                    }
                    if d0 < configuration.reservedDeferred, d1 > d0, !incoming.isEmpty { stats.reserveFills += 1 }
                    if d1 == configuration.maximumDeferred, queue.freeSlots > 0, dueNow.count > popped.count { stats.maximumBinding += 1 }
                    if plan.deferred > 0, d0 >= configuration.reservedDeferred { stats.slackFills += 1 }
                }
            case .resolve:  // the resolver answers, or fails, for a few recipients
                for id in ids(in: .awaitingResolution).shuffled(using: &random).prefix(1 + random.below(1 + configuration.capacity / 8)) {
                if random.below(8) == 0 {
                    #expect(queue.remove(id) != nil)
                    model[id] = nil
                    deferredQueue[id] = now + .seconds(Int64(random.below(600)))
                } else {
                    let hop = hops[random.below(hops.count)]
                    try queue.resolved(id, deliveryClass: .smtp, nextHop: hop, now: now)
                    model[id]?.state = .awaitingJob
                    model[id]?.since = now
                }
                }
            case .dispatch:  // a job takes some resolved recipients
                let ready = ids(in: .awaitingJob)
                guard !ready.isEmpty else { break }
                let chosen = Array(ready.shuffled(using: &random).prefix(1 + random.below(3 + configuration.capacity / 8)))
                let job = DeliveryJob.ID(nextJob)
                nextJob += 1
                try queue.dispatched(chosen, job: job, now: now)
                for id in chosen {
                    model[id]?.state = .atAgent
                    model[id]?.since = now
                    model[id]?.job = job
                }
            case .result:  // agents' results: delivered, or deferred
                for id in ids(in: .atAgent).shuffled(using: &random).prefix(1 + random.below(1 + configuration.capacity / 8)) {
                guard let job = model[id]?.job else { continue }
                let entry = try queue.finished(id, job: job)
                #expect(entry.source == model[id]?.source, "\(context)")
                model[id] = nil
                if random.below(4) == 0 { deferredQueue[id] = now + .seconds(Int64(random.below(900))) }
                }
            case .lateResult:  // a late result of a job that timed out
                guard let (id, job) = oldJobs.randomElement(using: &random) else { break }
                let before = queue.entry(id)
                do {
                    try queue.finished(id, job: job)
                    Issue.record("\(context): a late result of job \(job) took out \(id)")
                } catch {
                    if model[id] == nil {
                        #expect(error == .unknownRecipient(id), "\(context)")
                    } else {
                        #expect(error == .wrongState(id, model[id]?.state ?? .atAgent), "\(context)")
                    }
                }
                #expect(queue.entry(id) == before, "\(context)")
                stats.lateResults += 1
            case .tick:  // time passes
                now = now + .seconds(Int64(1 + random.below(Self.mode(step) == .backlog ? 600 : 90)))
            case .cleanup:  // cleanup: what waited too long goes to the deferred queue
                let expired = queue.expired(now: now, resolverTimeout: resolverTimeout, agentTimeout: agentTimeout)
                let expected = model.filter { _, entry in
                    switch entry.state {
                    case .awaitingResolution: now >= entry.since + resolverTimeout
                    case .atAgent: now >= entry.since + agentTimeout
                    case .awaitingJob: false
                    }
                }
                #expect(Set(expired.map(\.id)) == Set(expected.keys), "\(context)")
                #expect(expired.map(\.since) == expired.map(\.since).sorted(), "\(context)")
                let nextExpiry = queue.nextExpiry(resolverTimeout: resolverTimeout, agentTimeout: agentTimeout)
                if expired.isEmpty { #expect(nextExpiry.map { $0 > now } ?? true, "\(context)") }
                // Exactly the model's earliest deadline (the heaps' tops are never stale).
                let earliest = model.values.compactMap { entry -> Timestamp? in
                    switch entry.state {
                    case .awaitingResolution: entry.since + resolverTimeout
                    case .atAgent: entry.since + agentTimeout
                    case .awaitingJob: nil
                    }
                }.min()
                #expect(nextExpiry == earliest, "\(context)")
                for entry in expired {
                    if let job = entry.job { oldJobs.append((entry.id, job)) }
                    #expect(queue.remove(entry.id) == entry, "\(context)")
                    model[entry.id] = nil
                    deferredQueue[entry.id] = now + .seconds(Int64(random.below(300)))
                    stats.expired += 1
                }
            }
            // A recipient is in the queue once.
            if step % 16 == 0, let someone = model.keys.first {
                #expect(throws: ActiveQueueError.duplicate(someone)) { try queue.admit(someone, from: .deferred, now: now) }
            }
            #expect(queue.verify() == [], "\(context)")
            var matches = queue.count == model.count
            var expectedCounts = [Int](repeating: 0, count: 6)
            for (id, expected) in model {
                expectedCounts[expected.source.rawValue * 3 + expected.state.rawValue] += 1
                guard let entry = queue.entry(id) else {
                    matches = false
                    continue
                }
                if entry.source != expected.source || entry.state != expected.state || entry.since != expected.since || entry.job != expected.job {
                    matches = false
                }
            }
            #expect(matches, "\(context): the queue and the model differ")
            var counts: [Int] = []
            for source in ActiveQueueEntry.Source.allCases {
                for state in ActiveQueueEntry.State.allCases { counts.append(queue.count(from: source, in: state)) }
            }
            #expect(counts == expectedCounts, "\(context)")
        }
        return stats
    }
}
