import Foundation
import Glibc
import SMXStore
import SMXTestSupport
import Synchronization
import Testing

/// The reader table (readers of the deferred queue file in other processes): slots, stale
/// readers, the writer lock, page reuse against a read-only open of the same file (a second
/// open stands for another process: its locks are its own), and the publish race.
@Suite struct ReaderTableTests {
    static let tablePath = "/q/defedb/queue.db-readers"

    static func simulatedDirectory() throws -> SimulatedFileSystem {
        let fs = SimulatedFileSystem()
        try fs.createDirectory("/q/defedb", intermediate: true)
        return fs
    }

    static func expectStoreError(_ code: StoreError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
        let error = #expect(throws: StoreError.self, sourceLocation: sourceLocation) { try body() }
        #expect(error?.code == code, "\(String(describing: error))", sourceLocation: sourceLocation)
    }

    // MARK: The table alone

    @Test func slotsAreClaimedSharedPerTransactionAndReleased() throws {
        let fs = try Self.simulatedDirectory()
        let writer = try ReaderTable.open(fileSystem: fs, path: Self.tablePath, role: .writer)
        defer { writer.close() }
        let one = try ReaderTable.open(fileSystem: fs, path: Self.tablePath, role: .reader)
        let two = try ReaderTable.open(fileSystem: fs, path: Self.tablePath, role: .reader)
        #expect(try writer.oldestReader() == nil)

        let a = try one.pin { 7 }
        let b = try one.pin { 7 }  // same transaction, same table: one slot
        let c = try two.pin { 5 }
        #expect(a.slot == 0 && b.slot == 0 && c.slot == 1)
        let live = try writer.liveReaders()
        #expect(live.map(\.slot) == [0, 1])
        #expect(live.map(\.record.txid) == [7, 5])
        #expect(live.allSatisfy { $0.record.pid == UInt32(getpid()) })
        #expect(try writer.oldestReader() == 5)
        #expect(try one.oldestReader() == 5, "a reader sees the others' slots, not its own")

        c.release()
        c.release()
        #expect(try writer.oldestReader() == 7)
        a.release()
        #expect(try writer.oldestReader() == 7, "b still pins transaction 7")
        let d = try two.pin { 9 }
        #expect(d.slot == 1, "the first free slot")
        b.release()
        #expect(try writer.liveReaders().map(\.record.txid) == [9])
        let table = try #require(fs.currentContents(Self.tablePath))
        #expect(Array(table[32..<64]) == [UInt8](repeating: 0, count: 32), "a released slot is cleared")
        d.release()
        #expect(try writer.oldestReader() == nil)

        Self.expectStoreError(.invalidArgument) { _ = try writer.pin { 1 } }
        one.close()
        Self.expectStoreError(.closed) { _ = try one.pin { 1 } }
        two.close()
    }

    @Test func theFileIsAHeaderThenSlotsByteForByte() throws {
        let fs = try Self.simulatedDirectory()
        let writer = try ReaderTable.open(fileSystem: fs, path: Self.tablePath, role: .writer)
        defer { writer.close() }
        let reader = try ReaderTable.open(fileSystem: fs, path: Self.tablePath, role: .reader)
        defer { reader.close() }
        let pin = try reader.pin { 0x0102_0304_0506_0708 }
        defer { pin.release() }
        let bytes = try #require(fs.currentContents(Self.tablePath))
        #expect(bytes.count == 64)
        #expect(Array(bytes[0..<16]) == Array("SMXREADR".utf8) + [1, 0, 0, 0, 32, 0, 0, 0])
        #expect(Array(bytes[16..<32]) == [UInt8](repeating: 0, count: 16))
        #expect(Array(bytes[40..<48]) == [8, 7, 6, 5, 4, 3, 2, 1])
        let record = try #require(ReaderTable.Record.decode(bytes[32..<64], slot: 0))
        #expect(record.txid == 0x0102_0304_0506_0708)
        #expect(record.encode(slot: 0) == Array(bytes[32..<64]))
        #expect(ReaderTable.Record.decode(bytes[32..<64], slot: 1) == nil, "the checksum is seeded with the slot")
        #expect(Checksum.xxh3(Array(bytes[40..<64]), seed: 0) == bytes[32..<40].withUnsafeBytes { LittleEndian.u64($0, 0) })
    }

    @Test func recordsOfDeadReadersAreIgnoredAndClearedByTheNextWriter() throws {
        let fs = try Self.simulatedDirectory()
        let writer = try ReaderTable.open(fileSystem: fs, path: Self.tablePath, role: .writer)
        // A reader process that died: it locked slot 0 and published transaction 3, then its
        // descriptor went (the kernel drops the lock). Slot 1: a record nobody ever locked.
        let dead = try fs.openFile(Self.tablePath, mode: .existing)
        #expect(try dead.tryLockRange(offset: ReaderTable.offset(of: 0), length: 32, kind: .exclusive))
        try dead.write(ReaderTable.Record(txid: 3, pid: 99999, publishedMicros: 1).encode(slot: 0), at: ReaderTable.offset(of: 0))
        try dead.write(ReaderTable.Record(txid: 2, pid: 99998, publishedMicros: 1).encode(slot: 1), at: ReaderTable.offset(of: 1))
        #expect(try writer.oldestReader() == 3, "alive: locked and verified")
        try dead.close()
        #expect(try writer.oldestReader() == nil, "dead: verified but unlocked")

        // A live reader that claimed a slot and has not published yet counts for nothing
        // (it checks the newest transaction again after publishing).
        let claiming = try fs.openFile(Self.tablePath, mode: .existing)
        #expect(try claiming.tryLockRange(offset: ReaderTable.offset(of: 2), length: 32, kind: .exclusive))
        try claiming.write([UInt8](repeating: 0xEE, count: 32), at: ReaderTable.offset(of: 2))
        #expect(try writer.liveReaders().isEmpty)

        // A new reader takes the dead one's slot.
        let reader = try ReaderTable.open(fileSystem: fs, path: Self.tablePath, role: .reader)
        let pin = try reader.pin { 8 }
        #expect(pin.slot == 0)
        #expect(try writer.liveReaders().map(\.record.txid) == [8])

        // A writer opening while a reader lives keeps every slot; with none, it cuts the
        // table back to its header.
        writer.close()
        let second = try ReaderTable.open(fileSystem: fs, path: Self.tablePath, role: .writer)
        #expect(try second.oldestReader() == 8)
        #expect(fs.currentContents(Self.tablePath)?.count == 32 + 3 * 32)
        second.close()
        pin.release()
        reader.close()
        try claiming.close()
        let third = try ReaderTable.open(fileSystem: fs, path: Self.tablePath, role: .writer)
        defer { third.close() }
        #expect(fs.currentContents(Self.tablePath)?.count == 32)
    }

    @Test func aDamagedHeaderIsRewrittenAndAnotherVersionRefused() throws {
        let fs = try Self.simulatedDirectory()
        try fs.openFile(Self.tablePath, mode: .createIfMissing).write([UInt8](repeating: 0x5A, count: 40), at: 0)
        let reader = try ReaderTable.open(fileSystem: fs, path: Self.tablePath, role: .reader)
        reader.close()
        #expect(Array(try #require(fs.currentContents(Self.tablePath))[0..<8]) == Array("SMXREADR".utf8))
        fs.overwriteDurably(Self.tablePath, at: 8, with: [2, 0, 0, 0])
        Self.expectStoreError(.unsupportedVersion) { _ = try ReaderTable.open(fileSystem: fs, path: Self.tablePath, role: .writer) }
        Self.expectStoreError(.unsupportedVersion) { _ = try ReaderTable.open(fileSystem: fs, path: Self.tablePath, role: .reader) }
    }

    @Test func aPinPublishesAgainWhenTheWriterCommittedMeanwhile() throws {
        let fs = try Self.simulatedDirectory()
        let writer = try ReaderTable.open(fileSystem: fs, path: Self.tablePath, role: .writer)
        defer { writer.close() }
        let reader = try ReaderTable.open(fileSystem: fs, path: Self.tablePath, role: .reader)
        defer { reader.close() }
        // The first read says 5; by the check after publishing, 6 and 7 are committed.
        var answers: [UInt64] = [5, 7, 7]
        var published: [UInt64?] = []
        let pin = try reader.pin {
            published.append(try writer.oldestReader())
            return answers.removeFirst()
        }
        #expect(pin.txid == 7)
        #expect(published == [nil, 5, 7], "each check runs after the record it checks was published")
        #expect(reader.pinRetries == 1)
        #expect(try writer.oldestReader() == 7)
        pin.release()
    }

    // MARK: BTreeFile: the writer lock

    @Test(arguments: [false, true])
    func aSecondWriterIsRefusedAndAReadOnlyOpenIsNot(posix: Bool) throws {
        try Self.withQueueDirectory(posix: posix) { fs, path in
            let writer = try BTreeFile.open(fileSystem: fs, configuration: Self.configuration(path))
            try writer.write { try $0.put([1], [1], in: "t") }
            Self.expectStoreError(.locked) { _ = try BTreeFile.open(fileSystem: fs, configuration: Self.configuration(path)) }
            let reader = try BTreeFile.open(fileSystem: fs, configuration: Self.configuration(path, readOnly: true))
            let view = try reader.snapshot()
            #expect(try view.get([1], in: "t") == [1])
            Self.expectStoreError(.invalidArgument) { try reader.write { try $0.put([2], [2], in: "t") } }
            writer.close()
            let next = try BTreeFile.open(fileSystem: fs, configuration: Self.configuration(path))
            try next.write { try $0.put([2], [2], in: "t") }
            #expect(try view.get([2], in: "t") == nil)
            view.close()
            reader.close()
            next.close()
        }
    }

    @Test func aReadOnlyOpenOpensTheQueueFileReadOnly() throws {
        let fs = RecordingFileSystem(base: try Self.simulatedDirectory())
        let path = "/q/defedb/queue.db"
        let writer = try BTreeFile.open(fileSystem: fs, configuration: Self.configuration(path))
        defer { writer.close() }
        try writer.write { try $0.put([1], [1], in: "t") }
        fs.opens.withLock { $0.removeAll() }
        let reader = try BTreeFile.open(fileSystem: fs, configuration: Self.configuration(path, readOnly: true))
        defer { reader.close() }
        let view = try reader.snapshot()
        defer { view.close() }
        #expect(try view.count("t") == 1)
        let opens = fs.opens.withLock { $0 }
        // Once, or again when the writer's checkpoint (running behind its commit) finished
        // while the reader read the journals: read-only every time.
        let modes = opens.filter { $0.path == path }.map(\.mode)
        #expect(!modes.isEmpty && modes.allSatisfy { $0 == .readOnly }, "\(modes)")
        #expect(opens.filter { $0.path == path + "-readers" }.map(\.mode) == [.createIfMissing])
    }

    // MARK: BTreeFile: page reuse against a reader of another open

    @Test func aReadOnlyOpenKeepsItsViewAndItsPagesUntilItCloses() throws {
        try Self.withQueueDirectory(posix: true) { fs, path in
            let writer = try BTreeFile.open(fileSystem: fs, configuration: Self.configuration(path))
            defer { writer.close() }
            var rng = SplitMix64(seed: 41)
            var model: [UInt64: [UInt8]] = [:]
            try Self.fill(writer, &model, &rng)
            let reader = try BTreeFile.open(fileSystem: fs, configuration: Self.configuration(path, readOnly: true))
            defer { reader.close() }

            let held = try reader.snapshot()
            let heldModel = model
            try Self.expectContents(held, heldModel, "pinned")
            let pagesAtPin = writer.pageStatistics.pages
            for _ in 0..<60 { try Self.churn(writer, &model, &rng) }
            let grownWhileHeld = writer.pageStatistics.pages - pagesAtPin
            #expect(grownWhileHeld > 60, "no page freed after the pinned transaction was reused")

            // An open is a point in time: a second read-only open sees the newest state,
            // while the first keeps its own, reading its pages from the file.
            let second = try BTreeFile.open(fileSystem: fs, configuration: Self.configuration(path, readOnly: true))
            let newer = try second.snapshot()
            let newerModel = model
            try Self.expectContents(newer, newerModel, "newer")
            try Self.expectContents(held, heldModel, "held, after 60 commits")
            for _ in 0..<20 { try Self.churn(writer, &model, &rng) }
            try Self.expectContents(held, heldModel, "held, after 80 commits")
            try Self.expectContents(newer, newerModel, "newer, after 20 more commits")
            newer.close()
            second.close()
            held.close()
            reader.close()

            // Released: the writer reuses the pages.
            try Self.churn(writer, &model, &rng)
            try Self.churn(writer, &model, &rng)
            let pagesAtRelease = writer.pageStatistics.pages
            #expect(writer.pageStatistics.free > grownWhileHeld / 2)
            for _ in 0..<60 { try Self.churn(writer, &model, &rng) }
            let grownAfterRelease = writer.pageStatistics.pages - pagesAtRelease
            #expect(grownAfterRelease * 10 < grownWhileHeld, "grew \(grownAfterRelease) pages after release, \(grownWhileHeld) while held")
            let last = try BTreeFile.open(fileSystem: fs, configuration: Self.configuration(path, readOnly: true))
            let lastView = try last.snapshot()
            try Self.expectContents(lastView, model, "after release")
            lastView.close()
            last.close()
            #expect(writer.verify().isClean)
        }
    }

    @Test func aReaderPublishingAfterTheWriterReadTheTableLosesNoPage() throws {
        try Self.withQueueDirectory(posix: true) { base, path in
            let fs = RecordingFileSystem(base: base)
            let writer = try BTreeFile.open(fileSystem: base, configuration: Self.configuration(path))
            defer { writer.close() }
            var rng = SplitMix64(seed: 42)
            var model: [UInt64: [UInt8]] = [:]
            try Self.fill(writer, &model, &rng)
            let first = writer.committedTransaction

            // Between the reader's read of the newest meta page and its record reaching the
            // table, the writer commits 8 times, reading the table each time (nobody in it)
            // and reusing pages that transaction `first` reaches.
            let churned = ChurnResult()
            let start = (model, rng)
            fs.beforeSlotWrite.withLock {
                $0 = {
                    var (model, rng) = start
                    let pages = writer.pageStatistics.pages
                    for _ in 0..<8 { try? Self.churn(writer, &model, &rng) }
                    churned.value.withLock { $0 = (model, rng, writer.pageStatistics.pages - pages) }
                }
            }
            let reader = try BTreeFile.open(fileSystem: fs, configuration: Self.configuration(path, readOnly: true))
            defer { reader.close() }
            let view = try reader.snapshot()
            let after = try #require(churned.value.withLock { $0 })
            model = after.model
            rng = after.rng
            #expect(view.txid > first, "the check after publishing saw the newer commits")
            try Self.expectContents(view, model, "pinned after the race")

            // Those 8 commits reused pages; with the reader's record in place, 8 more cannot.
            let pages = writer.pageStatistics.pages
            for _ in 0..<8 { try Self.churn(writer, &model, &rng) }
            let grownWithReader = writer.pageStatistics.pages - pages
            #expect(after.grown < grownWithReader, "grew \(after.grown) pages unseen, \(grownWithReader) seen")
            let viewModel = after.model
            for _ in 0..<30 { try Self.churn(writer, &model, &rng) }
            try Self.expectContents(view, viewModel, "pinned, 38 commits later")
            view.close()
        }
    }

    /// A reader in a real second process (python3 with `fcntl.F_OFD_SETLK`, holding a slot
    /// with a record made here): the writer keeps its pages while it lives and not after
    /// it is killed.
    @Test func aReaderInAnotherProcessIsSeenUntilItIsKilled() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else { return }
        try Self.withQueueDirectory(posix: true) { fs, path in
            let writer = try BTreeFile.open(fileSystem: fs, configuration: Self.configuration(path))
            defer { writer.close() }
            var rng = SplitMix64(seed: 43)
            var model: [UInt64: [UInt8]] = [:]
            try Self.fill(writer, &model, &rng)
            let txid = writer.committedTransaction
            let record = ReaderTable.Record(txid: txid, pid: 1, publishedMicros: 1).encode(slot: 0)
            let script = """
                import fcntl, os, struct, sys
                fd = os.open(sys.argv[1], os.O_RDWR)
                fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack('hhxxxxqqixxxx', fcntl.F_WRLCK, 0, 32, 32, 0))
                os.pwrite(fd, bytes.fromhex(sys.argv[2]), 32)
                print('ready', flush=True)
                sys.stdin.read()
                """
            let child = Process()
            child.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            child.arguments = ["-c", script, ReaderTable.path(forQueueFile: path), record.map { String(format: "%02x", $0) }.joined()]
            let input = Pipe()
            let output = Pipe()
            child.standardInput = input
            child.standardOutput = output
            try child.run()
            let line = output.fileHandleForReading.availableData
            #expect(String(decoding: line, as: UTF8.self).hasPrefix("ready"))

            let pages = writer.pageStatistics.pages
            for _ in 0..<20 { try Self.churn(writer, &model, &rng) }
            let grownWhileAlive = writer.pageStatistics.pages - pages
            #expect(grownWhileAlive > 20, "the other process's reader holds transaction \(txid)")

            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            try Self.churn(writer, &model, &rng)
            try Self.churn(writer, &model, &rng)
            let afterDeath = writer.pageStatistics.pages
            for _ in 0..<20 { try Self.churn(writer, &model, &rng) }
            #expect((writer.pageStatistics.pages - afterDeath) * 10 < grownWhileAlive, "the dead reader's record is ignored")
        }
    }

    // MARK: Helpers

    static func configuration(_ path: String, readOnly: Bool = false) -> BTreeFile.Configuration {
        var c = BTreeFile.Configuration(queueID: BTreeFileTests.queueID, path: path)
        c.growthPages = 16
        // A checkpoint after every commit: pages reach the file (and get reused there) as
        // soon as they are committed, which is what a reader in another process sees.
        c.checkpointPages = 1
        c.readOnly = readOnly
        return c
    }

    /// A queue file path: in a simulated file system, or in a fresh directory under /tmp
    /// (removed afterwards) of the real one.
    static func withQueueDirectory(posix: Bool, _ body: (any FileSystem, String) throws -> Void) throws {
        guard posix else {
            return try body(SimulatedFileSystem(), "/q/defedb/queue.db")
        }
        var template = Array("/tmp/readers-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        let dir = String(cString: try #require(made))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try body(POSIXFileSystem(), dir + "/defedb/queue.db")
    }

    static func key(_ n: UInt64) -> [UInt8] { withUnsafeBytes(of: n.bigEndian) { Array($0) } }

    /// 3,000 keys of 100-byte values in tree "t", one commit.
    static func fill(_ file: BTreeFile, _ model: inout [UInt64: [UInt8]], _ rng: inout SplitMix64) throws {
        try file.write { txn in
            for n in 0..<UInt64(3000) {
                let value = rng.bytes(100)
                try txn.put(key(n), value, in: "t")
                model[n] = value
            }
        }
    }

    /// One commit replacing 50 random values (same size): copies of leaves and branches,
    /// the old ones freed.
    static func churn(_ file: BTreeFile, _ model: inout [UInt64: [UInt8]], _ rng: inout SplitMix64) throws {
        var changes: [(UInt64, [UInt8])] = []
        for _ in 0..<50 { changes.append((UInt64(rng.below(3000)), rng.bytes(100))) }
        try file.write { txn in
            for (n, value) in changes { try txn.put(key(n), value, in: "t") }
        }
        for (n, value) in changes { model[n] = value }
    }

    static func expectContents(
        _ snapshot: Snapshot, _ model: [UInt64: [UInt8]], _ context: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let scanned = try BTreeFileTests.scan(snapshot, "t")
        let expected = model.sorted { $0.key < $1.key }
        // Compared as booleans: a failure prints the context, not 3,000 keys.
        let keysMatch = scanned.map(\.0) == expected.map { key($0.key) }
        let valuesMatch = scanned.map(\.1) == expected.map(\.value)
        #expect(keysMatch, "\(context): \(scanned.count) keys scanned, \(expected.count) expected", sourceLocation: sourceLocation)
        #expect(valuesMatch, "\(context): values differ", sourceLocation: sourceLocation)
        #expect(try snapshot.count("t") == expected.count, sourceLocation: sourceLocation)
    }
}

/// What the writer did inside the publish hook.
final class ChurnResult: Sendable {
    let value = Mutex<(model: [UInt64: [UInt8]], rng: SplitMix64, grown: Int)?>(nil)
}

/// A file system that passes everything to another one, records each `openFile`, and can
/// run a closure once just before the next write of a reader-table slot (a reader
/// publishing).
final class RecordingFileSystem: FileSystem, @unchecked Sendable {
    let base: any FileSystem
    let opens = Mutex<[(path: String, mode: OpenMode)]>([])
    let beforeSlotWrite = Mutex<(@Sendable () -> Void)?>(nil)

    init(base: any FileSystem) { self.base = base }

    func openFile(_ path: String, mode: OpenMode) throws -> any SMXStore.FileHandle {
        opens.withLock { $0.append((path, mode)) }
        let handle = try base.openFile(path, mode: mode)
        return path.hasSuffix("-readers") ? SlotWriteHookHandle(base: handle, fileSystem: self) : handle
    }

    func createDirectory(_ path: String, intermediate: Bool) throws { try base.createDirectory(path, intermediate: intermediate) }
    func syncDirectory(_ path: String) throws { try base.syncDirectory(path) }
    func rename(_ from: String, to: String) throws { try base.rename(from, to: to) }
    func removeFile(_ path: String) throws { try base.removeFile(path) }
    func listDirectory(_ path: String) throws -> [String] { try base.listDirectory(path) }
    func itemType(_ path: String) throws -> ItemType? { try base.itemType(path) }
    func lockFile(_ path: String) throws -> any FileLock { try base.lockFile(path) }
}

final class SlotWriteHookHandle: SMXStore.FileHandle, @unchecked Sendable {
    let base: any SMXStore.FileHandle
    let fileSystem: RecordingFileSystem

    init(base: any SMXStore.FileHandle, fileSystem: RecordingFileSystem) {
        self.base = base
        self.fileSystem = fileSystem
    }

    var path: String { base.path }
    func size() throws -> Int { try base.size() }
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int { try base.read(into: buffer, at: offset) }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        if offset >= ReaderTable.headerSize, bytes.contains(where: { $0 != 0 }) {
            let hook = fileSystem.beforeSlotWrite.withLock { hook in
                defer { hook = nil }
                return hook
            }
            hook?()
        }
        try base.write(bytes, at: offset)
    }

    func sync() throws { try base.sync() }
    func fullSync() throws { try base.fullSync() }
    func allocate(offset: Int, length: Int) throws { try base.allocate(offset: offset, length: length) }
    func truncate(to size: Int) throws { try base.truncate(to: size) }
    func tryLockRange(offset: Int, length: Int, kind: RangeLockKind) throws -> Bool {
        try base.tryLockRange(offset: offset, length: length, kind: kind)
    }
    func unlockRange(offset: Int, length: Int) throws { try base.unlockRange(offset: offset, length: length) }
    func isRangeLockedByOthers(offset: Int, length: Int, kind: RangeLockKind) throws -> Bool {
        try base.isRangeLockedByOthers(offset: offset, length: length, kind: kind)
    }
    func close() throws { try base.close() }
}
