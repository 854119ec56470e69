import Testing
import SMXQueueManager
import SMXStore
import SMXTestSupport

/// The first-level scheduler under load: a flood of new mail and a deferred backlog due at
/// once share the active queue per the reserve and the maximum (the seed's fairness
/// between IQDB and DEFEDB), and the loop does nothing while nothing is due.
@Suite(.timeLimit(.minutes(2))) struct QueueManagerFairnessTests {
    @Test func aFloodAndADueBacklogShareTheActiveQueueByTheReserveAndTheMaximum() async throws {
        // Capacity 20: low watermark 15, 2 reserved for deferred entries, at most 14.
        let configuration = try QueueManagerConfiguration(
            activeQueue: ActiveQueueConfiguration(capacity: 20), destinationLimits: DestinationLimits(),
            agentTimeout: .days(1), randomSeed: 11
        )
        #expect(configuration.activeQueue.reservedDeferred == 2 && configuration.activeQueue.maximumDeferred == 14)
        let h = try await ManagerHarness.start(SimulatedFileSystem(seed: 20), configuration: configuration)
        // Every job sleeps a minute on the clock, so the counts below are exact.
        h.agent.setDelay(.minutes(1), for: "backlog.example")
        h.agent.setDelay(.minutes(1), for: "flood.example")
        h.agent.set(.down, for: "backlog.example")
        for n in 0..<60 { try await h.receive(["b\(n)@backlog.example"], size: 300, seed: UInt64(n)) }
        await h.settle(agentJobs: nil)
        await h.advance(by: .minutes(1), agentJobs: nil)
        #expect(try h.deferredRecipients().count == 60)
        #expect(await h.manager.statistics().activeQueueCount == 0)

        h.agent.set(.up, for: "backlog.example")
        for n in 0..<60 { try await h.receive(["f\(n)@flood.example"], size: 300, seed: UInt64(100 + n)) }
        await h.settle(agentJobs: nil)
        // Filled while at or below the low watermark, as the messages came.
        var statistics = await h.manager.statistics()
        let first = statistics.activeQueue[.incoming]?[.atAgent] ?? 0
        #expect(first > 15 && first <= 20 && statistics.activeQueueCount == first)
        #expect(statistics.incomingWaiting == 60 - first)

        // The backlog comes due while new recipients wait: the deferred entries get their
        // reserve, and no more while new mail waits.
        await h.advance(by: ManagerHarness.retryInterval, agentJobs: nil)
        statistics = await h.manager.statistics()
        #expect(statistics.activeQueueCount == 20)
        #expect(Self.count(statistics, .deferred) == 2)
        #expect(Self.count(statistics, .incoming) == 18)

        var sawMaximum = false
        for _ in 0..<80 {
            await h.advance(by: .minutes(1), agentJobs: nil)
            statistics = await h.manager.statistics()
            let deferred = Self.count(statistics, .deferred)
            #expect(statistics.activeQueueCount <= 20)
            #expect(deferred <= 14)
            if statistics.incomingWaiting > 0 { #expect(deferred >= 2) }
            if statistics.incomingWaiting == 0, Self.count(statistics, .incoming) == 0, (statistics.deferredQueue?.recipients ?? 0) >= 14 {
                #expect(deferred == 14)
                sawMaximum = true
            }
            if statistics.deferredQueue?.recipients == 0, statistics.incomingTransactions == 0 { break }
        }
        #expect(sawMaximum)
        statistics = await h.manager.statistics()
        #expect(statistics.totals.delivered == 120)
        #expect(statistics.deferredQueue?.recipients == 0 && statistics.references == 0)

        // Nothing due, nothing expiring: a day passes without a single pass.
        let passes = statistics.totals.passes
        #expect(await h.manager.statistics().totals.passes == passes)
        await h.advance(by: .days(1))
        #expect(await h.manager.statistics().totals.passes == passes)
        await h.stop()
    }

    static func count(_ statistics: QueueManagerStatistics, _ source: ActiveQueueEntry.Source) -> Int {
        statistics.activeQueue[source]?.values.reduce(0, +) ?? 0
    }
}
