import Testing
import SMXStore
import SMXTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Rule 6 (a failed sync is final) and full devices.
@Suite struct IncomingLogFaultTests {
    static let config = IncomingLogTests.configuration()

    @Test func eioOnFdatasyncFailsTheBatchAndEverythingAfterUntilReopen() async throws {
        let fs = SimulatedFileSystem()
        fs.syncDelayMicroseconds = 300
        let log = try IncomingLog.open(fileSystem: fs, configuration: Self.config)
        var acknowledged: [IncomingTransaction] = []
        for id in UInt64(1)...20 {
            let t = IncomingLogTests.transaction(id)
            try await log.commit(.transaction(t))
            acknowledged.append(t)
        }
        fs.injectFault(FaultRule(kinds: [.sync], errno: EIO, after: 0, times: 1) { $0.path.hasSuffix("segment-0000.log") })
        let results = await withTaskGroup(of: Bool.self) { group in
            for id in UInt64(100)..<116 {
                group.addTask {
                    (try? await log.commit(.transaction(IncomingLogTests.transaction(id)))) != nil
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.allSatisfy { !$0 }, "a commit was acknowledged although its sync failed")
        // The fault fired once; the store still refuses: a retried sync is never trusted.
        do {
            try await log.commit(.transaction(IncomingLogTests.transaction(500)))
            Issue.record("a commit after a failed sync succeeded")
        } catch let error as StoreError {
            #expect(error.code == .poisoned)
        }
        log.close()
        let reopened = try IncomingLog.open(fileSystem: fs.crash(mode: .dropAllUnsynced, seed: 3), configuration: Self.config)
        defer { reopened.close() }
        let open = reopened.openTransactions()
        for t in acknowledged { #expect(open.contains(t)) }
        try await reopened.commit(.transaction(IncomingLogTests.transaction(600)))
    }

    @Test func eioOnWriteFailsCleanly() async throws {
        let fs = SimulatedFileSystem()
        let log = try IncomingLog.open(fileSystem: fs, configuration: Self.config)
        try await log.commit(.transaction(IncomingLogTests.transaction(1)))
        // Only the current segment: the preparer may be writing the next one meanwhile.
        fs.injectFault(FaultRule(kinds: [.write], errno: EIO, after: 0, times: 1) { $0.path.hasSuffix("segment-0000.log") })
        await #expect(throws: StoreError.self) { try await log.commit(.transaction(IncomingLogTests.transaction(2))) }
        log.close()
        let reopened = try IncomingLog.open(fileSystem: fs, configuration: Self.config)
        defer { reopened.close() }
        #expect(reopened.openTransactions().map(\.envelopeID) == [EnvelopeID(1)])
    }

    @Test func enospcWhenAllocatingASegmentIsAClearErrorAndCorruptsNothing() async throws {
        let fs = SimulatedFileSystem()
        var config = IncomingLogTests.configuration(segmentSize: 8192)
        config.handOff = .none
        let log = try IncomingLog.open(fileSystem: fs, configuration: config)
        fs.injectFault(FaultRule(kinds: [.allocate], errno: ENOSPC, after: 0, times: nil))
        var acknowledged: [IncomingTransaction] = []
        var failure: StoreError?
        for id in UInt64(1)...200 {
            let t = IncomingLogTests.transaction(id)
            do {
                try await log.commit(.transaction(t))
                acknowledged.append(t)
            } catch let error as StoreError {
                failure = error
                break
            }
        }
        #expect(failure?.code == .noSpace, "\(String(describing: failure))")
        #expect(!acknowledged.isEmpty)
        log.close()
        fs.removeAllFaults()
        let reporter = CollectingCorruptionReporter()
        let reopened = try IncomingLog.open(fileSystem: fs, configuration: config, reporter: reporter)
        defer { reopened.close() }
        #expect(reporter.reports.isEmpty)
        #expect(reopened.openTransactions() == acknowledged)
        try await reopened.commit(.transaction(IncomingLogTests.transaction(1000)))
    }

    @Test func enospcOnAppendIsAClearError() async throws {
        let fs = SimulatedFileSystem()
        let log = try IncomingLog.open(fileSystem: fs, configuration: Self.config)
        try await log.commit(.transaction(IncomingLogTests.transaction(1)))
        fs.injectFault(FaultRule(kinds: [.write], errno: ENOSPC, after: 0, times: 1) { $0.path.hasSuffix("segment-0000.log") })
        do {
            try await log.commit(.transaction(IncomingLogTests.transaction(2)))
            Issue.record("append on a full device succeeded")
        } catch let error as StoreError {
            #expect(error.code == .noSpace)
        }
        log.close()
        let reporter = CollectingCorruptionReporter()
        let reopened = try IncomingLog.open(fileSystem: fs, configuration: Self.config, reporter: reporter)
        defer { reopened.close() }
        #expect(reporter.reports.isEmpty)
        #expect(reopened.openTransactions().map(\.envelopeID) == [EnvelopeID(1)])
    }

    @Test func aFullLogRefusesNewTransactionsButTakesClosesAndOutcomes() async throws {
        let fs = SimulatedFileSystem()
        var config = IncomingLogTests.configuration(segmentSize: 8192)
        config.maxSegmentsPerDirectory = 3
        config.targetSegmentsPerDirectory = 2
        config.handOff = .none
        let log = try IncomingLog.open(fileSystem: fs, configuration: config)
        defer { log.close() }
        var open: [EnvelopeID] = []
        var refused: StoreError?
        for id in UInt64(1)...500 {
            do {
                try await log.commit(.transaction(IncomingLogTests.transaction(id)))
                open.append(EnvelopeID(id))
            } catch let error as StoreError {
                refused = error
                break
            }
        }
        #expect(refused?.code == .noSpace)
        for id in open.prefix(5) {
            try await log.commit(.outcome(id, recipient: 0, .delivered, reply: "250 ok"))
            try await log.commit(.closed(id, .completed))
        }
    }
}
