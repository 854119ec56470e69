import SMXQueueManager
import Testing

@Suite struct FillPlannerTests {
    static func planner(
        capacity: Int, lowWatermark: Int? = nil, reserve: Double = 0.10, maximum: Double = 0.70, batch: Int? = nil
    ) throws -> FillPlanner {
        try FillPlanner(
            configuration: ActiveQueueConfiguration(
                capacity: capacity, lowWatermark: lowWatermark, deferredReserve: reserve, deferredMaximum: maximum, minimumBatch: batch))
    }

    /// Every rule of ``FillPlanner``, as a check of one plan against its inputs; returns the
    /// rules broken. `dueDeferred` is the exact count here.
    static func brokenRules(
        _ plan: FillPlan, _ configuration: ActiveQueueConfiguration, incoming i: Int, deferred d: Int, waitingIncoming wI: Int, dueDeferred wD: Int
    ) -> [String] {
        let c = configuration.capacity, r = configuration.reservedDeferred, m = configuration.maximumDeferred, b = configuration.minimumBatch
        var broken: [String] = []
        guard i + d <= configuration.lowWatermark else {
            return plan == .none ? [] : ["filled above the low watermark"]
        }
        let free = c - i - d
        let room = max(0, m - d)
        if plan.incoming < 0 || plan.deferred < 0 { broken.append("negative take") }
        if plan.incoming > wI || plan.deferred > wD { broken.append("took more than waits") }
        if plan.total > free { broken.append("over capacity") }
        if d + plan.deferred > m { broken.append("deferred over the maximum") }
        if wD >= r - d, d + plan.deferred < r { broken.append("reserve not reached") }
        if plan.incoming != min(wI, free - plan.deferred) { broken.append("incoming left slots unused") }
        if plan.deferred != min(wD, room, free - plan.incoming) { broken.append("deferred left slack unused") }
        // Deferred entries displace incoming ones only for the reserve and a whole batch.
        if plan.deferred > min(wD, room, free - min(wI, free)), plan.deferred > max(r - d, b) { broken.append("deferred displaced incoming") }
        if plan.deferred > 0, plan.deferred < min(b, wD, room, free) { broken.append("deferred read below the batch") }
        return broken
    }

    /// All small configurations and inputs, checked against every rule.
    @Test func everySmallInputKeepsEveryRule() throws {
        var checked = 0
        var reserveMattered = 0
        var batchMattered = 0
        for capacity in 1...7 {
            for lowWatermark in 0..<capacity {
                for (reserve, maximum) in [(0.10, 0.70), (0.0, 0.5), (0.3, 0.3), (0.5, 1.0), (0.0, 0.01)] {
                    for batch in 1...(capacity - lowWatermark) {
                        guard
                            let configuration = try? ActiveQueueConfiguration(
                                capacity: capacity, lowWatermark: lowWatermark, deferredReserve: reserve, deferredMaximum: maximum, minimumBatch: batch)
                        else { continue }
                        let planner = FillPlanner(configuration: configuration)
                        for incoming in 0...capacity {
                            for deferred in 0...(capacity - incoming) where deferred <= configuration.maximumDeferred {
                                for waiting in 0...(capacity + 1) {
                                    for due in 0...(capacity + 1) {
                                        let plan = planner.plan(incomingInQueue: incoming, deferredInQueue: deferred, waitingIncoming: waiting, dueDeferred: due)
                                        let broken = Self.brokenRules(plan, configuration, incoming: incoming, deferred: deferred, waitingIncoming: waiting, dueDeferred: due)
                                        #expect(broken == [], "\(configuration) i=\(incoming) d=\(deferred) wI=\(waiting) wD=\(due): \(plan)")
                                        checked += 1
                                        if plan.deferred > 0, waiting > plan.incoming { reserveMattered += 1 }
                                        if plan.deferred == batch, batch > configuration.reservedDeferred - deferred, waiting > plan.incoming { batchMattered += 1 }
                                        // An unknown due count ("some are due") plans the same bounds.
                                        if due > 0 {
                                            let unknown = planner.plan(incomingInQueue: incoming, deferredInQueue: deferred, waitingIncoming: waiting, dueDeferred: .max)
                                            #expect(unknown.deferred >= plan.deferred && deferred + unknown.deferred <= configuration.maximumDeferred)
                                            #expect(unknown.total <= capacity - incoming - deferred)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        #expect(checked > 100_000)
        #expect(reserveMattered > 1_000 && batchMattered > 100)
    }

    /// The seed's example: under load, incoming mail first, the deferred queue in large
    /// batches, and never more than its maximum.
    @Test func busyQueueFillsInBatches() throws {
        let planner = try Self.planner(capacity: 1_000, lowWatermark: 700, batch: 100)
        // Nothing while above the watermark, whatever waits.
        #expect(planner.plan(incomingInQueue: 600, deferredInQueue: 101, waitingIncoming: 5_000, dueDeferred: 5_000) == .none)
        // At it: 300 free. 50 deferred inside, 100 reserved: a whole batch of 100 first,
        // the rest to incoming.
        #expect(planner.plan(incomingInQueue: 650, deferredInQueue: 50, waitingIncoming: 5_000, dueDeferred: 5_000) == FillPlan(incoming: 200, deferred: 100))
        // The reserve is met: incoming takes everything.
        #expect(planner.plan(incomingInQueue: 500, deferredInQueue: 200, waitingIncoming: 5_000, dueDeferred: 5_000) == FillPlan(incoming: 300, deferred: 0))
        // Few incoming: the deferred queue uses the slack, up to 700 in all.
        #expect(planner.plan(incomingInQueue: 100, deferredInQueue: 600, waitingIncoming: 20, dueDeferred: 5_000) == FillPlan(incoming: 20, deferred: 100))
        #expect(planner.plan(incomingInQueue: 0, deferredInQueue: 0, waitingIncoming: 0, dueDeferred: 5_000) == FillPlan(incoming: 0, deferred: 700))
        // Only incoming mail: all of the free slots.
        #expect(planner.plan(incomingInQueue: 0, deferredInQueue: 0, waitingIncoming: 5_000, dueDeferred: 0) == FillPlan(incoming: 1_000, deferred: 0))
        // Fewer due than reserved: all of them.
        #expect(planner.plan(incomingInQueue: 0, deferredInQueue: 0, waitingIncoming: 5_000, dueDeferred: 30) == FillPlan(incoming: 970, deferred: 30))
        // Nothing waits anywhere.
        #expect(planner.plan(incomingInQueue: 0, deferredInQueue: 0, waitingIncoming: 0, dueDeferred: 0) == .none)
        // Negative counts count as zero.
        #expect(planner.plan(incomingInQueue: -3, deferredInQueue: -1, waitingIncoming: -5, dueDeferred: 10) == FillPlan(incoming: 0, deferred: 10))
    }

    @Test func zeroDueGivesIncomingEverything() throws {
        let planner = try Self.planner(capacity: 100)
        #expect(planner.configuration.reservedDeferred == 10)
        let plan = planner.plan(incomingInQueue: 10, deferredInQueue: 0, waitingIncoming: 1_000, dueDeferred: 0)
        #expect(plan == FillPlan(incoming: 90, deferred: 0))
    }

    /// One slot cannot be shared: incoming mail goes first, a deferred entry when no
    /// incoming mail waits, and nothing while the slot is taken.
    @Test func capacityOne() throws {
        let planner = try Self.planner(capacity: 1)
        #expect(planner.plan(incomingInQueue: 0, deferredInQueue: 0, waitingIncoming: 3, dueDeferred: 3) == FillPlan(incoming: 1, deferred: 0))
        #expect(planner.plan(incomingInQueue: 0, deferredInQueue: 0, waitingIncoming: 0, dueDeferred: 3) == FillPlan(incoming: 0, deferred: 1))
        #expect(planner.plan(incomingInQueue: 1, deferredInQueue: 0, waitingIncoming: 3, dueDeferred: 3) == .none)
        #expect(planner.plan(incomingInQueue: 0, deferredInQueue: 1, waitingIncoming: 3, dueDeferred: 3) == .none)
    }

    @Test func planForAQueueReadsItsCounts() throws {
        let configuration = try ActiveQueueConfiguration(capacity: 10, lowWatermark: 5, minimumBatch: 2)
        var queue = ActiveQueue(configuration: configuration)
        let t0 = Timestamp(secondsSinceEpoch: 1_800_000_000)
        for n in 0..<4 { try queue.admit(ActiveQueueTests.id(UInt64(n)), from: .incoming, now: t0) }
        try queue.admit(ActiveQueueTests.id(10), from: .deferred, now: t0)
        let planner = FillPlanner(configuration: configuration)
        #expect(planner.plan(for: queue, waitingIncoming: 10, dueDeferred: 10) == planner.plan(incomingInQueue: 4, deferredInQueue: 1, waitingIncoming: 10, dueDeferred: 10))
        #expect(planner.plan(for: queue, waitingIncoming: 10, dueDeferred: 10) == FillPlan(incoming: 5, deferred: 0))
    }
}
