import Logging

/// The deferred queue's file (the seed's DEFEDB): a copy-on-write B+tree of named trees in
/// fixed-size pages, each with a type and an XXH3 checksum; two alternating meta pages.
///
/// **Commit order** (bbolt's, in two sentences): the transaction's new pages are written
/// and synced, then the meta page of slot `txid % 2` is written and synced. Opening takes
/// the meta page with the highest transaction id whose checksum verifies; a crash during a
/// commit leaves the previous meta, whose pages nothing overwrote.
///
/// **Page reuse.** A commit frees the pages it replaced, recording its transaction id. A
/// page freed by transaction F is still reachable from snapshots older than F, so a later
/// transaction reuses it only when no open snapshot is older than F. The meta of F - 1
/// stays intact until F + 1 overwrites its slot, and pages freed by F are not reused
/// before F + 1: a torn meta of any commit falls back to a complete tree.
///
/// **Readers.** ``snapshot()`` pins the newest committed state; any number may be open
/// while the writer commits. In-process snapshots are accounted for by transaction id.
/// Readers in other processes (a read-only open) publish the transaction they read in the
/// reader table beside the file, which the writer reads before each transaction; the writer
/// lock there allows one writer per file (``ReaderTable``; `docs/format/defedb.md`,
/// "Readers in other processes").
///
/// **Writers.** One write transaction at a time (``write(_:)`` serialises them). A failed
/// write or sync poisons the file until it is reopened (rule 6).
public final class BTreeFile: @unchecked Sendable {
    public struct Configuration: Sendable {
        public var queueID: QueueID
        /// The file, `<queue>/defedb/queue.db`.
        public var path: String
        /// Page size for a new file (a power of two, 4 KiB to 64 KiB); an existing file keeps its own.
        public var pageSize = 4096
        /// The file grows by at least this many pages at a time (preallocated).
        public var growthPages = 256
        public var readOnly = false

        public init(queueID: QueueID, path: String) {
            self.queueID = queueID
            self.path = path
        }
    }

    public let configuration: Configuration
    let fileSystem: any FileSystem
    let store: PageStore
    let logger: Logger
    private let lock = SimpleLock()
    private let writerLock = SimpleLock()
    private var meta: MetaPage
    private var free: [FreePage]
    private var readers: [UInt64: Int] = [:]
    private var failure: StoreError?
    private var closed = false
    private var groupCommitter: GroupCommitter?
    /// Catalog entries of the newest commit (`catalogTxid`), shared by its snapshots.
    private var catalogCache: [String: (root: UInt64, count: UInt64)] = [:]
    private var catalogTxid: UInt64 = .max
    /// Readers in other processes (ReaderTable.swift): the writer's holds the writer lock.
    let readerTable: ReaderTable

    public var pageSize: Int { store.pageSize }

    private init(configuration: Configuration, fileSystem: any FileSystem, store: PageStore, meta: MetaPage, free: [FreePage], readerTable: ReaderTable, logger: Logger) {
        self.configuration = configuration
        self.fileSystem = fileSystem
        self.store = store
        self.meta = meta
        self.free = free
        self.readerTable = readerTable
        self.logger = logger
    }

    /// Opens the file, creating it (two meta pages for transaction 0, synced, and its
    /// directory synced) when it does not exist and the open is not read-only.
    ///
    /// Also opens the reader table beside it (``ReaderTable/path(forQueueFile:)``, created
    /// when missing). A writer takes the writer lock first and fails with
    /// ``StoreError/Code/locked`` while another open of the file (in any process) writes it.
    /// A read-only open needs no write access to the file, only to its reader table.
    public static func open(
        fileSystem: any FileSystem,
        configuration: Configuration,
        logger: Logger = Logger(label: "smx.defedb", factory: { _ in SwiftLogNoOpLogHandler() })
    ) throws -> BTreeFile {
        let pageSize = configuration.pageSize
        guard pageSize >= 4096, pageSize <= 65536, pageSize & (pageSize - 1) == 0 else {
            throw StoreError(.invalidArgument, "page size \(pageSize) is not a power of two in 4096...65536")
        }
        let path = configuration.path
        if try fileSystem.itemType(path) != .file {
            guard !configuration.readOnly else { throw StoreError(.notFound, "no deferred queue file", path: path) }
            try fileSystem.createDirectoryDurably(Path.directory(of: path))
        }
        // The writer lock before anything touches the file.
        let readerTable = try ReaderTable.open(
            fileSystem: fileSystem, path: ReaderTable.path(forQueueFile: path), role: configuration.readOnly ? .reader : .writer)
        do {
            return try open(fileSystem: fileSystem, configuration: configuration, readerTable: readerTable, logger: logger)
        } catch {
            readerTable.close()
            throw error
        }
    }

    private static func open(
        fileSystem: any FileSystem, configuration: Configuration, readerTable: ReaderTable, logger: Logger
    ) throws -> BTreeFile {
        let pageSize = configuration.pageSize
        let path = configuration.path
        if try fileSystem.itemType(path) != .file {
            guard !configuration.readOnly else { throw StoreError(.notFound, "no deferred queue file", path: path) }
            let handle = try fileSystem.openFile(path, mode: .createNew)
            defer { try? handle.close() }
            let created = wallClockMicros()
            try handle.allocate(offset: 0, length: configuration.growthPages * pageSize)
            for slot in 0..<2 {
                let meta = MetaPage(
                    pageSize: pageSize, queueID: configuration.queueID, txid: UInt64(slot), catalogRoot: 0,
                    freelistHead: 0, pageCount: 2, createdMicros: created
                )
                try handle.write(meta.encode(), at: slot * pageSize)
            }
            try handle.fullSync()
            try fileSystem.syncDirectory(Path.directory(of: path))
        }
        let handle = try fileSystem.openFile(path, mode: configuration.readOnly ? .readOnly : .existing)
        do {
            let meta = try newestMeta(handle, configuration: configuration)
            let store = try PageStore(handle: handle, path: path, pageSize: meta.pageSize, growthPages: configuration.growthPages)
            let free = try readFreelist(meta, store: store)
            return BTreeFile(
                configuration: configuration, fileSystem: fileSystem, store: store, meta: meta, free: free, readerTable: readerTable,
                logger: logger)
        } catch {
            try? handle.close()
            throw error
        }
    }

    /// The valid meta page with the highest transaction id.
    static func newestMeta(_ handle: any FileHandle, configuration: Configuration) throws -> MetaPage {
        // The page size is in the meta pages themselves: slot 0 is at offset 0; slot 1 one
        // page in, so try each possible size for it (its checksum and recorded size must
        // both agree).
        var candidates: [MetaPage] = []
        if let meta = MetaPage.decode(try handle.read(at: 0, count: MetaPage.coveredBytes), slot: 0) {
            candidates.append(meta)
        }
        for size in [4096, 8192, 16384, 32768, 65536] {
            if let meta = MetaPage.decode(try handle.read(at: size, count: MetaPage.coveredBytes), slot: 1), meta.pageSize == size {
                candidates.append(meta)
                break
            }
        }
        if candidates.count == 2, candidates[0].pageSize != candidates[1].pageSize {
            throw StoreError(.corrupted, "the meta pages disagree on the page size", path: configuration.path)
        }
        // A commit makes room for its pages before it writes its meta page: a meta that
        // counts pages past the end of the file is damaged (or the file was cut short).
        let fileSize = UInt64(try handle.size())
        candidates.removeAll { meta in
            let (bytes, overflow) = meta.pageCount.multipliedReportingOverflow(by: UInt64(meta.pageSize))
            return overflow || bytes > fileSize
        }
        guard let newest = candidates.filter({ $0.queueID == configuration.queueID }).max(by: { $0.txid < $1.txid }) else {
            throw StoreError(
                .corrupted,
                candidates.isEmpty ? "no meta page verifies" : "the meta pages name another queue",
                path: configuration.path
            )
        }
        return newest
    }

    static func readFreelist(_ meta: MetaPage, store: PageStore) throws -> [FreePage] {
        var free: [FreePage] = []
        var number = meta.freelistHead
        var seen = Set<UInt64>()
        while number != 0 {
            guard number >= 2, number < meta.pageCount, seen.insert(number).inserted else {
                throw StoreError(.corrupted, "freelist chain reaches page \(number)", path: store.path)
            }
            let page = try store.read(number)
            free += try FreelistPage.entries(page)
            number = page.link
        }
        for entry in free where entry.page < 2 || entry.page >= meta.pageCount {
            throw StoreError(.corrupted, "freelist names page \(entry.page) of \(meta.pageCount)", path: store.path)
        }
        return free
    }

    // MARK: - Reading

    /// The newest committed state, for as long as the snapshot is open. Close it (or let it
    /// go) so the pages it sees can be reused.
    ///
    /// Read-only: the newest state on disk now (the writer may be another process), pinned
    /// in the reader table so that the writer keeps its pages (``ReaderTable/pin(_:)``).
    public func snapshot() throws -> Snapshot {
        if configuration.readOnly { return try pinnedSnapshot() }
        let meta = try lock.withLock { () throws -> MetaPage in
            if closed { throw StoreError(.closed, "deferred queue file is closed", path: configuration.path) }
            readers[self.meta.txid, default: 0] += 1
            return self.meta
        }
        return Snapshot(file: self, meta: meta)
    }

    /// A read-only file's snapshot: reads the newest meta page and publishes its txid in the
    /// reader table until it is still the newest after publishing.
    private func pinnedSnapshot() throws -> Snapshot {
        try lock.withLock {
            if closed { throw StoreError(.closed, "deferred queue file is closed", path: configuration.path) }
        }
        var newest = currentMeta
        let pin = try readerTable.pin {
            newest = try Self.newestMeta(store.handle, configuration: configuration)
            return newest.txid
        }
        lock.withLock {
            if newest.txid != meta.txid {
                // A cached page may be one the writer reused since the last pinned state.
                // Pages cached while a pin covered them stay right for every snapshot that
                // reaches them; only pages of states no longer pinned can have changed.
                store.dropCache()
                meta = newest
            }
            readers[newest.txid, default: 0] += 1
        }
        return Snapshot(file: self, meta: newest, pin: pin)
    }

    func release(_ snapshot: Snapshot) {
        lock.withLock {
            let txid = snapshot.meta.txid
            if let n = readers[txid], n > 1 { readers[txid] = n - 1 } else { readers[txid] = nil }
        }
    }

    /// Transaction id of the newest commit.
    public var committedTransaction: UInt64 { lock.withLock { meta.txid } }

    // MARK: - Writing

    /// Runs `body` in a write transaction and commits it durably (pages synced, then the
    /// meta page synced) before returning. If `body` throws, nothing is written. If the
    /// commit fails, the error is thrown, readers keep seeing the previous state, and the
    /// file refuses writes until it is reopened.
    @discardableResult
    public func write<R>(_ body: (WriteTransaction) throws -> R) throws -> R {
        writerLock.lock()
        defer { writerLock.unlock() }
        let (base, free, oldest) = try lock.withLock { () throws -> (MetaPage, [FreePage], UInt64?) in
            if configuration.readOnly { throw StoreError(.invalidArgument, "deferred queue file is open read-only", path: configuration.path) }
            if closed { throw StoreError(.closed, "deferred queue file is closed", path: configuration.path) }
            if let failure {
                throw StoreError(.poisoned, "deferred queue file refuses writes after a failed write or sync; reopen it", path: configuration.path, cause: failure)
            }
            return (self.meta, self.free, readers.keys.min())
        }
        // Readers in other processes: read after `base` is on disk (ReaderTable.pin(_:)).
        let oldestReader = [oldest, try readerTable.oldestReader()].compactMap { $0 }.min()
        let transaction = WriteTransaction(file: self, store: store, base: base, free: free, oldestReader: oldestReader)
        let result = try body(transaction)
        transaction.finished = true
        guard !transaction.dirty.isEmpty || transaction.trees.values.contains(where: \.changed) else { return result }
        let (newMeta, pages, newFree) = try transaction.prepareCommit()
        do {
            try store.ensureCapacity(newMeta.pageCount)
            try store.write(pages)
            try store.sync()
            try store.writeRaw(newMeta.encode(), page: UInt64(newMeta.slot))
            try store.sync()
        } catch {
            let failure = error as? StoreError ?? StoreError(.io, "\(error)", path: configuration.path)
            lock.withLock { self.failure = failure }
            store.dropCache()
            logger.error("deferred queue commit failed; refusing writes until reopened", metadata: ["error": "\(failure)"])
            throw failure
        }
        store.publish(pages)
        lock.withLock {
            meta = newMeta
            self.free = newFree
            catalogCache = [:]
            for (name, state) in transaction.trees { catalogCache[name] = (state.root, state.count) }
            catalogTxid = newMeta.txid
        }
        return result
    }

    /// The group committer, started on first use.
    func committer() throws -> GroupCommitter {
        try lock.withLock {
            if closed { throw StoreError(.closed, "deferred queue file is closed", path: configuration.path) }
            if let groupCommitter { return groupCommitter }
            let committer = GroupCommitter(file: self)
            groupCommitter = committer
            return committer
        }
    }

    /// Stops taking transactions, after queued group commits are written, and releases the
    /// writer lock. Open snapshots keep working until they are closed; the descriptor (and a
    /// read-only file's reader table) goes with the last of them.
    public func close() {
        let committer = lock.withLock { groupCommitter }
        committer?.stop()
        let wasOpen = lock.withLock {
            defer { closed = true }
            return !closed
        }
        guard wasOpen else { return }
        writerLock.withLock {}
        readerTable.close()
    }

    // MARK: - Introspection

    /// Pages in the file's page count, and how many of them are free.
    public var pageStatistics: (pages: Int, free: Int) {
        lock.withLock { (Int(meta.pageCount), free.count) }
    }

    var currentMeta: MetaPage { lock.withLock { meta } }

    func cachedTree(_ name: String, txid: UInt64) -> (root: UInt64, count: UInt64)? {
        lock.withLock { catalogTxid == txid ? catalogCache[name] : nil }
    }

    func cacheTree(_ name: String, _ entry: (root: UInt64, count: UInt64), txid: UInt64) {
        lock.withLock {
            if catalogTxid != meta.txid {
                catalogCache = [:]
                catalogTxid = meta.txid
            }
            if txid == catalogTxid { catalogCache[name] = entry }
        }
    }
    var currentFree: [FreePage] { lock.withLock { free } }
}

/// A consistent, read-only view of one committed state of a ``BTreeFile``.
public final class Snapshot: PageReader, @unchecked Sendable {
    let file: BTreeFile
    let meta: MetaPage
    /// A read-only file's slot in the reader table.
    let pin: ReaderPin?
    private let lock = SimpleLock()
    private var open = true
    private var catalog: [String: (root: UInt64, count: UInt64)] = [:]

    init(file: BTreeFile, meta: MetaPage, pin: ReaderPin? = nil) {
        self.file = file
        self.meta = meta
        self.pin = pin
    }

    deinit { close() }

    public var txid: UInt64 { meta.txid }
    var pageSize: Int { meta.pageSize }
    var path: String { file.configuration.path }

    public func close() {
        let was = lock.withLock {
            defer { open = false }
            return open
        }
        if was {
            file.release(self)
            pin?.release()
        }
    }

    func page(_ number: UInt64) throws -> Page {
        guard number >= 2, number < meta.pageCount else {
            throw StoreError(.corrupted, "page number \(number) out of range (\(meta.pageCount) pages)", path: path)
        }
        return try file.store.read(number)
    }

    func tree(_ name: String) throws -> (root: UInt64, count: UInt64) {
        if let entry = lock.withLock({ catalog[name] }) { return entry }
        if let entry = file.cachedTree(name, txid: meta.txid) { return entry }
        var entry: (root: UInt64, count: UInt64) = (0, 0)
        if let value = try BTree.get(Array(name.utf8), root: meta.catalogRoot, in: self) {
            guard value.count == 16 else {
                throw StoreError(.corrupted, "catalog entry of tree \(name) has \(value.count) bytes", path: path)
            }
            entry = value.withUnsafeBytes { (LittleEndian.u64($0, 0), LittleEndian.u64($0, 8)) }
        }
        lock.withLock { catalog[name] = entry }
        file.cacheTree(name, entry, txid: meta.txid)
        return entry
    }

    public func get(_ key: [UInt8], in name: String) throws -> [UInt8]? {
        try BTree.get(key, root: try tree(name).root, in: self)
    }

    public func cursor(_ name: String) throws -> Cursor {
        Cursor(reader: self, root: try tree(name).root)
    }

    public func count(_ name: String) throws -> Int { Int(try tree(name).count) }

    /// Names of every tree.
    public func treeNames() throws -> [String] {
        let cursor = Cursor(reader: self, root: meta.catalogRoot)
        var names: [String] = []
        var more = try cursor.first()
        while more, let key = cursor.key {
            names.append(String(decoding: key, as: UTF8.self))
            more = try cursor.next()
        }
        return names
    }
}
