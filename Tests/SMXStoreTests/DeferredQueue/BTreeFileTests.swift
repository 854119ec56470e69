import Testing
#if canImport(Glibc)
import Glibc
#endif
import SMXStore
import SMXTestSupport

@Suite struct BTreeFileTests {
    static let queueID = QueueID(bytes: Array(repeating: 0xD3, count: 16))

    static func configuration(pageSize: Int = 4096) -> BTreeFile.Configuration {
        var c = BTreeFile.Configuration(queueID: queueID, path: "/q/defedb/queue.db")
        c.pageSize = pageSize
        c.growthPages = 16
        return c
    }

    /// The whole content of `tree` through a cursor, in order.
    static func scan(_ snapshot: Snapshot, _ tree: String) throws -> [([UInt8], [UInt8])] {
        let cursor = try snapshot.cursor(tree)
        var out: [([UInt8], [UInt8])] = []
        var more = try cursor.first()
        while more {
            out.append((cursor.key!, try cursor.value()!))
            more = try cursor.next()
        }
        return out
    }

    static func expectEqual(_ file: BTreeFile, _ model: [String: [[UInt8]: [UInt8]]], _ context: String) throws {
        let snapshot = try file.snapshot()
        defer { snapshot.close() }
        for (tree, entries) in model {
            let scanned = try scan(snapshot, tree)
            let expected = entries.sorted { $0.key.lexicographicallyPrecedes($1.key) }
            #expect(scanned.count == expected.count, "\(context): \(tree) has \(scanned.count) keys, model \(expected.count)")
            #expect(scanned.map(\.0) == expected.map(\.key), "\(context): keys of \(tree)")
            #expect(scanned.map(\.1) == expected.map(\.value), "\(context): values of \(tree)")
            #expect(try snapshot.count(tree) == expected.count)
        }
    }

    /// A write to `file` fails as poisoned (ARCHITECTURE.md rule 6).
    static func expectRefusesWrites(_ file: BTreeFile, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            try file.write { txn in try txn.put([1], [1], in: "t") }
            Issue.record("a poisoned file took a write", sourceLocation: sourceLocation)
        } catch let error as StoreError {
            #expect(error.code == .poisoned, sourceLocation: sourceLocation)
        } catch {
            Issue.record("a poisoned file threw \(error)", sourceLocation: sourceLocation)
        }
    }

    static func randomKey(_ rng: inout SplitMix64) -> [UInt8] {
        // Mostly 12-byte keys over a small space (collisions: replaces and deletes hit),
        // sometimes longer or empty-ish ones.
        switch rng.below(10) {
        case 0: return rng.bytes(rng.below(40))
        default:
            var key = [UInt8](repeating: 0, count: 12)
            let n = UInt64(rng.below(3000))
            for i in 0..<8 { key[i] = UInt8(truncatingIfNeeded: n >> (56 - 8 * UInt64(i))) }
            return key
        }
    }

    static func randomValue(_ rng: inout SplitMix64) -> [UInt8] {
        switch rng.below(20) {
        case 0: return rng.bytes(1500 + rng.below(9000))  // overflow pages
        case 1: return []
        default: return rng.bytes(rng.below(200))
        }
    }

    @Test(arguments: [UInt64(1), 2, 3, 4])
    func randomOperationsMatchAModelAndVerifyAfterEveryCommit(seed: UInt64) throws {
        let fs = SimulatedFileSystem()
        var file = try BTreeFile.open(fileSystem: fs, configuration: Self.configuration())
        var model: [String: [[UInt8]: [UInt8]]] = ["recipients": [:], "nexttry": [:], "hold": [:]]
        var rng = SplitMix64(seed: seed)
        let trees = Array(model.keys).sorted()
        var operations = 0
        var commits = 0
        while operations < 25_000 {
            let batch = 1 + rng.below(rng.below(8) == 0 ? 600 : 40)
            try file.write { txn in
                for _ in 0..<batch {
                    let tree = trees[rng.below(trees.count)]
                    let key = Self.randomKey(&rng)
                    if rng.below(3) == 0 {
                        let removed = try txn.delete(key, in: tree)
                        #expect(removed == (model[tree]![key] != nil))
                        model[tree]![key] = nil
                    } else {
                        let value = Self.randomValue(&rng)
                        try txn.put(key, value, in: tree)
                        model[tree]![key] = value
                    }
                    if rng.below(50) == 0 {
                        #expect(try txn.get(key, in: tree) == model[tree]![key])
                    }
                }
            }
            operations += batch
            commits += 1
            let verification = file.verify()
            #expect(verification.isClean, "seed \(seed) commit \(commits): \(verification.problems.prefix(5))")
            if !verification.isClean { return }
            if commits % 25 == 0 {
                try Self.expectEqual(file, model, "seed \(seed) commit \(commits)")
            }
            if commits % 60 == 0 {
                // A reopen (and, every other time, a power loss after the last commit) gives
                // the same state.
                file.close()
                let image = commits % 120 == 0 ? fs.crash(mode: .dropAllUnsynced, seed: seed &+ UInt64(commits)) : fs
                file = try BTreeFile.open(fileSystem: image, configuration: Self.configuration())
                try Self.expectEqual(file, model, "seed \(seed) after reopen at commit \(commits)")
                if image !== fs {
                    // Continue on the crashed image.
                    return try continueOn(image, file: file, model: model, seed: seed)
                }
            }
        }
        try Self.expectEqual(file, model, "seed \(seed) end")
    }

    /// The rest of a random run on a crash image: deletes everything, checking as it goes.
    private func continueOn(_ fs: SimulatedFileSystem, file: BTreeFile, model: [String: [[UInt8]: [UInt8]]], seed: UInt64) throws {
        var model = model
        for tree in model.keys.sorted() {
            let keys = Array(model[tree]!.keys)
            for chunk in stride(from: 0, to: keys.count, by: 97) {
                try file.write { txn in
                    for key in keys[chunk..<min(keys.count, chunk + 97)] {
                        let removed = try txn.delete(key, in: tree)
                        #expect(removed)
                        model[tree]![key] = nil
                    }
                }
                #expect(file.verify().isClean)
            }
        }
        try Self.expectEqual(file, model, "seed \(seed) emptied")
        // Every page is free again but the freelist's own (the catalog is empty too).
        let snapshot = try file.snapshot()
        #expect(try snapshot.treeNames().isEmpty)
        snapshot.close()
        let stats = file.pageStatistics
        let perPage = (4096 - 32) / 16
        #expect(stats.pages - 2 - stats.free <= stats.free / perPage + 2, "\(stats)")
    }

    @Test func aSnapshotKeepsItsViewWhileTheWriterCommits() throws {
        let fs = SimulatedFileSystem()
        let file = try BTreeFile.open(fileSystem: fs, configuration: Self.configuration())
        try file.write { txn in
            for i in 0..<2000 { try txn.put(Array("k\(i)".utf8), Array("v\(i)".utf8), in: "t") }
        }
        let snapshot = try file.snapshot()
        let before = try Self.scan(snapshot, "t")
        var live = Set(0..<2000)
        for round in 0..<50 {
            try file.write { txn in
                for i in stride(from: round, to: 2000, by: 50) {
                    try txn.put(Array("k\(i)".utf8), Array("changed \(round)".utf8), in: "t")
                    live.insert(i)
                }
                for i in 0..<20 {
                    try txn.delete(Array("k\(round * 20 + i)".utf8), in: "t")
                    live.remove(round * 20 + i)
                }
            }
            #expect(file.verify().isClean)
        }
        #expect(try Self.scan(snapshot, "t").map(\.0) == before.map(\.0))
        #expect(try Self.scan(snapshot, "t").map(\.1) == before.map(\.1))
        #expect(try snapshot.get(Array("k5".utf8), in: "t") == Array("v5".utf8))
        snapshot.close()
        let now = try file.snapshot()
        #expect(try now.count("t") == live.count)
        now.close()
    }

    /// Point reads on borrowed pages (not retained: ``Snapshot/withValue(_:in:_:)``) in two
    /// threads, each through short-lived snapshots, while the writer commits, checkpoints
    /// often and reuses freed pages: every read sees the state of its snapshot.
    @Test func pointReadsStayCorrectWhileTheWriterReusesPages() async throws {
        let fs = SimulatedFileSystem()
        var configuration = Self.configuration()
        configuration.checkpointJournalBytes = 32 << 10
        let file = try BTreeFile.open(fileSystem: fs, configuration: configuration)
        defer { file.close() }
        let keys = 600
        // Commit i rewrites keys (i * 7 + m * 13) % keys, m < 10, with a value naming i.
        @Sendable func written(by i: Int) -> [Int] { (0..<10).map { (i * 7 + $0 * 13) % keys } }
        @Sendable func value(_ i: Int) -> [UInt8] { Array("\(i)".utf8) + Array(repeating: UInt8(i & 0xFF), count: 300) }
        try file.write { txn in
            for j in 0..<keys { try txn.put(Array("k\(j)".utf8), value(0), in: "t") }
            try txn.put(Array("n".utf8), Array("0".utf8), in: "t")
        }
        let commits = 400
        let checkpointsBefore = file.checkpointNumber
        let writer = Task.detached {
            for i in 1...commits {
                try file.write { txn in
                    try txn.put(Array("n".utf8), Array("\(i)".utf8), in: "t")
                    for j in written(by: i) { try txn.put(Array("k\(j)".utf8), value(i), in: "t") }
                }
            }
        }
        let readers = (0..<2).map { r in
            Task.detached { () throws -> Int in
                var wrong = 0
                var round = 0
                while true {
                    let snapshot = try file.snapshot()
                    defer { snapshot.close() }
                    let n = try snapshot.withValue(Array("n".utf8), in: "t") { Int(String(decoding: $0, as: UTF8.self)) ?? -1 } ?? -1
                    var latest = [Int](repeating: 0, count: keys)
                    if n > 0 { for i in 1...n { for j in written(by: i) { latest[j] = i } } }
                    for j in stride(from: (round + r) % 3, to: keys, by: 3) {
                        let got = try snapshot.withValue(Array("k\(j)".utf8), in: "t") { Array($0) }
                        if got != value(latest[j]) { wrong += 1 }
                    }
                    round += 1
                    if n == commits { return wrong }
                }
            }
        }
        try await writer.value
        for reader in readers { #expect(try await reader.value == 0) }
        #expect(file.checkpointNumber > checkpointsBefore + 5, "the writer checkpointed (and reused pages) while readers read")
        #expect(file.verify().isClean)
    }

    @Test func cursorsSeekAndWalkBothWays() throws {
        let file = try BTreeFile.open(fileSystem: SimulatedFileSystem(), configuration: Self.configuration())
        let keys = (0..<5000).map { i -> [UInt8] in
            var k = [UInt8](repeating: 0, count: 4)
            for b in 0..<4 { k[b] = UInt8(truncatingIfNeeded: (i * 2) >> (24 - 8 * b)) }
            return k
        }
        try file.write { txn in for k in keys.shuffled() { try txn.put(k, k, in: "t") } }
        let snapshot = try file.snapshot()
        defer { snapshot.close() }
        let cursor = try snapshot.cursor("t")
        // Seek to an odd key lands on the next even one.
        #expect(try cursor.seek([0, 0, 0, 7]))
        #expect(cursor.key == [0, 0, 0, 8])
        #expect(try cursor.prev())
        #expect(cursor.key == [0, 0, 0, 6])
        #expect(try cursor.last())
        #expect(cursor.key == keys.last)
        var backwards: [[UInt8]] = [cursor.key!]
        while try cursor.prev() { backwards.append(cursor.key!) }
        #expect(backwards == keys.reversed())
        #expect(try cursor.seek([0xFF]) == false)
        let empty = try snapshot.cursor("no such tree")
        #expect(try empty.first() == false)
    }

    @Test func orderedInsertsFillPages() throws {
        let file = try BTreeFile.open(fileSystem: SimulatedFileSystem(), configuration: Self.configuration())
        try file.write { txn in
            for i in 0..<20_000 {
                var k = [UInt8](repeating: 0, count: 20)
                for b in 0..<8 { k[b] = UInt8(truncatingIfNeeded: UInt64(i) >> (56 - 8 * UInt64(b))) }
                try txn.put(k, [], in: "nexttry")
            }
        }
        // 20 bytes of key + 6 of cell header + 2 of slot: about 145 per 4 KiB leaf when full.
        let pages = file.pageStatistics.pages
        #expect(pages < 20_000 / 130 + 10, "\(pages) pages for 20,000 ordered keys")
        #expect(file.verify().isClean)
    }

    /// Keys in order go straight into the rightmost leaf (no descent); mixed with keys
    /// below it, replaces, overflow values, deletes and splits in the same transactions,
    /// the trees must hold exactly the model and verify after every commit, and again after
    /// a crash and replay of the journal.
    @Test(arguments: [UInt64(5), 6, 7])
    func appendsAtTheRightEdgeMixWithEverythingElse(seed: UInt64) throws {
        let fs = SimulatedFileSystem()
        var configuration = Self.configuration()
        configuration.checkpointJournalBytes = 1 << 30
        configuration.checkpointPages = 1 << 30
        let file = try BTreeFile.open(fileSystem: fs, configuration: configuration)
        var rng = SplitMix64(seed: seed)
        var model: [String: [[UInt8]: [UInt8]]] = [:]
        var live: [String: [[UInt8]]] = [:]  // the model's keys, to pick deletes reproducibly
        var next: UInt64 = 1_000
        func key(_ n: UInt64) -> [UInt8] {
            var k = [UInt8](repeating: 0, count: 12)
            for b in 0..<8 { k[b] = UInt8(truncatingIfNeeded: n >> (56 - 8 * UInt64(b))) }
            return k
        }
        for commit in 0..<12 {
            try file.write { txn in
                for _ in 0..<1_500 {
                    let tree = rng.below(4) == 0 ? "index" : "records"
                    switch rng.below(40) {
                    case 0..<30:
                        next += 1 + UInt64(rng.below(3))
                        let value = rng.below(60) == 0 ? rng.bytes(2_000 + rng.below(6_000)) : rng.bytes(rng.below(180))
                        try txn.put(key(next), value, in: tree)
                        model[tree, default: [:]][key(next)] = value
                        live[tree, default: []].append(key(next))
                    case 30..<35:
                        // Below the right edge, or a replace of an existing key.
                        let k = key(UInt64(rng.below(Int(next) + 1)))
                        let value = rng.bytes(rng.below(120))
                        try txn.put(k, value, in: tree)
                        if model[tree, default: [:]].updateValue(value, forKey: k) == nil { live[tree, default: []].append(k) }
                    default:
                        guard let keys = live[tree], !keys.isEmpty else { continue }
                        let at = rng.below(keys.count)
                        let victim = keys[at]
                        live[tree]!.swapAt(at, keys.count - 1)
                        live[tree]!.removeLast()
                        #expect(try txn.delete(victim, in: tree))
                        model[tree]?[victim] = nil
                    }
                }
            }
            let verification = file.verify()
            #expect(verification.isClean, "commit \(commit): \(verification.problems.prefix(3))")
            try Self.expectEqual(file, model, "seed \(seed) commit \(commit)")
        }
        let reopened = try BTreeFile.open(fileSystem: fs.crash(mode: .dropAllUnsynced, seed: seed), configuration: configuration)
        defer { reopened.close() }
        #expect(reopened.verify().isClean)
        try Self.expectEqual(reopened, model, "seed \(seed) after the crash")
        file.close()
    }
}

@Suite struct BTreeFileFaultTests {
    /// The commit's one sync is its journal record's.
    @Test func eioOnTheJournalSyncFailsTheCommitKeepsReadersOnThePreviousStateAndRefusesWritesUntilReopened() throws {
        let fs = SimulatedFileSystem()
        let file = try BTreeFile.open(fileSystem: fs, configuration: BTreeFileTests.configuration())
        try file.write { txn in for i in 0..<300 { try txn.put(Array("k\(i)".utf8), Array("v\(i)".utf8), in: "t") } }
        fs.injectFault(FaultRule(kinds: [.sync], errno: EIO, times: 1))
        #expect(throws: StoreError.self) {
            try file.write { txn in for i in 0..<300 { try txn.put(Array("k\(i)".utf8), Array("changed".utf8), in: "t") } }
        }
        let snapshot = try file.snapshot()
        #expect(try snapshot.get(Array("k7".utf8), in: "t") == Array("v7".utf8))
        snapshot.close()
        BTreeFileTests.expectRefusesWrites(file)
        #expect(throws: StoreError.self) { try file.checkpoint() }
        file.close()
        let reopened = try BTreeFile.open(fileSystem: fs.crash(mode: .dropAllUnsynced, seed: 1), configuration: BTreeFileTests.configuration())
        defer { reopened.close() }
        #expect(reopened.verify().isClean)
        let view = try reopened.snapshot()
        #expect(try view.get(Array("k7".utf8), in: "t") == Array("v7".utf8))
        view.close()
        try reopened.write { txn in try txn.put([1], [1], in: "t") }
    }

    /// A checkpoint's page sync (0) or meta sync (1) fails: the commits it was writing
    /// stay committed (the journal holds them), the file refuses writes, and a reopen
    /// after a crash replays them.
    @Test(arguments: [0, 1])
    func eioOnACheckpointSyncKeepsTheCommitsAndRefusesWritesUntilReopened(whichSync: Int) throws {
        let fs = SimulatedFileSystem()
        let file = try BTreeFile.open(fileSystem: fs, configuration: BTreeFileTests.configuration())
        try file.write { txn in for i in 0..<300 { try txn.put(Array("k\(i)".utf8), Array("v\(i)".utf8), in: "t") } }
        try file.write { txn in for i in 0..<300 { try txn.put(Array("k\(i)".utf8), Array("changed".utf8), in: "t") } }
        fs.injectFault(FaultRule(kinds: [.sync], errno: EIO, after: whichSync, times: 1))
        #expect(throws: StoreError.self) { try file.checkpoint() }
        let snapshot = try file.snapshot()
        #expect(try snapshot.get(Array("k7".utf8), in: "t") == Array("changed".utf8))
        snapshot.close()
        BTreeFileTests.expectRefusesWrites(file)
        file.close()
        let reopened = try BTreeFile.open(fileSystem: fs.crash(mode: .dropAllUnsynced, seed: 1), configuration: BTreeFileTests.configuration())
        defer { reopened.close() }
        #expect(reopened.verify().isClean)
        let view = try reopened.snapshot()
        #expect(try view.get(Array("k7".utf8), in: "t") == Array("changed".utf8))
        #expect(try view.count("t") == 300)
        view.close()
        try reopened.write { txn in try txn.put([1], [1], in: "t") }
    }

    @Test func aDamagedPageIsAnErrorThatNamesIt() throws {
        let fs = SimulatedFileSystem()
        let configuration = BTreeFileTests.configuration()
        var file = try BTreeFile.open(fileSystem: fs, configuration: configuration)
        try file.write { txn in for i in 0..<3000 { try txn.put(Array("key \(i)".utf8), Array(repeating: UInt8(i & 0xFF), count: 50), in: "t") } }
        file.close()
        // Flip a byte in the middle of page 5.
        var bytes = fs.currentContents(configuration.path)!
        bytes[5 * 4096 + 2000] ^= 0x40
        fs.overwriteDurably(configuration.path, at: 5 * 4096 + 2000, with: [bytes[5 * 4096 + 2000]])
        file = try BTreeFile.open(fileSystem: fs, configuration: configuration)
        defer { file.close() }
        let verification = file.verify()
        #expect(!verification.isClean)
        #expect(verification.problems.contains { $0.contains("page 5") }, "\(verification.problems)")
        let snapshot = try file.snapshot()
        defer { snapshot.close() }
        var sawError = false
        for i in 0..<3000 {
            do { _ = try snapshot.get(Array("key \(i)".utf8), in: "t") } catch let error as StoreError {
                #expect(error.code == .corrupted && error.message.contains("page 5"))
                sawError = true
            }
        }
        #expect(sawError)
    }

    @Test func arbitraryBytesNeverOpenAsAFile() throws {
        var rng = SplitMix64(seed: 9)
        for round in 0..<200 {
            let fs = SimulatedFileSystem()
            try fs.createDirectory("/q/defedb", intermediate: true)
            let handle = try fs.openFile("/q/defedb/queue.db", mode: .createNew)
            try handle.write(rng.bytes(rng.below(20_000)), at: 0)
            try handle.close()
            #expect(throws: StoreError.self, "round \(round)") {
                _ = try BTreeFile.open(fileSystem: fs, configuration: BTreeFileTests.configuration())
            }
        }
    }
}

@Suite struct BTreeFileGroupCommitTests {
    @Test func concurrentCallersShareCommits() async throws {
        let fs = SimulatedFileSystem()
        fs.syncDelayMicroseconds = 300
        let file = try BTreeFile.open(fileSystem: fs, configuration: BTreeFileTests.configuration())
        let before = file.committedTransaction
        let syncsBefore = fs.syncCount
        try await withThrowingTaskGroup(of: Void.self) { group in
            for caller in 0..<32 {
                group.addTask {
                    for i in 0..<20 {
                        let key = Array("c\(caller)-\(i)".utf8)
                        try await file.apply([.put(tree: "t", key: key, value: key), .put(tree: "index", key: key.reversed(), value: [])])
                    }
                }
            }
            try await group.waitForAll()
        }
        let commits = Int(file.committedTransaction - before)
        #expect(commits < 32 * 20 / 2, "\(commits) commits for 640 calls")
        #expect(fs.syncCount - syncsBefore <= 2 * commits + 2)
        #expect(file.verify().isClean)
        let snapshot = try file.snapshot()
        #expect(try snapshot.count("t") == 640 && snapshot.count("index") == 640)
        snapshot.close()
        await #expect(throws: StoreError.self) {
            try await file.apply([.put(tree: "t", key: Array(repeating: 1, count: 5000), value: [])])
        }
        // Refused before queueing, as put refuses them: too large a value, an empty name.
        let beforeRefused = file.committedTransaction
        await #expect(throws: StoreError.self) {
            try await file.apply([.put(tree: "t", key: [1], value: Array(repeating: 0, count: BTreeJournal.maxValueSize + 1))])
        }
        await #expect(throws: StoreError.self) { try await file.apply([.delete(tree: "", key: [1])]) }
        #expect(file.committedTransaction == beforeRefused)
        file.close()
        await #expect(throws: StoreError.self) { try await file.apply([.delete(tree: "t", key: [1])]) }
    }
}

extension BTreeFileGroupCommitTests {
    /// Read-modify-write closures in shared commits: each sees what earlier callers of the
    /// same transaction wrote, so no increment is lost; a closure that throws fails its
    /// whole commit and leaves the committed state as it was.
    @Test func closuresReadWhatEarlierCallersWrote() async throws {
        let fs = SimulatedFileSystem()
        fs.syncDelayMicroseconds = 300
        let file = try BTreeFile.open(fileSystem: fs, configuration: BTreeFileTests.configuration())
        let counterKey = Array("counter".utf8)
        let txids = try await withThrowingTaskGroup(of: UInt64.self) { group in
            for _ in 0..<64 {
                group.addTask {
                    try await file.commit { txn -> UInt64 in
                        let current = try txn.get(counterKey, in: "t").map { UInt64($0[0]) | UInt64($0[1]) << 8 } ?? 0
                        let next = current + 1
                        try txn.put(counterKey, [UInt8(next & 0xFF), UInt8(next >> 8)], in: "t")
                        return next
                    }.txid
                }
            }
            return try await group.reduce(into: Set<UInt64>()) { $0.insert($1) }
        }
        #expect(txids.count < 64, "callers shared commits")
        let snapshot = try file.snapshot()
        #expect(try snapshot.get(counterKey, in: "t") == [64, 0])
        snapshot.close()
        let before = file.committedTransaction
        await #expect(throws: StoreError.self) {
            try await file.commit { txn in
                try txn.put(counterKey, [0, 0], in: "t")
                throw StoreError(.corrupted, "damage found by the caller")
            }
        }
        #expect(file.committedTransaction == before)
        let after = try file.snapshot()
        #expect(try after.get(counterKey, in: "t") == [64, 0])
        after.close()
        #expect(try await file.apply([.put(tree: "t", key: [1], value: [1])]) == before + 1)
        #expect(file.verify().isClean)
        file.close()
    }
}

@Suite struct BTreeFileCompactionTests {
    @Test func aCompactedCopyHoldsTheSameTreesInFewerPages() throws {
        let fs = SimulatedFileSystem()
        let file = try BTreeFile.open(fileSystem: fs, configuration: BTreeFileTests.configuration())
        defer { file.close() }
        var rng = SplitMix64(seed: 3)
        var keys: [[UInt8]] = []
        try file.write { txn in
            for _ in 0..<6000 {
                let key = rng.bytes(16)
                keys.append(key)
                try txn.put(key, rng.bytes(rng.below(120)), in: "recipients")
                try txn.put(key + [1], [], in: "nexttry")
            }
            try txn.put([9], rng.bytes(20_000), in: "big")
        }
        // Delete most keys: leaves are left sparse.
        try file.write { txn in
            for key in keys where rng.below(5) != 0 { try txn.delete(key, in: "recipients") }
        }
        let report = try file.copyCompacted(to: "/q/defedb/queue.compact", fileSystem: fs)
        #expect(report.trees == 3)
        #expect(report.pagesAfter < report.pagesBefore)
        var configuration = BTreeFileTests.configuration()
        configuration.path = "/q/defedb/queue.compact"
        let copy = try BTreeFile.open(fileSystem: fs, configuration: configuration)
        defer { copy.close() }
        let a = try file.snapshot(), b = try copy.snapshot()
        defer { a.close(); b.close() }
        for tree in ["recipients", "nexttry", "big"] {
            let left = try BTreeFileTests.scan(a, tree), right = try BTreeFileTests.scan(b, tree)
            #expect(left.map(\.0) == right.map(\.0) && left.map(\.1) == right.map(\.1), "\(tree)")
        }
        #expect(throws: StoreError.self) { _ = try file.copyCompacted(to: "/q/defedb/queue.compact", fileSystem: fs) }
    }
}
