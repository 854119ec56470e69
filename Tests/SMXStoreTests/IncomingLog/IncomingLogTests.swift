import Testing
import Synchronization
import SMXStore
import SMXTestSupport

@Suite struct IncomingLogTests {
    static let queueID = QueueID(bytes: Array(repeating: 7, count: 16))

    static func configuration(_ directories: [String] = ["/q/ibdb"], segmentSize: Int = 16 * 1024) -> IncomingLog.Configuration {
        var c = IncomingLog.Configuration(queueID: queueID, directories: directories)
        c.segmentSize = segmentSize
        c.maxBatchBytes = 4096
        c.maxPendingBytes = 32 * 1024
        return c
    }

    static func transaction(_ id: UInt64, seed: UInt64 = 1) -> IncomingTransaction {
        var rng = SplitMix64(seed: seed &+ id)
        return TransactionGenerator.transaction(id: EnvelopeID(id), rng: &rng)
    }

    @Test func committedTransactionsSurviveReopenWithTheirOutcomes() async throws {
        let fs = SimulatedFileSystem()
        let log = try IncomingLog.open(fileSystem: fs, configuration: Self.configuration())
        let a = Self.transaction(1), b = Self.transaction(2), c = Self.transaction(3)
        try await log.commit([.transaction(a), .transaction(b)])
        try await log.commit(.transaction(c))
        try await log.commit(.outcome(a.envelopeID, recipient: 0, .delivered, reply: "250 ok"))
        try await log.commit(.closed(b.envelopeID, .completed))
        log.close()

        let reopened = try IncomingLog.open(fileSystem: fs.crash(mode: .dropAllUnsynced, seed: 1), configuration: Self.configuration())
        defer { reopened.close() }
        var expectedA = a
        expectedA.recipients[0].state = .delivered
        #expect(reopened.openTransactions() == [expectedA, c])
        #expect(reopened.recovery.records == 5)
        #expect(reopened.recovery.corruption.isEmpty)
    }

    @Test func commitsAreValidatedAgainstTheOpenTransactions() async throws {
        let log = try IncomingLog.open(fileSystem: SimulatedFileSystem(), configuration: Self.configuration())
        defer { log.close() }
        let a = Self.transaction(1)
        try await log.commit(.transaction(a))
        await #expect(throws: StoreError.self) { try await log.commit(.transaction(a)) }
        await #expect(throws: StoreError.self) { try await log.commit(.closed(EnvelopeID(99), .completed)) }
        await #expect(throws: StoreError.self) { try await log.commit(.outcome(a.envelopeID, recipient: 99, .delivered, reply: "")) }
        try await log.commit(.outcome(a.envelopeID, recipient: 0, .delivered, reply: ""))
        await #expect(throws: StoreError.self) { try await log.commit(.outcome(a.envelopeID, recipient: 0, .delivered, reply: "")) }
        await #expect(throws: StoreError.self) { try await log.commit(.carriedForward(a)) }
        var huge = Self.transaction(5)
        huge.sender = String(repeating: "x", count: 20_000)
        await #expect(throws: StoreError.self) { try await log.commit(.transaction(huge)) }
    }

    @Test func concurrentCommitsShareSyncs() async throws {
        let fs = SimulatedFileSystem()
        fs.syncDelayMicroseconds = 200
        let log = try IncomingLog.open(fileSystem: fs, configuration: Self.configuration(segmentSize: 256 * 1024))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<64 {
                group.addTask { try await log.commit(.transaction(Self.transaction(UInt64(i) + 1))) }
            }
            try await group.waitForAll()
        }
        let stats = log.statistics.directories[0]
        log.close()
        #expect(stats.records == 64)
        #expect(stats.batches < 32, "64 concurrent commits took \(stats.batches) batches")
        #expect(stats.largestBatch > 1)
    }

    @Test func theLogStaysBoundedBySealingRecyclingAndCarryingForward() async throws {
        let fs = SimulatedFileSystem()
        var config = Self.configuration(segmentSize: 8192)
        config.targetSegmentsPerDirectory = 3
        let log = try IncomingLog.open(fileSystem: fs, configuration: config)
        // One transaction in a hundred stays open for the whole run, pinning the segment it
        // was written to; thousands come and go around them.
        var lingering: [IncomingTransaction] = []
        for id in UInt64(1)...3000 {
            let t = Self.transaction(id)
            try await log.commit(.transaction(t))
            if id % 100 == 1 {
                lingering.append(t)
            } else {
                try await log.commit(.closed(t.envelopeID, .completed))
            }
        }
        // Read after close: closing joins the preparer thread, which may still be making a
        // slot (its file is there before it is counted).
        log.close()
        let stats = log.statistics.directories[0]
        #expect(stats.recycledSegments > 50)
        #expect(stats.handOffs > 5)
        #expect(stats.createdSegments <= 8, "segment files grew to \(stats.createdSegments)")
        let segments = try fs.listDirectory("/q/ibdb")
        #expect(segments.count == stats.createdSegments)
        let reopened = try IncomingLog.open(fileSystem: fs.crash(mode: .dropAllUnsynced, seed: 2), configuration: config)
        defer { reopened.close() }
        #expect(reopened.openTransactions() == lingering)
        #expect(reopened.recovery.corruption.isEmpty)
    }

    @Test func aHandOffHandlerReceivesTheOldestSegmentsTransactions() async throws {
        let received = Mutex<[EnvelopeID]>([])
        var config = Self.configuration(segmentSize: 8192)
        config.targetSegmentsPerDirectory = 2
        config.handOff = .handler { transactions in
            received.withLock { $0 += transactions.map(\.envelopeID) }
        }
        let log = try IncomingLog.open(fileSystem: SimulatedFileSystem(), configuration: config)
        defer { log.close() }
        try await log.commit(.transaction(Self.transaction(1)))
        for id in UInt64(2)...400 {
            try await log.commit(.transaction(Self.transaction(id)))
            try await log.commit(.closed(EnvelopeID(id), .completed))
        }
        for _ in 0..<100 where received.withLock({ $0.isEmpty }) {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(received.withLock { $0 }.contains(EnvelopeID(1)))
    }

    @Test func severalDirectoriesReplayInCommitOrder() async throws {
        let fs = SimulatedFileSystem()
        let config = Self.configuration(["/d1/ibdb", "/d2/ibdb", "/d3/ibdb"])
        let log = try IncomingLog.open(fileSystem: fs, configuration: config)
        var committed: [LogRecord] = []
        for id in UInt64(1)...60 {
            let t = Self.transaction(id)
            try await log.commit(.transaction(t))
            committed.append(.transaction(t))
            if id % 3 == 0 {
                try await log.commit(.closed(EnvelopeID(id - 1), .movedToDeferred))
                committed.append(.closed(EnvelopeID(id - 1), .movedToDeferred))
            }
        }
        let spread = Set(log.statistics.directories.map { $0.records > 0 })
        log.close()
        #expect(spread == [true])
        let replay = try IncomingLog.replay(fileSystem: fs, directories: config.directories, queueID: Self.queueID)
        #expect(replay.records.map(\.record) == committed)
        #expect(replay.records.map(\.sequence) == replay.records.map(\.sequence).sorted())
        #expect(Set(replay.records.map(\.directory)) == [0, 1, 2])
        let reopened = try IncomingLog.open(fileSystem: fs, configuration: config)
        defer { reopened.close() }
        #expect(reopened.openTransactions().count == 40)
        try await reopened.commit(.closed(EnvelopeID(1), .completed))
        #expect(reopened.transaction(EnvelopeID(1)) == nil)
    }

    @Test func backPressureBoundsPendingBytes() async throws {
        let fs = SimulatedFileSystem()
        fs.syncDelayMicroseconds = 2000
        var config = Self.configuration(segmentSize: 1 << 20)
        config.maxPendingBytes = 4096
        let log = try IncomingLog.open(fileSystem: fs, configuration: config)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<200 {
                group.addTask { try await log.commit(.transaction(Self.transaction(UInt64(i) + 1))) }
            }
            try await group.waitForAll()
        }
        let stats = log.statistics.directories[0]
        log.close()
        #expect(stats.records == 200)
        #expect(stats.backPressureWaits > 0)
        #expect(stats.bytes / stats.batches <= 4096 + 1024)
    }

    @Test func aForeignQueuesSegmentIsNotRead() async throws {
        let fs = SimulatedFileSystem()
        let log = try IncomingLog.open(fileSystem: fs, configuration: Self.configuration())
        try await log.commit(.transaction(Self.transaction(1)))
        log.close()
        var other = Self.configuration()
        other.queueID = QueueID(bytes: Array(repeating: 9, count: 16))
        let reporter = CollectingCorruptionReporter()
        let foreign = try IncomingLog.open(fileSystem: fs, configuration: other, reporter: reporter)
        defer { foreign.close() }
        #expect(foreign.openTransactions().isEmpty)
        #expect(reporter.reports.count == 1)
    }
}
