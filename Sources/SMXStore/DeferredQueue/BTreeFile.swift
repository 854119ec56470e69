import Synchronization
import Logging

/// The deferred queue's file (the seed's DEFEDB): a copy-on-write B+tree of named trees in
/// fixed-size pages, each with a type and an XXH3 checksum; two alternating meta pages.
///
/// **Commit order.** A commit appends its operations to the journal and syncs it
/// (``BTreeJournal``); its pages stay in memory. A checkpoint (bbolt's commit, in two
/// sentences) writes every page committed since the previous one and syncs, then writes
/// the meta page of slot `checkpoint % 2` and syncs; then the journal starts afresh. A
/// checkpoint a commit triggers runs behind the commits by default: they go on in the
/// next journal while a thread writes (``CheckpointScheduling``, ``CheckpointJob``).
/// Opening takes the meta page with the highest checkpoint number whose checksum verifies
/// and replays the journal's commits after it; a crash during a checkpoint leaves the
/// previous meta, whose pages nothing overwrote, and the journal that continues it.
///
/// **Page reuse.** A commit frees the pages it replaced, recording its transaction id. A
/// page freed by transaction F is still reachable from snapshots older than F, so a later
/// transaction reuses it only when no open snapshot is older than F. It is also reachable
/// from the newest checkpoint on disk when that checkpoint wrote it and is older than F:
/// such a page is reused only after a later checkpoint is durable, so a crash always
/// finds the checkpoint the journal continues intact.
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
        /// The journal grows by this many bytes at a time (preallocated).
        public var journalGrowthBytes = 8 << 20
        /// A commit that leaves more journal bytes than this since the last checkpoint
        /// runs a checkpoint.
        public var checkpointJournalBytes = 64 << 20
        /// ... or more pages than this committed and not yet written.
        public var checkpointPages = 65536
        /// How such a checkpoint runs.
        public var checkpointScheduling = CheckpointScheduling.background
        public var readOnly = false

        public init(queueID: QueueID, path: String) {
            self.queueID = queueID
            self.path = path
        }
    }

    /// How a checkpoint that a commit triggers runs. (``BTreeFile/checkpoint()``, the
    /// checkpoint after an open replayed commits and the one at close always finish before
    /// they return.)
    public enum CheckpointScheduling: Sendable, Equatable {
        /// Its page writes and syncs run on a thread of their own while commits go on in
        /// the next journal (`docs/format/defedb.md`, "Checkpoints behind commits").
        case background
        /// In the commit that triggered it; commits wait for it.
        case inline
        /// Like `background`, but the writer itself does the writes, at the end of the
        /// `commits`-th commit after the one that started it: the same files and order of
        /// writes, with commits in between, and deterministic (for crash tests).
        case deferred(commits: Int)
    }

    public let configuration: Configuration
    let fileSystem: any FileSystem
    let store: PageStore
    let logger: Logger
    private let lock = SimpleLock()
    private let writerLock = SimpleLock()
    /// The newest committed state (what a snapshot sees).
    private var meta: MetaPage
    /// The newest checkpoint on disk.
    private var durable: MetaPage
    private var journal: BTreeJournalWriter?
    /// The checkpoint whose writes run behind the commits, if any (writer lock).
    private var inFlight: CheckpointJob?
    /// The last commit's journal buffers, emptied, for the next transaction (writer lock).
    private var spareJournalBuffers = JournalBuffers()
    /// Free pages of the newest state; changed with the writer lock and `lock` held.
    private var freePages: FreePages
    /// Open snapshots of this process, counted by transaction.
    private var readers = SnapshotCounts()
    private var failure: StoreError?
    private var closed = false
    private var groupCommitter: GroupCommitter?
    /// Catalog entries of the newest commit (`catalogTxid`), shared by its snapshots.
    private var catalogCache = TreeCatalog()
    private var catalogTxid: UInt64 = .max
    /// Readers in other processes (ReaderTable.swift): the writer's holds the writer lock.
    let readerTable: ReaderTable
    /// A read-only file's pin of the checkpoint it reads, in the reader table: held from
    /// the open until it is closed and its last snapshot is.
    private let pin: ReaderPin?

    public var pageSize: Int { store.pageSize }

    private init(
        configuration: Configuration, fileSystem: any FileSystem, store: PageStore, meta: MetaPage, free: [FreePage],
        readerTable: ReaderTable, pin: ReaderPin?, logger: Logger
    ) {
        self.configuration = configuration
        self.pin = pin
        self.fileSystem = fileSystem
        self.store = store
        self.meta = meta
        self.durable = meta
        self.freePages = FreePages(checkpointList: free)
        self.readerTable = readerTable
        self.logger = logger
    }

    /// Opens the file, creating it (two meta pages at transaction 0, synced, then its
    /// journal, and the directory synced) when it does not exist and the open is not
    /// read-only. The journal's commits after the newest checkpoint are replayed; a writer
    /// then runs a checkpoint when there were any (see ``BTreeJournal``).
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
        let path = configuration.path
        if try fileSystem.itemType(path) != .file {
            guard !configuration.readOnly else { throw StoreError(.notFound, "no deferred queue file", path: path) }
            try create(fileSystem: fileSystem, configuration: configuration)
        }
        // A reader races the writer's checkpoints. It pins the newest checkpoint in the
        // reader table (so the writer keeps its pages) and reads the journal continuing it;
        // a checkpoint in between shows as a newer journal: pin and read again.
        var attempts = 0
        while true {
            attempts += 1
            let handle = try fileSystem.openFile(path, mode: configuration.readOnly ? .readOnly : .existing)
            var pin: ReaderPin?
            do {
                var meta = try newestMeta(handle, configuration: configuration)
                if configuration.readOnly {
                    pin = try readerTable.pin {
                        meta = try newestMeta(handle, configuration: configuration)
                        return meta.txid
                    }
                }
                let store = try PageStore(handle: handle, path: path, pageSize: meta.pageSize, growthPages: configuration.growthPages)
                // A reader's pin covers the checkpoint's freelist chain too: the writer frees
                // those pages at its next checkpoint, after the pinned transaction.
                let free = try readFreelist(meta, store: store)
                let file = BTreeFile(
                    configuration: configuration, fileSystem: fileSystem, store: store, meta: meta, free: free,
                    readerTable: readerTable, pin: pin, logger: logger
                )
                switch try file.replayJournal(mayReadAgain: attempts < 100, damageMayBeARace: attempts < 5) {
                case .replayed:
                    return file
                case .readAgain:
                    pin?.release()
                    try? handle.close()
                    continue
                }
            } catch {
                pin?.release()
                try? handle.close()
                throw error
            }
        }
    }

    /// A new file in an existing directory, built under a temporary name
    /// (``creationPath(for:)``): two meta pages (checkpoints 0 and 1 at transaction 0),
    /// synced; then its journal for checkpoint 1 (whose creation syncs the directory); then
    /// the rename to the file's name and the directory synced. A crash anywhere in between
    /// leaves no file under its name (directories keep their entry operations in order, so
    /// a surviving name has its journal and synced meta pages): the next open creates it
    /// again, replacing the leftovers. (Created in place, a crash could keep the file's
    /// name without its journal's, and no later open would take the queue.)
    private static func create(fileSystem: any FileSystem, configuration: Configuration) throws {
        let path = configuration.path
        let temporary = creationPath(for: path)
        let pageSize = configuration.pageSize
        if try fileSystem.itemType(temporary) != nil { try fileSystem.removeFile(temporary) }
        let handle = try fileSystem.openFile(temporary, mode: .createNew)
        do {
            defer { try? handle.close() }
            let created = wallClockMicros()
            try handle.allocate(offset: 0, length: configuration.growthPages * pageSize)
            for slot in 0..<2 {
                let meta = MetaPage(
                    pageSize: pageSize, queueID: configuration.queueID, txid: 0, catalogRoot: 0,
                    freelistHead: 0, pageCount: 2, createdMicros: created, checkpoint: UInt64(slot)
                )
                try handle.write(meta.encode(), at: slot * pageSize)
            }
            try handle.fullSync()
        }
        let journal = try BTreeJournal.create(
            fileSystem: fileSystem, file: path, queueID: configuration.queueID, generation: 1, base: 0,
            growthBytes: configuration.journalGrowthBytes
        )
        journal.close()
        try fileSystem.rename(temporary, to: path)
        try fileSystem.syncDirectory(Path.directory(of: path))
    }

    /// Where ``create(fileSystem:configuration:)`` builds a new file before renaming it
    /// into place.
    public static func creationPath(for file: String) -> String { file + ".new" }

    /// `readAgain`: a read-only open raced the writer (a checkpoint started a newer
    /// journal, or a commit was being written while the journal was read).
    private enum JournalOutcome { case replayed, readAgain }

    /// Brings the state from the newest checkpoint up to the last commit of its journals;
    /// a writer then runs a checkpoint (so the torn tail of a crash is gone, and a next
    /// journal left by a crash is folded in) and keeps the fresh journal open for
    /// appending.
    ///
    /// What a crash can leave, with M the newest meta page (checkpoint c at transaction t):
    /// - the journal of generation c (based at t): its commits after t;
    /// - the journal of generation c - 1: the crash came after M's sync and before the
    ///   journal continuing it was in place; none of its commits is above t. Or an older
    ///   one still: opening that state runs a checkpoint (c + 1, in the slot of c - 1),
    ///   and a crash after its meta page and before its journal leaves c + 1 with the
    ///   journal of c - 1;
    /// - also a next journal of generation c + 1: a checkpoint's writes were running behind
    ///   the commits (M is the one before it). The journal's commits, then the
    ///   checkpoint's own transaction (the next journal's base; it changed nothing but the
    ///   freelist chain, which replaying from M does not need), then the next journal's;
    /// - also a next journal of generation c: M is that checkpoint and the crash came
    ///   before the rename; its commits after t;
    /// - a next journal whose header does not verify: it was being created, and nothing
    ///   in it was acknowledged.
    private func replayJournal(mayReadAgain: Bool, damageMayBeARace: Bool) throws -> JournalOutcome {
        let path = configuration.path
        let journalPath = BTreeJournal.path(for: path)
        let nextPath = BTreeJournal.nextPath(for: path)
        if !configuration.readOnly, try fileSystem.itemType(BTreeJournal.rewritePath(for: path)) != nil {
            try fileSystem.removeFile(BTreeJournal.rewritePath(for: path))
        }
        guard try fileSystem.itemType(journalPath) == .file else {
            throw StoreError(.corrupted, "the journal is missing", path: journalPath)
        }
        let bytes = try readWholeFile(journalPath)
        // Looked at after the journal was read: a checkpoint finishing in between renames
        // the next journal over the journal (a reader then finds a newer meta page at the
        // end and reads again). A reader may also find it gone while reading it.
        let nextExists = try fileSystem.itemType(nextPath) == .file
        let nextBytes = !nextExists ? nil : configuration.readOnly ? try? readWholeFile(nextPath) : try readWholeFile(nextPath)
        let checkpoint = meta
        // Which checkpoint the journal continues, before anything is replayed: the one
        // of the meta (generation N, based at its txid), or N - 1 when a crash came between
        // the meta's sync and the journal's rename (then no commit in it is above the
        // meta's txid). A newer one means a reader raced a checkpoint.
        let header = try BTreeJournal.header(bytes, queueID: configuration.queueID, path: journalPath)
        let current = header.segmentNumber == checkpoint.checkpoint
        if header.segmentNumber > checkpoint.checkpoint {
            guard configuration.readOnly, mayReadAgain else {
                throw StoreError(.corrupted, "the journal belongs to a newer checkpoint than any meta page", path: journalPath)
            }
            return .readAgain
        }
        // An older journal (not current) is one the checkpoint has overtaken: generation
        // c - 1, or further back when the checkpoint that recovery itself runs at open was
        // cut short the same way (its meta page durable, its journal not yet in place).
        // Either way the meta holds all of it, which the replay checks commit by commit.
        guard current ? header.baseSequence == checkpoint.txid : header.segmentNumber < checkpoint.checkpoint else {
            throw StoreError(
                .corrupted,
                "journal generation \(header.segmentNumber) at transaction \(header.baseSequence) does not continue checkpoint \(checkpoint.checkpoint) at transaction \(checkpoint.txid)",
                path: journalPath
            )
        }
        var replayed = 0
        let contents = try replayCommits(
            bytes, path: journalPath, generation: header.segmentNumber, mayHoldNewer: current, checkpoint: checkpoint,
            replayed: &replayed
        )
        if let outcome = try checkDamage(contents, path: journalPath, damageMayBeARace: damageMayBeARace) { return outcome }

        if let nextBytes, let nextHeader = try? BTreeJournal.header(nextBytes, queueID: configuration.queueID, path: nextPath) {
            let generation = nextHeader.segmentNumber
            guard generation <= checkpoint.checkpoint || (generation == checkpoint.checkpoint + 1 && current) else {
                if configuration.readOnly, mayReadAgain { return .readAgain }
                throw StoreError(
                    .corrupted,
                    "the next journal (generation \(generation)) does not continue checkpoint \(checkpoint.checkpoint)",
                    path: nextPath
                )
            }
            if generation == checkpoint.checkpoint + 1 {
                // The checkpoint that was in flight: its transaction follows the journal's.
                guard nextHeader.baseSequence == contents.lastTxid + 1 else {
                    throw StoreError(
                        .corrupted,
                        "the next journal starts at transaction \(nextHeader.baseSequence); the journal ends at \(contents.lastTxid)",
                        path: nextPath
                    )
                }
                lock.withLock { meta.txid = nextHeader.baseSequence }
            }
            let nextContents = try replayCommits(
                nextBytes, path: nextPath, generation: generation, mayHoldNewer: generation >= checkpoint.checkpoint,
                checkpoint: checkpoint, replayed: &replayed
            )
            if let outcome = try checkDamage(nextContents, path: nextPath, damageMayBeARace: damageMayBeARace) { return outcome }
        }
        if configuration.readOnly {
            // A checkpoint that finished while the journals were read may have renamed the
            // next journal away before it was read: read again from its meta page.
            if mayReadAgain, try Self.newestMeta(store.handle, configuration: configuration).checkpoint != checkpoint.checkpoint {
                return .readAgain
            }
            return .replayed
        }
        if replayed > 0 || !current || contents.damage != nil || nextExists {
            try writerLock.withLock { try checkpointLocked() }
            // The fresh journal is in place and continues the new checkpoint: the next
            // journal has nothing that checkpoint does not hold.
            if nextExists {
                try fileSystem.removeFile(nextPath)
                try fileSystem.syncDirectory(Path.directory(of: path))
            }
        } else {
            let handle = try fileSystem.openFile(journalPath, mode: .existing)
            journal = BTreeJournalWriter(
                handle: handle, generation: contents.generation, offset: contents.end, capacity: bytes.count,
                growthBytes: configuration.journalGrowthBytes
            )
        }
        return .replayed
    }

    /// Replays the commits of one journal above the state's transaction (the journals'
    /// commits come in transaction order, so that skips what the checkpoint or the journal
    /// read before already holds). A journal that may not hold newer commits (`mayHoldNewer`
    /// false) and does is corruption.
    private func replayCommits(
        _ bytes: [UInt8], path: String, generation: UInt64, mayHoldNewer: Bool, checkpoint: MetaPage, replayed: inout Int
    ) throws -> BTreeJournal.Contents {
        try BTreeJournal.read(bytes, queueID: configuration.queueID, path: path) { txid, operations in
            guard txid > lock.withLock({ meta.txid }) else { return }
            guard mayHoldNewer else {
                throw StoreError(
                    .corrupted,
                    "journal generation \(generation) holds commit \(txid), after checkpoint \(checkpoint.checkpoint) at transaction \(checkpoint.txid)",
                    path: path
                )
            }
            replayed += 1
            try replay(txid: txid, operations)
        }
    }

    /// A journal's damage: `readAgain` for a reader that may have raced an append; an error
    /// when a complete commit follows it (acknowledged commits missing); nil for a torn
    /// last commit (logged).
    private func checkDamage(_ contents: BTreeJournal.Contents, path: String, damageMayBeARace: Bool) throws -> JournalOutcome? {
        if let later = contents.commitAfterDamage {
            // A reader's read of the file is not atomic with the writer's appends: it may
            // see one commit half written and the next whole. Read again; the writer
            // never leaves that behind.
            if configuration.readOnly && damageMayBeARace { return .readAgain }
            throw StoreError(
                .corrupted,
                "journal damaged at offset \(contents.damage!.offset) (\(contents.damage!.reason)) with commit \(later) after it: acknowledged commits are missing",
                path: path
            )
        }
        if let damage = contents.damage, !configuration.readOnly {
            logger.info("deferred queue journal ends in an unfinished commit", metadata: [
                "path": "\(path)", "offset": "\(damage.offset)", "reason": "\(damage.reason)",
            ])
        }
        return nil
    }

    private func readWholeFile(_ path: String) throws -> [UInt8] {
        let handle = try fileSystem.openFile(path, mode: .readOnly)
        defer { try? handle.close() }
        return try handle.readAll()
    }

    /// Applies one journal commit as a transaction of its own (no journal write).
    private func replay(txid: UInt64, _ operations: [BTreeOperation]) throws {
        let transaction = try nextTransaction(oldestReader: nil)
        guard transaction.txid == txid else {
            throw StoreError(.corrupted, "journal commit \(txid) does not follow transaction \(meta.txid)", path: BTreeJournal.path(for: configuration.path))
        }
        for operation in operations { try transaction.apply(operation) }
        transaction.finished = true
        let (newMeta, pages, newFree) = try transaction.prepareCommit()
        install(newMeta, pages: pages, free: newFree, transaction: transaction)
    }

    /// The valid meta page with the highest checkpoint number.
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
        guard let newest = candidates.filter({ $0.queueID == configuration.queueID }).max(by: { $0.checkpoint < $1.checkpoint }) else {
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
    /// Read-only: the state the open found (the newest checkpoint, pinned in the reader
    /// table so that the writer keeps its pages, plus the journal's commits after it); open
    /// again for a newer one.
    public func snapshot() throws -> Snapshot {
        let meta = try lock.withLock { () throws -> (MetaPage, TreeCatalog) in
            if closed { throw StoreError(.closed, "deferred queue file is closed", path: configuration.path) }
            readers.add(self.meta.txid)
            return (self.meta, catalogTxid == self.meta.txid ? catalogCache : TreeCatalog())
        }
        return Snapshot(file: self, meta: meta.0, catalog: meta.1)
    }

    /// A snapshot and the free pages of its state, taken together.
    func snapshotWithFreePages() throws -> (Snapshot, [FreePage]) {
        let (meta, free) = try lock.withLock { () throws -> (MetaPage, [FreePage]) in
            if closed { throw StoreError(.closed, "deferred queue file is closed", path: configuration.path) }
            readers.add(self.meta.txid)
            return (self.meta, self.freePages.all)
        }
        return (Snapshot(file: self, meta: meta, catalog: TreeCatalog()), free)
    }

    func release(_ snapshot: Snapshot) {
        let last = lock.withLock { () -> Bool in
            readers.remove(snapshot.meta.txid)
            return closed && readers.isEmpty
        }
        if last { releaseReaderTable() }
    }

    /// After the close and the last snapshot: a read-only file's pin goes, and the reader
    /// table closes (its file with the last pin).
    private func releaseReaderTable() {
        pin?.release()
        readerTable.close()
    }

    /// Transaction id of the newest commit.
    public var committedTransaction: UInt64 { lock.withLock { meta.txid } }

    // MARK: - Writing

    /// Runs `body` in a write transaction and commits it durably (its journal record
    /// synced) before returning. If `body` throws, nothing is written. If the
    /// commit fails, the error is thrown, readers keep seeing the previous state, and the
    /// file refuses writes until it is reopened.
    @discardableResult
    public func write<R>(_ body: (WriteTransaction) throws -> R) throws -> R {
        writerLock.lock()
        defer { writerLock.unlock() }
        try checkWritable()
        if let inFlight, inFlight.isDone { try finishCheckpointInFlight() }
        let transaction = try nextTransaction(journalBuffers: spareJournalBuffers)
        spareJournalBuffers = JournalBuffers()
        transaction.journalStream = journal
        let result: R
        do { result = try body(transaction) } catch {
            if transaction.streamFailed {
                poison(error)
                throw lock.withLock { failure! }
            }
            throw error
        }
        transaction.finished = true
        guard !transaction.dirty.isEmpty || transaction.trees.values.contains(where: \.changed) else { return result }
        let (newMeta, pages, newFree) = try transaction.prepareCommit()
        do {
            guard let journal else { throw StoreError(.closed, "deferred queue journal is not open", path: configuration.path) }
            try journal.append(
                txid: newMeta.txid, payload: transaction.journal.bytes, boundaries: transaction.journalBoundaries,
                streamed: transaction.streamed
            )
        } catch {
            poison(error)
            throw lock.withLock { failure! }
        }
        install(newMeta, pages: pages, free: newFree, transaction: transaction)
        spareJournalBuffers = transaction.takeJournalBuffers()
        // The commit is durable; a checkpoint that fails now poisons the file for the
        // next writer but does not undo it.
        if let inFlight, case .deferred = configuration.checkpointScheduling {
            inFlight.commitsBeforeRunning -= 1
            if inFlight.commitsBeforeRunning <= 0 { try? finishCheckpointInFlight() }
        }
        if let journal, journal.bytesSinceCheckpoint >= configuration.checkpointJournalBytes
            || store.pendingCount >= configuration.checkpointPages {
            switch configuration.checkpointScheduling {
            case .inline: try? checkpointLocked()
            case .background, .deferred: try? startCheckpoint()
            }
        }
        return result
    }

    /// Writes every page committed since the last checkpoint and a new meta page, then
    /// starts a fresh journal (see ``BTreeJournal``). Commits wait meanwhile. Commits are
    /// durable without it; it bounds the journal, and so the time an open spends
    /// replaying, and lets pages freed since the last one be reused.
    public func checkpoint() throws {
        writerLock.lock()
        defer { writerLock.unlock() }
        try checkWritable()
        try checkpointLocked()
    }

    /// Refuses writes to a read-only, closed or poisoned file.
    private func checkWritable() throws {
        try lock.withLock { () throws in
            if configuration.readOnly { throw StoreError(.invalidArgument, "deferred queue file is open read-only", path: configuration.path) }
            if closed { throw StoreError(.closed, "deferred queue file is closed", path: configuration.path) }
            if let failure {
                throw StoreError(.poisoned, "deferred queue file refuses writes after a failed write or sync; reopen it", path: configuration.path, cause: failure)
            }
        }
    }

    /// The next write transaction (writer lock held), on the newest state, reusing only
    /// pages no reader of this process or another (the reader table, read after the
    /// newest checkpoint is on disk: ``ReaderTable/pin(_:)``) and no checkpoint on disk
    /// can reach.
    private func nextTransaction(journalBuffers: JournalBuffers = JournalBuffers()) throws -> WriteTransaction {
        let oldest = lock.withLock { readers.oldest }
        return try nextTransaction(oldestReader: [oldest, try readerTable.oldestReader()].compactMap { $0 }.min(), journalBuffers: journalBuffers)
    }

    /// The next write transaction, after the free pages no reader older than
    /// `oldestReader` can see became reusable (nil: no reader).
    private func nextTransaction(oldestReader: UInt64?, journalBuffers: JournalBuffers = JournalBuffers()) throws -> WriteTransaction {
        let (base, freePages) = lock.withLock { () -> (MetaPage, FreePages) in
            self.freePages.release(oldestReader: oldestReader)
            return (meta, self.freePages)
        }
        return WriteTransaction(file: self, store: store, base: base, freePages: freePages, journalBuffers: journalBuffers)
    }

    /// The checkpoint, with the writer lock held, finished when it returns: pages, meta
    /// page, then a fresh journal written aside and renamed over the journal.
    private func checkpointLocked() throws {
        try finishCheckpointInFlight()
        let transaction = try nextTransaction()
        transaction.finished = true
        let (newMeta, pages, newFree, _) = try transaction.prepareCheckpoint()
        let newJournal: BTreeJournalWriter
        do {
            // The new chain's pages join the pending ones. Snapshots of older states may
            // still read the old chain (verify() does); it is freed at this txid like any
            // page, so reuse waits for them.
            store.publish(pages, freed: transaction.freed)
            try store.ensureCapacity(newMeta.pageCount)
            try store.writeAndSync(try store.takePending())
            try store.writeRaw(newMeta.encode(), page: UInt64(newMeta.slot))
            try store.sync()
            newJournal = try BTreeJournal.create(
                fileSystem: fileSystem, file: configuration.path, queueID: configuration.queueID,
                generation: newMeta.checkpoint, base: newMeta.txid, growthBytes: configuration.journalGrowthBytes
            )
        } catch {
            poison(error)
            throw lock.withLock { failure! }
        }
        journal?.close()
        journal = newJournal
        lock.withLock {
            // Every page is on disk now: only readers keep free pages.
            freePages = FreePages(checkpointList: newFree)
            let catalogStillValid = catalogTxid == meta.txid
            meta = newMeta
            durable = newMeta
            if catalogStillValid { catalogTxid = newMeta.txid }
        }
    }

    /// Starts a checkpoint whose writes run behind the commits (writer lock held): waits
    /// for the one before, if any; takes the checkpoint transaction (the new freelist
    /// chain) and the pages committed up to it; grows the file for them; creates the next
    /// journal, where commits go from now on. The state moves on to the checkpoint's
    /// transaction at once; the checkpoint on disk, when the writes are done
    /// (``finishCheckpointInFlight()``).
    private func startCheckpoint() throws {
        try finishCheckpointInFlight()
        let transaction = try nextTransaction()
        transaction.finished = true
        let (newMeta, pages, _, changes) = try transaction.prepareCheckpoint()
        let job: CheckpointJob
        let next: BTreeJournalWriter
        do {
            store.publish(pages, freed: transaction.freed)
            try store.ensureCapacity(newMeta.pageCount)
            next = try BTreeJournal.createNext(
                fileSystem: fileSystem, file: configuration.path, queueID: configuration.queueID,
                generation: newMeta.checkpoint, base: newMeta.txid, growthBytes: configuration.journalGrowthBytes
            )
            var commits = 0
            if case .deferred(let n) = configuration.checkpointScheduling { commits = max(1, n) }
            job = CheckpointJob(
                meta: newMeta, pages: try store.takePending(), store: store, fileSystem: fileSystem,
                file: configuration.path, commitsBeforeRunning: commits
            )
        } catch {
            poison(error)
            throw lock.withLock { failure! }
        }
        journal?.close()
        journal = next
        lock.withLock {
            // Pages freed from here on that the checkpoint writes count as written
            // (they are not pending any more): they wait for the checkpoint after it.
            freePages.commit(taken: changes.taken, returned: changes.returned, freed: changes.freed, txid: newMeta.txid)
            let catalogStillValid = catalogTxid == meta.txid
            meta = newMeta
            if catalogStillValid { catalogTxid = newMeta.txid }
        }
        inFlight = job
        if case .background = configuration.checkpointScheduling {
            job.start { [self] error in poison(error) }
        }
    }

    /// Waits for the checkpoint in flight, if any (runs its writes now if they were
    /// deferred); once it is on disk, pages freed up to its transaction wait only for
    /// readers. A failed one has poisoned the file: its error is thrown.
    private func finishCheckpointInFlight() throws {
        guard let job = inFlight else { return }
        inFlight = nil
        if let error = job.wait() {
            poison(error)
            throw lock.withLock { failure! }
        }
        lock.withLock {
            freePages.checkpointed(through: job.meta.txid)
            durable = job.meta
        }
    }

    /// Publishes a committed transaction: its pages, the new state and free list.
    private func install(_ newMeta: MetaPage, pages: [Page], free changes: WriteTransaction.FreePageChanges, transaction: WriteTransaction) {
        store.publish(pages, freed: transaction.freed)
        lock.withLock {
            meta = newMeta
            freePages.commit(taken: changes.taken, returned: changes.returned, freed: changes.freed, txid: newMeta.txid)
            catalogCache = TreeCatalog()
            for (name, state) in transaction.trees { catalogCache[name] = (state.root, state.count) }
            catalogTxid = newMeta.txid
        }
    }

    /// Rule 6: after a failed write or sync the file refuses writes until reopened.
    private func poison(_ error: any Error) {
        let failure = error as? StoreError ?? StoreError(.io, "\(error)", path: configuration.path)
        lock.withLock { if self.failure == nil { self.failure = failure } }
        logger.error("deferred queue write failed; refusing writes until reopened", metadata: ["error": "\(failure)"])
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

    /// Stops taking transactions, after queued group commits are written, runs a
    /// checkpoint when commits are waiting for one (so the next open replays nothing; if
    /// it fails, the journal still holds them), and releases the writer lock. Open
    /// snapshots keep working until they are closed; the descriptor (and a read-only
    /// file's pin in the reader table) goes with the last of them.
    public func close() {
        let committer = lock.withLock { groupCommitter }
        committer?.stop()
        let wasOpen = lock.withLock {
            defer { closed = true }
            return !closed
        }
        guard wasOpen else { return }
        writerLock.withLock {
            if inFlight != nil {
                do { try finishCheckpointInFlight() } catch {
                    logger.error("deferred queue checkpoint failed; the journals keep the commits", metadata: ["error": "\(error)"])
                }
            }
            if let journal, journal.bytesSinceCheckpoint > 0, lock.withLock({ failure == nil }) {
                do { try checkpointLocked() } catch {
                    logger.error("deferred queue checkpoint at close failed; the journal keeps the commits", metadata: ["error": "\(error)"])
                }
            }
            journal?.close()
            journal = nil
        }
        if lock.withLock({ readers.isEmpty }) { releaseReaderTable() }
    }

    // MARK: - Introspection

    /// Pages in the file's page count, and how many of them are free.
    public var pageStatistics: (pages: Int, free: Int) {
        lock.withLock { (Int(meta.pageCount), freePages.count) }
    }

    var currentMeta: MetaPage { lock.withLock { meta } }

    /// Number of the newest checkpoint on disk (1 for a new file).
    public var checkpointNumber: UInt64 { lock.withLock { durable.checkpoint } }

    func cachedTree(_ name: String, txid: UInt64) -> (root: UInt64, count: UInt64)? {
        lock.withLock { catalogTxid == txid ? catalogCache[name] : nil }
    }

    func cacheTree(_ name: String, _ entry: (root: UInt64, count: UInt64), txid: UInt64) {
        lock.withLock {
            if catalogTxid != meta.txid {
                catalogCache = TreeCatalog()
                catalogTxid = meta.txid
            }
            if txid == catalogTxid { catalogCache[name] = entry }
        }
    }
}

/// A consistent, read-only view of one committed state of a ``BTreeFile``.
public final class Snapshot: PageReader, @unchecked Sendable {
    let file: BTreeFile
    let meta: MetaPage
    /// Catalog entries of this state the file had cached when the snapshot began (shared,
    /// not copied), and the ones this snapshot read itself.
    private let sharedCatalog: TreeCatalog
    private let state: Mutex<(open: Bool, catalog: TreeCatalog)>

    init(file: BTreeFile, meta: MetaPage, catalog: TreeCatalog) {
        self.file = file
        self.meta = meta
        self.sharedCatalog = catalog
        self.state = Mutex((true, TreeCatalog()))
    }

    deinit { close() }

    public var txid: UInt64 { meta.txid }
    var pageSize: Int { meta.pageSize }
    var path: String { file.configuration.path }

    public func close() {
        let was = state.withLock { state in
            defer { state.open = false }
            return state.open
        }
        if was { file.release(self) }
    }

    func page(_ number: UInt64) throws -> Page {
        guard number >= 2, number < meta.pageCount else {
            throw StoreError(.corrupted, "page number \(number) out of range (\(meta.pageCount) pages)", path: path)
        }
        return try file.store.read(number)
    }

    func tree(_ name: String) throws -> (root: UInt64, count: UInt64) {
        // The file's cache first: for a snapshot of the newest commit (the usual one) it
        // holds the entry, and a short-lived snapshot then allocates nothing of its own.
        if let entry = sharedCatalog[name] { return entry }
        if let entry = file.cachedTree(name, txid: meta.txid) { return entry }
        if let entry = state.withLock({ $0.catalog[name] }) { return entry }
        var entry: (root: UInt64, count: UInt64) = (0, 0)
        if let value = try BTree.get(Array(name.utf8), root: meta.catalogRoot, in: self) {
            guard value.count == 16 else {
                throw StoreError(.corrupted, "catalog entry of tree \(name) has \(value.count) bytes", path: path)
            }
            entry = value.withUnsafeBytes { (LittleEndian.u64($0, 0), LittleEndian.u64($0, 8)) }
        }
        state.withLock { $0.catalog[name] = entry }
        file.cacheTree(name, entry, txid: meta.txid)
        return entry
    }

    public func get(_ key: [UInt8], in name: String) throws -> [UInt8]? {
        try withValue(key, in: name) { Array($0) }
    }

    /// Calls `body` with the value of `key` in place (inline values are not copied; the
    /// bytes are valid only during the call); nil when the key is absent.
    public func withValue<R>(_ key: [UInt8], in name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        let root = try tree(name).root
        return try key.withUnsafeBytes { key in
            try withLeafSlot(key, root: root) { page, slot in
                switch page.storedValue(slot) {
                case .inline(let range):
                    return try page.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[range])) }
                case .overflow(let first, let length):
                    return try BTree.readOverflow(first: first, length: length, in: self).withUnsafeBytes(body)
                }
            }
        }
    }

    /// Walks from `root` to the leaf slot holding `key` and calls `body` with it; nil when
    /// the key is absent. The pages are borrowed from the page cache
    /// (``PageStore/withPage(_:_:)``), which this snapshot's registration keeps alive.
    /// (The walk itself is not generic: a generic step type would be instantiated at run
    /// time on every level when a caller in another module uses `withValue`.)
    private func withLeafSlot<R>(_ key: UnsafeRawBufferPointer, root: UInt64, _ body: (Page, Int) throws -> R) throws -> R? {
        guard root != 0, let (leaf, slot) = try leafSlot(key, root: root) else { return nil }
        return try file.store.withPage(leaf) { try body($0, slot) }
    }

    private enum WalkStep {
        case descend(UInt64)
        case leaf(found: Bool, slot: Int)
    }

    /// The leaf page and slot holding `key`, or nil.
    private func leafSlot(_ key: UnsafeRawBufferPointer, root: UInt64) throws -> (UInt64, Int)? {
        var number = root
        for _ in 0...64 {
            guard number >= 2, number < meta.pageCount else {
                throw StoreError(.corrupted, "page number \(number) out of range (\(meta.pageCount) pages)", path: path)
            }
            let step = try file.store.withPage(number) { page throws -> WalkStep in
                switch page.kind {
                case .leaf:
                    let (index, found) = page.search(key)
                    return .leaf(found: found, slot: index)
                case .branch:
                    return .descend(page.child(page.childIndex(for: key)))
                default:
                    throw BTree.corrupted(page, "a \(String(describing: page.kind)) page where a tree node should be", self)
                }
            }
            switch step {
            case .descend(let child): number = child
            case .leaf(let found, let slot): return found ? (number, slot) : nil
            }
        }
        throw StoreError(.corrupted, "tree deeper than 64 levels (a cycle?) below page \(root)", path: path)
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

/// Open snapshots by transaction: a short list in transaction order, usually one or two
/// entries long. A snapshot always takes the newest state, whose transaction never goes
/// down, so a new one joins at the end.
struct SnapshotCounts {
    private var entries: [(txid: UInt64, count: Int)] = []

    var isEmpty: Bool { entries.isEmpty }
    var oldest: UInt64? { entries.first?.txid }

    mutating func add(_ txid: UInt64) {
        if let last = entries.indices.last, entries[last].txid == txid {
            entries[last].count += 1
        } else {
            precondition(entries.last.map { $0.txid < txid } ?? true, "snapshot of transaction \(txid) older than an open one")
            entries.append((txid, 1))
        }
    }

    mutating func remove(_ txid: UInt64) {
        guard let i = entries.lastIndex(where: { $0.txid == txid }) else { return }
        if entries[i].count > 1 { entries[i].count -= 1 } else { entries.remove(at: i) }
    }
}

/// Catalog entries (tree name → root and key count) of one committed state: a short list,
/// searched by comparing names (a queue has a handful of trees; small strings compare
/// without hashing).
struct TreeCatalog {
    private var entries: [(name: String, root: UInt64, count: UInt64)] = []

    subscript(name: String) -> (root: UInt64, count: UInt64)? {
        get {
            for entry in entries where entry.name == name { return (entry.root, entry.count) }
            return nil
        }
        set {
            if let i = entries.firstIndex(where: { $0.name == name }) {
                if let newValue { entries[i] = (name, newValue.root, newValue.count) } else { entries.remove(at: i) }
            } else if let newValue {
                entries.append((name, newValue.root, newValue.count))
            }
        }
    }
}
