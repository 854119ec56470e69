import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An in-memory ``FileSystem`` that simulates power loss: the file layer every store's
/// crash test runs on (models: SQLite `src/test6.c`, LevelDB `fault_injection_test.cc`,
/// LazyFS).
///
/// **Files** are inodes. Each keeps its *durable* bytes (what survives a power loss) and
/// the ordered list of operations (write, truncate, allocate) made since its last
/// successful sync; reads see the durable bytes with every pending operation applied.
/// `sync()`/`fullSync()` apply the pending operations to the durable bytes, in order. A
/// failed sync (an injected fault) *discards* them without making them durable while reads
/// keep seeing them, and a later successful sync does not bring them back (fsyncgate).
///
/// **Directories** map names to inodes and subdirectories. Each keeps its durable entries
/// and the ordered list of entry operations since its last successful ``syncDirectory(_:)``:
/// creating a file or directory links a name, ``removeFile(_:)`` unlinks one, a rename
/// inside one directory is one atomic operation, and a rename across directories is an
/// unlink in the source directory plus a link in the destination directory. A file created
/// in a directory that was not synced may vanish in a crash, synced or not.
///
/// **Crashes**: ``snapshot()`` captures the whole state (durable and pending) in O(1), and
/// ``restore(_:crash:seed:)`` / ``crash(mode:seed:)`` build a new file system holding what a
/// power loss at that moment leaves, per ``CrashMode``, deterministically from the seed.
/// File bytes live in copy-on-write pages, so a snapshot costs nothing until the next write,
/// which copies the page table of the file it touches and the pages it writes.
///
/// **Faults**: ``injectFault(_:)`` fails chosen operations with EIO, ENOSPC or any errno;
/// ``capacityBytes`` bounds the total file size; ``powerOff()`` makes everything fail.
///
/// **Locks**: ``lockFile(_:)`` is per inode (as `flock`); the byte-range locks of
/// ``FileHandle/tryLockRange(offset:length:kind:)`` belong to one open handle (as Linux
/// open-file-description locks), so two handles on one file stand for two processes.
/// Closing a handle releases its locks, as a process's death does; a crash image has none.
///
/// **Counting and hooks**: every mutating operation (see ``SimulatedOperationKind``) gets
/// an index, is reported to the operation hook before it runs, then faces the fault rules,
/// then runs. Paths are strings with `/` separators; relative paths are taken from `/`.
/// There are no symlinks. Thread-safe: one mutex guards all state, and neither the hook,
/// nor fault predicates, nor the sync delay run with it held.
public final class SimulatedFileSystem: FileSystem {
    /// The seed this file system was created with (for a restored one, the crash seed).
    /// Recorded for reproduction reports; live operation uses no randomness at all, only
    /// ``crash(mode:seed:)`` and ``restore(_:crash:seed:)`` do, from their own seed.
    public let seed: UInt64

    let state: Mutex<SimulatedState>

    /// An empty file system: only the root directory `/`, which exists and is durable.
    public init(seed: UInt64 = 0) {
        self.seed = seed
        self.state = Mutex(SimulatedState())
    }

    init(seed: UInt64, state: SimulatedState) {
        self.seed = seed
        self.state = Mutex(state)
    }

    // MARK: Settings and counters

    /// How long each `sync`, `fullSync` and `syncDirectory` sleeps, in microseconds, after
    /// doing its work and outside the lock, to emulate device latency (whether it succeeds
    /// or fails). Default 0; negative values are stored as 0.
    public var syncDelayMicroseconds: Int {
        get { state.withLock { $0.syncDelayMicroseconds } }
        set { state.withLock { $0.syncDelayMicroseconds = max(0, newValue) } }
    }

    /// The limit on the total size of all files (named or still open), or nil for none.
    /// A write, allocate or growing truncate that would pass it throws ENOSPC
    /// (``StoreError/Code/noSpace``) and changes nothing. Lowering it below the space in use
    /// only makes growth fail. Default nil.
    public var capacityBytes: Int? {
        get { state.withLock { $0.capacityBytes } }
        set { state.withLock { $0.capacityBytes = newValue } }
    }

    /// The total current size of all files that have a name or are open: what
    /// ``capacityBytes`` is checked against.
    public var usedBytes: Int {
        state.withLock { $0.usedBytes }
    }

    /// How many mutating operations have been counted: every call of a kind listed in
    /// ``SimulatedOperationKind`` made while the power was on (on an open handle, for handle
    /// operations), whether it then succeeded or failed.
    public var operationCount: Int {
        state.withLock { $0.operationCount }
    }

    /// How many `sync`, `fullSync` and `syncDirectory` calls have been counted (a subset of
    /// ``operationCount``), failed ones included.
    public var syncCount: Int {
        state.withLock { $0.syncCount }
    }

    /// Sets the operation hook, replacing any previous one (nil removes it). The hook is
    /// called synchronously on the calling thread before each mutating operation runs and
    /// before the fault rules see it, with no lock held, so it may call ``snapshot()``,
    /// ``powerOff()`` (the operation then fails) or any other method. Concurrent operations
    /// call it concurrently.
    public func setOperationHook(_ hook: (@Sendable (SimulatedOperation) -> Void)?) {
        state.withLock { $0.hook = hook }
    }

    // MARK: The operation pipeline

    /// Runs one mutating operation: counts it (after `precheck`), calls the hook, evaluates
    /// the fault predicates, then under the lock either fails it (running `onFault`) or runs
    /// `body`; a sync kind then sleeps for the sync delay.
    func perform<T: Sendable>(
        _ kind: SimulatedOperationKind,
        path: String,
        destination: String? = nil,
        syscall: String,
        precheck: (inout SimulatedState) throws -> Void = { _ in },
        onFault: (inout SimulatedState) -> Void = { _ in },
        _ body: (inout SimulatedState) throws -> T
    ) throws -> T {
        let (operation, hook, candidates) = try state.withLock { state in
            if state.poweredOff { throw SimulatedState.powerLoss(path) }
            try precheck(&state)
            let operation = SimulatedOperation(
                index: state.operationCount, kind: kind, path: path, destination: destination)
            state.operationCount += 1
            if kind.isSync { state.syncCount += 1 }
            return (operation, state.hook, state.faultCandidates(for: kind))
        }
        hook?(operation)
        var matched: [Int] = []
        for candidate in candidates where candidate.matches?(operation) ?? true {
            matched.append(candidate.id)
        }
        let (outcome, delay) = state.withLock { state -> (Result<T, any Error>, Int) in
            if state.poweredOff { return (.failure(SimulatedState.powerLoss(path)), 0) }
            let delay = kind.isSync ? state.syncDelayMicroseconds : 0
            if let errno = state.firingFault(matched: matched) {
                onFault(&state)
                return (.failure(StoreError.syscall(syscall, errno: errno, path: path)), delay)
            }
            do {
                return (.success(try body(&state)), delay)
            } catch {
                return (.failure(error), delay)
            }
        }
        if delay > 0 {
            var interval = timespec(tv_sec: delay / 1_000_000, tv_nsec: (delay % 1_000_000) * 1000)
            var remaining = timespec()
            while nanosleep(&interval, &remaining) != 0 && errno == EINTR { interval = remaining }
        }
        return try outcome.get()
    }

    /// Runs a non-mutating operation under the lock (after the power check).
    func access<T: Sendable>(path: String?, _ body: (inout SimulatedState) throws -> T) throws -> T {
        try state.withLock { state in
            if state.poweredOff { throw SimulatedState.powerLoss(path) }
            return try body(&state)
        }
    }

    // MARK: FileSystem

    /// Opens the file at `path`. `.existing` and `.readOnly` need the file (ENOENT,
    /// ``StoreError/Code/notFound``, otherwise) and are not counted as operations;
    /// `.createIfMissing` and `.createNew` are ``SimulatedOperationKind/create`` operations
    /// (whether or not the file existed), and `.createNew` fails with
    /// ``StoreError/Code/alreadyExists`` when it does. A missing parent directory gives
    /// ``StoreError/Code/notFound``; a directory at `path` gives EISDIR (``StoreError/Code/io``).
    /// A new file's directory entry is pending until ``syncDirectory(_:)`` of its directory.
    /// Writes through a `.readOnly` handle (and truncate, allocate) fail with EBADF.
    public func openFile(_ path: String, mode: OpenMode) throws -> any FileHandle {
        let readOnly = mode == .readOnly
        let open = { (state: inout SimulatedState) throws -> Int in
            let inode = try state.openInode(path, mode: mode, syscall: "open")
            return state.registerHandle(inode: inode, readOnly: readOnly)
        }
        let handleID: Int
        switch mode {
        case .existing, .readOnly:
            handleID = try access(path: path, open)
        case .createIfMissing, .createNew:
            handleID = try perform(.create, path: path, syscall: "open", open)
        }
        return SimulatedFileHandle(fileSystem: self, id: handleID, path: path)
    }

    /// Creates the directory at `path` (and its missing parents when `intermediate`);
    /// succeeds when it exists. Fails with ``StoreError/Code/notFound`` when a parent is
    /// missing and not `intermediate`, with ``StoreError/Code/alreadyExists`` when a file is
    /// at `path`. One ``SimulatedOperationKind/createDirectory`` operation however many
    /// directories it creates; each new entry is pending in its parent directory.
    public func createDirectory(_ path: String, intermediate: Bool) throws {
        try perform(.createDirectory, path: path, syscall: "mkdir") { state in
            try state.createDirectory(path, intermediate: intermediate)
        }
    }

    /// Makes the directory's pending entry operations durable, in order. When it fails (an
    /// injected fault), they are discarded instead: lookups still see them, a crash does not.
    public func syncDirectory(_ path: String) throws {
        try perform(
            .syncDirectory, path: path, syscall: "fsync",
            onFault: { state in state.failDirectorySync(path) },
            { state in try state.syncDirectory(path) })
    }

    /// Renames a file or directory, replacing a file (or an empty directory) at `to`. Within
    /// one directory this is one atomic pending entry operation; across directories it is an
    /// unlink pending in the source directory and a link pending in the destination
    /// directory, each made durable by syncing its directory. Renaming a name onto itself
    /// does nothing. Errors: ENOENT (``StoreError/Code/notFound``) for a missing source or
    /// target parent; EISDIR, ENOTDIR, ENOTEMPTY, EINVAL (``StoreError/Code/io``) as POSIX.
    public func rename(_ from: String, to: String) throws {
        try perform(.rename, path: from, destination: to, syscall: "rename") { state in
            try state.rename(from, to: to)
        }
    }

    /// Unlinks a file (pending in its directory). Open handles keep working on the inode.
    /// ENOENT (``StoreError/Code/notFound``) when missing, EISDIR for a directory.
    public func removeFile(_ path: String) throws {
        try perform(.removeFile, path: path, syscall: "unlink") { state in
            try state.removeFile(path)
        }
    }

    /// The names in the directory at `path`, sorted (current view, pending entries included).
    public func listDirectory(_ path: String) throws -> [String] {
        try access(path: path) { state in
            let id = try state.disk.directoryID(path, syscall: "opendir")
            return state.disk.directories[id]!.current.keys.sorted()
        }
    }

    /// What is at `path` in the current view: `.file`, `.directory`, or nil when nothing is
    /// (also when a parent is missing or is a file).
    public func itemType(_ path: String) throws -> ItemType? {
        try access(path: path) { state in
            switch state.disk.lookup(SimulatedDisk.components(of: path)) {
            case .file?: return .file
            case .directory?: return .directory
            case nil: return nil
            }
        }
    }

    /// Takes the exclusive lock of the file at `path` (per inode, as `flock`), creating the
    /// file as `openFile(path, mode: .createIfMissing)` does; a ``SimulatedOperationKind/create``
    /// operation. Fails with ``StoreError/Code/locked`` while another lock on the same file
    /// is held in this file system. The lock holds the file open until released.
    public func lockFile(_ path: String) throws -> any FileLock {
        let (lockID, inode) = try perform(.create, path: path, syscall: "open") { state in
            let inode = try state.openInode(path, mode: .createIfMissing, syscall: "open")
            if state.locks[inode] != nil {
                throw StoreError(.locked, "\(path) is locked by another holder", path: path, errno: EWOULDBLOCK)
            }
            let lockID = state.nextLockID
            state.nextLockID += 1
            state.locks[inode] = lockID
            state.changeOpenCount(of: inode, by: 1)
            return (lockID, inode)
        }
        return SimulatedFileLock(fileSystem: self, id: lockID, inode: inode)
    }

    // MARK: Inspection and direct manipulation

    /// The bytes reads of the file at `path` see now (nil when no file is there). Works
    /// after ``powerOff()`` too.
    public func currentContents(_ path: String) -> [UInt8]? {
        state.withLock { state in
            guard case .file(let id)? = state.disk.lookup(SimulatedDisk.components(of: path)) else { return nil }
            return state.disk.inodes[id]!.current.bytes
        }
    }

    /// The bytes a ``CrashMode/dropAllUnsynced`` crash would leave at `path`: looked up
    /// through durable directory entries only, then the file's durable bytes. Nil when the
    /// durable entries do not lead to a file.
    public func durableContents(_ path: String) -> [UInt8]? {
        state.withLock { state in
            guard case .file(let id)? = state.disk.lookup(SimulatedDisk.components(of: path), durable: true),
                let inode = state.disk.inodes[id]
            else { return nil }
            return inode.durable.bytes
        }
    }

    /// Overwrites bytes "on the disk" of the file at `path` (looked up in the current view,
    /// else through durable entries): both the durable bytes and what reads see, extending
    /// with zeros if `offset` is past the end. Not an operation: not counted, not hooked, not
    /// faulted, not limited by ``capacityBytes``. For corruption tests. Traps if no file is
    /// at `path`.
    public func overwriteDurably(_ path: String, at offset: Int, with bytes: [UInt8]) {
        precondition(offset >= 0, "negative offset")
        state.withLock { state in
            let components = SimulatedDisk.components(of: path)
            let entry = state.disk.lookup(components) ?? state.disk.lookup(components, durable: true)
            guard case .file(let id)? = entry else { preconditionFailure("overwriteDurably: no file at \(path)") }
            let before = state.disk.inodes[id]!.current.count
            state.disk.inodes[id]!.durable.write(bytes, at: offset)
            state.disk.inodes[id]!.current.write(bytes, at: offset)
            if !state.disk.inodes[id]!.pending.isEmpty {
                // Replaying the pending operations onto durable would no longer give current.
                state.disk.inodes[id]!.coherent = false
            }
            if state.disk.inodes[id]!.isCharged {
                state.usedBytes += state.disk.inodes[id]!.current.count - before
            }
        }
    }
}
