import Testing
import SMXStore
import SMXTestSupport

/// Damage that is not a crash: bit rot and truncation inside older segments.
@Suite struct IncomingLogCorruptionTests {
    /// A log of `count` open transactions spread over several sealed segments.
    static func populatedLog(count: UInt64 = 120) async throws -> (SimulatedFileSystem, IncomingLog.Configuration, [IncomingTransaction]) {
        let fs = SimulatedFileSystem()
        var config = IncomingLogTests.configuration(segmentSize: 8192)
        config.handOff = .none
        config.quarantineDirectory = "/q/corrupt"
        let log = try IncomingLog.open(fileSystem: fs, configuration: config)
        var committed: [IncomingTransaction] = []
        for id in 1...count {
            let t = IncomingLogTests.transaction(id)
            try await log.commit(.transaction(t))
            committed.append(t)
        }
        log.close()
        return (fs, config, committed)
    }

    @Test func aFlippedByteInAnOlderSegmentIsReportedAndOnlyItsRecordIsLost() async throws {
        let (fs, config, committed) = try await Self.populatedLog()
        let replay = try IncomingLog.replay(fileSystem: fs, directories: config.directories, queueID: config.queueID)
        let segments = Set(replay.records.map(\.segmentNumber)).sorted()
        #expect(segments.count >= 3)
        let victims = replay.records.filter { $0.segmentNumber == segments[0] }
        let victim = victims[victims.count / 2]
        fs.overwriteDurably(victim.path, at: victim.offset + 30, with: [0xA5, 0x5A])

        let reporter = CollectingCorruptionReporter()
        let log = try IncomingLog.open(fileSystem: fs, configuration: config, reporter: reporter)
        defer { log.close() }
        let reports = reporter.reports
        #expect(reports.count == 1)
        #expect(reports.first?.path == victim.path)
        #expect(reports.first?.segmentNumber == segments[0])
        #expect(reports.first?.offset == victim.offset)
        #expect(reports.first?.reason.contains("checksum") == true)
        let lost = victim.record.envelopeID!
        #expect(log.openTransactions() == committed.filter { $0.envelopeID != lost })
        // The damaged bytes were kept, with a note.
        let copy = try #require(reports.first?.quarantinedTo)
        #expect(fs.currentContents(copy)?.count == reports.first?.length)
        #expect(fs.currentContents(copy.replacingSuffix(".bin", with: ".txt")) != nil)
    }

    @Test func aTruncatedOlderSegmentKeepsEverythingBeforeTheCut() async throws {
        let (fs, config, committed) = try await Self.populatedLog()
        let replay = try IncomingLog.replay(fileSystem: fs, directories: config.directories, queueID: config.queueID)
        let first = replay.records.filter { $0.segmentNumber == replay.records[0].segmentNumber }
        let cut = first[first.count / 2]
        let handle = try fs.openFile(cut.path, mode: .existing)
        try handle.truncate(to: cut.offset + 10)
        try handle.sync()
        try handle.close()

        let reporter = CollectingCorruptionReporter()
        let log = try IncomingLog.open(fileSystem: fs, configuration: config, reporter: reporter)
        defer { log.close() }
        #expect(reporter.reports.count == 1)
        #expect(reporter.reports.first?.offset == cut.offset)
        let lost = Set(first[(first.count / 2)...].map { $0.record.envelopeID! })
        #expect(log.openTransactions() == committed.filter { !lost.contains($0.envelopeID) })
    }

    @Test func damageInTheNewestSegmentBeforeLaterBatchesIsReportedNotTruncated() async throws {
        let (fs, config, committed) = try await Self.populatedLog(count: 20)
        let replay = try IncomingLog.replay(fileSystem: fs, directories: config.directories, queueID: config.queueID)
        let newest = replay.records.filter { $0.segmentNumber == replay.records.last!.segmentNumber }
        #expect(newest.count >= 3)
        let victim = newest[1]
        fs.overwriteDurably(victim.path, at: victim.offset, with: [0xFF])
        let reporter = CollectingCorruptionReporter()
        let log = try IncomingLog.open(fileSystem: fs, configuration: config, reporter: reporter)
        defer { log.close() }
        #expect(reporter.reports.map(\.offset) == [victim.offset])
        let lost = victim.record.envelopeID!
        #expect(log.openTransactions() == committed.filter { $0.envelopeID != lost })
    }

    @Test func aTornSectorIsDetectedByTheRecordChecksum() throws {
        // The simulator's tear mode against the framing: over many seeds, a torn sector in
        // an unsynced frame is either the old bytes (zeros), the new ones or garbage, and the
        // frame verifies only when every sector of it is the new bytes.
        var tornDetected = 0
        for seed in UInt64(0)..<200 {
            let fs = SimulatedFileSystem(seed: seed)
            try fs.createDirectoryDurably("/t")
            let handle = try fs.openFile("/t/f", mode: .createNew)
            try handle.allocate(offset: 0, length: 8192)
            try handle.fullSync()
            try fs.syncDirectory("/t")
            var frame: [UInt8] = []
            RecordFrame.append(to: &frame, type: 1, flags: 0, sequence: 1, payload: [UInt8](repeating: 0x33, count: 1500), seed: 77)
            try handle.write(frame, at: 256)
            let crashed = fs.crash(mode: .tear, seed: seed)
            let bytes = crashed.currentContents("/t/f")!
            let decoded = bytes.withUnsafeBytes { RecordFrame.decode($0, at: 256, seed: 77) }
            let intact = Array(bytes[256..<(256 + frame.count)]) == frame
            if intact {
                #expect(decoded != .damaged(.checksumMismatch))
            } else {
                #expect(decoded != .zeros || bytes[256..<280].allSatisfy { $0 == 0 })
                if case .record = decoded { Issue.record("seed \(seed): a torn frame verified") }
                tornDetected += 1
            }
        }
        #expect(tornDetected > 100)
    }
}

extension String {
    func replacingSuffix(_ suffix: String, with replacement: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) + replacement : self
    }
}
