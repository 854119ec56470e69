import Foundation
import Testing
import SMXStore
import SMXTestSupport

/// The B+tree file's redo journal: what an open does with a torn last commit, damage
/// before a later commit, commits spanning frames, and what a read-only open sees.
@Suite struct BTreeJournalTests {
    /// Checkpoints only when asked: every commit stays in the journal.
    static func configuration() -> BTreeFile.Configuration {
        var c = BTreeFileTests.configuration()
        c.checkpointJournalBytes = 1 << 30
        c.checkpointPages = 1 << 30
        return c
    }

    static let journalPath = BTreeJournal.path(for: "/q/defedb/queue.db")

    /// Offsets of the commit frames in a journal image.
    static func frameOffsets(_ bytes: [UInt8], generation: UInt64) -> [Int] {
        var offsets: [Int] = []
        var offset = 64
        bytes.withUnsafeBytes { p in
            while case .record(let frame) = RecordFrame.decode(p, at: offset, seed: generation) {
                offsets.append(offset)
                offset = frame.nextOffset
            }
        }
        return offsets
    }

    /// Three commits, synced, never checkpointed: the file system after a crash.
    static func threeCommits() throws -> SimulatedFileSystem {
        let fs = SimulatedFileSystem()
        let file = try BTreeFile.open(fileSystem: fs, configuration: configuration())
        for commit in 0..<3 {
            try file.write { txn in
                for i in 0..<50 { try txn.put(Array("c\(commit)-\(i)".utf8), Array(repeating: UInt8(commit), count: 40), in: "t") }
            }
        }
        #expect(file.checkpointNumber == 1)
        return fs.crash(mode: .dropAllUnsynced, seed: 7)
    }

    @Test func commitsSinceTheCheckpointAreReplayedAtOpen() throws {
        let fs = try Self.threeCommits()
        let file = try BTreeFile.open(fileSystem: fs, configuration: Self.configuration())
        defer { file.close() }
        #expect(file.verify().isClean)
        let snapshot = try file.snapshot()
        #expect(try snapshot.count("t") == 150)
        #expect(try snapshot.get(Array("c2-49".utf8), in: "t") == Array(repeating: 2, count: 40))
        snapshot.close()
        // The open checkpointed what it replayed and started a fresh journal.
        #expect(file.checkpointNumber == 2)
        #expect(Self.frameOffsets(fs.currentContents(Self.journalPath)!, generation: 2).isEmpty)
    }

    @Test func aTornLastCommitIsDroppedAndTheOthersReplay() throws {
        let fs = try Self.threeCommits()
        let journal = fs.currentContents(Self.journalPath)!
        let offsets = Self.frameOffsets(journal, generation: 1)
        #expect(offsets.count == 3)
        fs.overwriteDurably(Self.journalPath, at: offsets[2] + 100, with: Array(repeating: 0xA5, count: 64))
        let file = try BTreeFile.open(fileSystem: fs, configuration: Self.configuration())
        defer { file.close() }
        #expect(file.verify().isClean)
        let snapshot = try file.snapshot()
        #expect(try snapshot.count("t") == 100)
        #expect(try snapshot.get(Array("c2-0".utf8), in: "t") == nil)
        snapshot.close()
        try file.write { txn in try txn.put([1], [1], in: "t") }
    }

    @Test func damageBeforeALaterCommitRefusesToOpenAndNamesTheJournal() throws {
        let fs = try Self.threeCommits()
        let journal = fs.currentContents(Self.journalPath)!
        let offsets = Self.frameOffsets(journal, generation: 1)
        fs.overwriteDurably(Self.journalPath, at: offsets[1] + 40, with: [journal[offsets[1] + 40] ^ 0x01])
        do {
            _ = try BTreeFile.open(fileSystem: fs, configuration: Self.configuration())
            Issue.record("opened a journal missing an acknowledged commit")
        } catch let error as StoreError {
            #expect(error.code == .corrupted)
            #expect(error.path == Self.journalPath)
            #expect(error.message.contains("commit 3"), "\(error.message)")
        }
    }

    @Test func aMissingJournalIsAnError() throws {
        let fs = try Self.threeCommits()
        try fs.removeFile(Self.journalPath)
        #expect(throws: StoreError.self) { _ = try BTreeFile.open(fileSystem: fs, configuration: Self.configuration()) }
    }

    @Test func aCommitLargerThanOneFrameSpansSeveral() throws {
        let fs = SimulatedFileSystem()
        let file = try BTreeFile.open(fileSystem: fs, configuration: Self.configuration())
        let big = (0..<3).map { i in Array(repeating: UInt8(i + 1), count: 3 << 20) }
        try file.write { txn in
            for (i, value) in big.enumerated() { try txn.put([UInt8(i)], value, in: "large") }
        }
        #expect(Self.frameOffsets(fs.currentContents(Self.journalPath)!, generation: 1).count == 3)
        let crashed = fs.crash(mode: .dropAllUnsynced, seed: 3)
        let reopened = try BTreeFile.open(fileSystem: crashed, configuration: Self.configuration())
        defer { reopened.close() }
        #expect(reopened.verify().isClean)
        let snapshot = try reopened.snapshot()
        for (i, value) in big.enumerated() { #expect(try snapshot.get([UInt8(i)], in: "large") == value) }
        snapshot.close()
        #expect(throws: StoreError.self) {
            try reopened.write { txn in try txn.put([9], Array(repeating: 0, count: BTreeJournal.maxValueSize + 1), in: "large") }
        }
    }

    @Test func aReadOnlyOpenSeesTheLastCommitAndTakesNoWrites() throws {
        let fs = SimulatedFileSystem()
        let writer = try BTreeFile.open(fileSystem: fs, configuration: Self.configuration())
        defer { writer.close() }
        try writer.write { txn in for i in 0..<200 { try txn.put(Array("k\(i)".utf8), [1], in: "t") } }
        try writer.checkpoint()
        try writer.write { txn in
            for i in 0..<100 { try txn.delete(Array("k\(i)".utf8), in: "t") }
            try txn.put(Array("new".utf8), [2], in: "t")
        }
        var configuration = Self.configuration()
        configuration.readOnly = true
        let reader = try BTreeFile.open(fileSystem: fs, configuration: configuration)
        defer { reader.close() }
        let snapshot = try reader.snapshot()
        #expect(try snapshot.count("t") == 101)
        #expect(try snapshot.get(Array("new".utf8), in: "t") == [2])
        #expect(try snapshot.get(Array("k5".utf8), in: "t") == nil)
        snapshot.close()
        #expect(throws: StoreError.self) { try reader.write { txn in try txn.put([1], [1], in: "t") } }
        #expect(throws: StoreError.self) { try reader.checkpoint() }
    }

    @Test func operationsRoundTripAndHostilePayloadsAreErrors() throws {
        var writer = ByteWriter()
        writer.u8(1)
        writer.lengthPrefixed(Array("tree".utf8))
        writer.lengthPrefixed([1, 2, 3])
        writer.lengthPrefixed([4, 5])
        writer.u8(2)
        writer.lengthPrefixed(Array("other".utf8))
        writer.lengthPrefixed([9])
        let operations = try BTreeJournal.decodeOperations(writer.bytes[...])
        #expect(operations == [.put(tree: "tree", key: [1, 2, 3], value: [4, 5]), .delete(tree: "other", key: [9])])
        // Every prefix but the whole and the first operation's end is truncated.
        for cut in 1..<writer.bytes.count where cut != 13 {
            #expect(throws: StoreError.self, "cut at \(cut)") { try BTreeJournal.decodeOperations(writer.bytes[..<cut]) }
        }
        #expect(throws: StoreError.self) { try BTreeJournal.decodeOperations([3, 1, 0x41, 0][...]) }
        #expect(throws: StoreError.self) { try BTreeJournal.decodeOperations([2, 0, 0][...]) }
        #expect(throws: StoreError.self) { try BTreeJournal.decodeOperations([2, 1, 0xFF, 0][...]) }
    }

    // MARK: Payload written ahead (WriteTransaction.streamChunk)

    /// Puts enough in one transaction that its payload is written ahead in several chunks.
    static func largeTransaction(_ txn: WriteTransaction, tag: UInt8) throws {
        for i in 0..<1500 { try txn.put(Array("big-\(i)".utf8), Array(repeating: tag, count: 200), in: "t") }
    }

    static func contents(_ file: BTreeFile) throws -> [[UInt8]: [UInt8]] {
        let snapshot = try file.snapshot()
        defer { snapshot.close() }
        return Dictionary(uniqueKeysWithValues: try BTreeFileTests.scan(snapshot, "t"))
    }

    /// A commit whose payload was written ahead while it ran is one frame, and replays.
    @Test func aCommitWrittenAheadIsOneFrameAndReplays() throws {
        let fs = SimulatedFileSystem()
        let file = try BTreeFile.open(fileSystem: fs, configuration: Self.configuration())
        try file.write { txn in try Self.largeTransaction(txn, tag: 1) }
        let expected = try Self.contents(file)
        #expect(Self.frameOffsets(fs.currentContents(Self.journalPath)!, generation: 1).count == 1)
        let reopened = try BTreeFile.open(fileSystem: fs.crash(mode: .dropAllUnsynced, seed: 1), configuration: Self.configuration())
        defer { reopened.close() }
        #expect(reopened.verify().isClean)
        #expect(try Self.contents(reopened) == expected)
    }

    /// A crash while a large commit waits for its sync (the sync fails; the crash tears,
    /// keeps or drops what was written ahead): the reopened file holds the commit before.
    @Test(arguments: CrashMode.allCases)
    func aCrashBeforeAWrittenAheadCommitIsSyncedLeavesThePreviousState(mode: CrashMode) throws {
        for seed in UInt64(0)..<8 {
            let fs = SimulatedFileSystem()
            let file = try BTreeFile.open(fileSystem: fs, configuration: Self.configuration())
            try file.write { txn in for i in 0..<40 { try txn.put(Array("small-\(i)".utf8), [7], in: "t") } }
            let expected = try Self.contents(file)
            fs.injectFault(FaultRule(kinds: [.sync], errno: EIO, times: 1))
            #expect(throws: StoreError.self) { try file.write { txn in try Self.largeTransaction(txn, tag: 2) } }
            let reopened = try BTreeFile.open(fileSystem: fs.crash(mode: mode, seed: seed), configuration: Self.configuration())
            #expect(reopened.verify().isClean, "seed \(seed)")
            #expect(try Self.contents(reopened) == expected, "seed \(seed)")
            reopened.close()
        }
    }

    struct Abort: Error {}

    /// A transaction that wrote its payload ahead and then threw is no commit: the next
    /// commit goes where it would have, and a crash after it keeps exactly the commits.
    @Test(arguments: CrashMode.allCases)
    func anAbortedTransactionWrittenAheadIsNoCommit(mode: CrashMode) throws {
        for seed in UInt64(0)..<8 {
            let fs = SimulatedFileSystem()
            let file = try BTreeFile.open(fileSystem: fs, configuration: Self.configuration())
            try file.write { txn in for i in 0..<40 { try txn.put(Array("small-\(i)".utf8), [7], in: "t") } }
            #expect(throws: Abort.self) {
                try file.write { txn in
                    try Self.largeTransaction(txn, tag: 3)
                    throw Abort()
                }
            }
            try file.write { txn in try txn.put(Array("after".utf8), [8], in: "t") }
            let expected = try Self.contents(file)
            #expect(expected[Array("big-0".utf8)] == nil)
            let reopened = try BTreeFile.open(fileSystem: fs.crash(mode: mode, seed: seed), configuration: Self.configuration())
            #expect(reopened.verify().isClean, "seed \(seed)")
            #expect(try Self.contents(reopened) == expected, "seed \(seed)")
            reopened.close()
        }
    }

    /// A failed write ahead fails the transaction and the file refuses writes (rule 6).
    @Test func aFailedWriteAheadPoisonsTheFile() throws {
        let fs = SimulatedFileSystem()
        let file = try BTreeFile.open(fileSystem: fs, configuration: Self.configuration())
        defer { file.close() }
        try file.write { txn in try txn.put([1], [1], in: "t") }
        fs.injectFault(FaultRule(kinds: [.write], errno: EIO, times: 1) { $0.path == Self.journalPath })
        do {
            try file.write { txn in try Self.largeTransaction(txn, tag: 4) }
            Issue.record("a transaction whose write ahead failed committed")
        } catch let error as StoreError {
            #expect(error.code == .io)
        }
        BTreeFileTests.expectRefusesWrites(file)
        #expect(try file.snapshot().get([1], in: "t") == [1])
    }
}

/// Read-only opens against a writer committing and checkpointing at the same time, on the
/// real file system: every open sees one committed state whole (a prefix of the commits),
/// read partly before and mostly after the writer's next checkpoints (which reuse freed
/// pages: only the reader table keeps the reader's intact), and `verify()` is clean on it.
@Suite struct BTreeLiveReaderTests {
    static let keys = 3000

    /// The keys commit `i` rewrites (with a value naming `i`).
    static func written(by i: Int) -> [Int] {
        (0..<12).map { (i &* 7919 &+ $0 &* 104_729) % keys }
    }

    static func value(_ i: Int) -> [UInt8] { Array("\(i)".utf8) + Array(repeating: UInt8(i & 0xFF), count: 200) }

    @Test func readOnlyOpensDuringCommitsAndCheckpointsSeeWholeCommits() async throws {
        var template = Array("/tmp/smx-live-reader-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        let directory = String(cString: try #require(made))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fs = POSIXFileSystem()
        var configuration = BTreeFile.Configuration(queueID: BTreeFileTests.queueID, path: directory + "/defedb/queue.db")
        configuration.growthPages = 64
        configuration.checkpointPages = 1 << 20
        configuration.checkpointJournalBytes = 16 << 10
        configuration.journalGrowthBytes = 64 << 10
        let writer = try BTreeFile.open(fileSystem: fs, configuration: configuration)
        defer { writer.close() }
        try writer.write { txn in
            for j in 0..<Self.keys { try txn.put(Array("k\(j)".utf8), Self.value(0), in: "t") }
            try txn.put(Array("n".utf8), Array("0".utf8), in: "t")
        }
        try writer.checkpoint()
        var readOnly = configuration
        readOnly.readOnly = true
        let commits = 800
        let writing = Task.detached {
            for i in 1...commits {
                try writer.write { txn in
                    try txn.put(Array("n".utf8), Array("\(i)".utf8), in: "t")
                    for j in Self.written(by: i) { try txn.put(Array("k\(j)".utf8), Self.value(i), in: "t") }
                }
            }
        }
        var opens = 0
        var problems: [String] = []
        while true {
            let reader = try BTreeFile.open(fileSystem: fs, configuration: readOnly)
            let snapshot = try reader.snapshot()
            let n = try snapshot.get(Array("n".utf8), in: "t").map { Int(String(decoding: $0, as: UTF8.self)) ?? -1 } ?? -1
            // Hold the view while the writer checkpoints and reuses pages; read the rest
            // from the file afterwards.
            usleep(40_000)
            var expected = [Int](repeating: 0, count: Self.keys)
            if n > 0 { for i in 1...n { for j in Self.written(by: i) { expected[j] = i } } }
            var wrong = 0
            for j in 0..<Self.keys where try snapshot.get(Array("k\(j)".utf8), in: "t") != Self.value(expected[j]) { wrong += 1 }
            if wrong > 0 { problems.append("open \(opens) at commit \(n): \(wrong) keys wrong") }
            snapshot.close()
            let verification = reader.verify()
            if !verification.isClean { problems.append("open \(opens) at commit \(n): \(verification.problems.prefix(2))") }
            reader.close()
            opens += 1
            if n == commits || problems.count > 5 { break }
        }
        try await writing.value
        print("defedb live readers: \(opens) read-only opens during \(commits) commits and \(writer.checkpointNumber - 2) checkpoints")
        #expect(problems.isEmpty, "\(problems)")
        #expect(opens > 3, "\(opens) read-only opens while the writer ran")
        #expect(writer.checkpointNumber > 10)
    }
}
