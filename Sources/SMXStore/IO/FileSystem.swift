/// The one file-I/O layer every store goes through (ARCHITECTURE.md, "One file-I/O layer").
///
/// Two implementations sit behind it: ``POSIXFileSystem`` for production and the
/// simulated file system in `SMXTestSupport`, which keeps per file what is durable and
/// what is only written, and can lose, keep or tear unsynced writes on a simulated crash.
/// Stores never call the OS directly, so every store's crash test runs on the simulator.
///
/// Paths are absolute or relative strings with `/` separators. Every method throws
/// ``StoreError``.
public protocol FileSystem: Sendable {
    /// Opens (and with `create`, creates) a regular file for reading and writing.
    /// Symlinks are refused (`O_NOFOLLOW`); descriptors are not inherited (`O_CLOEXEC`).
    /// A created file's directory entry is durable only after ``syncDirectory(_:)``.
    func openFile(_ path: String, mode: OpenMode) throws -> any FileHandle

    /// Creates a directory (and its parents when `intermediate`); succeeds if it exists.
    /// The new entry is durable only after syncing the parent directory.
    func createDirectory(_ path: String, intermediate: Bool) throws

    /// Makes every entry change (create, rename, unlink) in `path` durable (fsync of the
    /// directory).
    func syncDirectory(_ path: String) throws

    /// Renames atomically, replacing `to` if it exists. Durable after syncing the
    /// directories involved.
    func rename(_ from: String, to: String) throws

    /// Removes a file. Durable after syncing its directory.
    func removeFile(_ path: String) throws

    /// The names in a directory, without "." and "..", sorted.
    func listDirectory(_ path: String) throws -> [String]

    /// What is at `path`, or `nil` when nothing is.
    func itemType(_ path: String) throws -> ItemType?

    /// Takes an exclusive advisory lock (flock) on `path`, creating the file if needed.
    /// Fails with ``StoreError/Code/locked`` if another holder has it. The lock lasts until
    /// ``FileLock/unlock()`` or the process ends.
    func lockFile(_ path: String) throws -> any FileLock
}

/// How ``FileSystem/openFile(_:mode:)`` treats an existing or missing file.
public enum OpenMode: Sendable, Equatable {
    /// The file must exist.
    case existing
    /// The file must exist; writes are refused.
    case readOnly
    /// Create the file if missing.
    case createIfMissing
    /// Create the file; fail with ``StoreError/Code/alreadyExists`` if it exists.
    case createNew
}

public enum ItemType: Sendable, Equatable {
    case file
    case directory
    case other
}

/// An open file. Reads and writes are positional; there is no file offset to share.
/// Handles are safe to use from several threads at once.
public protocol FileHandle: AnyObject, Sendable {
    var path: String { get }

    /// The file's current size in bytes.
    func size() throws -> Int

    /// Reads up to `buffer.count` bytes at `offset`; returns how many were read (fewer only
    /// at end of file). Retries on EINTR and short reads.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int

    /// Writes all of `bytes` at `offset`, retrying on EINTR and short writes. The bytes
    /// are durable only after ``sync()``.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws

    /// `fdatasync`: makes the written data (and the size, if it changed) durable.
    /// Per ARCHITECTURE.md rule 6 a failed sync is final: callers must not retry it and
    /// trust the result.
    func sync() throws

    /// `fsync`: like ``sync()`` but also flushes all metadata.
    func fullSync() throws

    /// Reserves `[offset, offset + length)` on the device (`fallocate`, mode 0), extending
    /// the file size if needed, so later writes there do not fail with ENOSPC and do not
    /// change metadata that `fdatasync` must flush.
    func allocate(offset: Int, length: Int) throws

    /// Sets the file size (`ftruncate`).
    func truncate(to size: Int) throws

    /// Tells the kernel the file's cached pages will not be read again
    /// (`posix_fadvise(POSIX_FADV_DONTNEED)`; synced pages are dropped). For files whose
    /// owner keeps its own cache: a 4 KiB write into a large cached folio dirties, and
    /// writes back, the whole folio. Advice only: nothing changes what the file holds.
    func dropCachedPages() throws

    /// Starts writing `[offset, offset + length)` back to the device without waiting
    /// (`sync_file_range(SYNC_FILE_RANGE_WRITE)`), so that a later ``sync()`` has less
    /// left to do. Not a durability point: nothing is promised until ``sync()`` returns.
    func startWriteback(offset: Int, length: Int) throws

    /// Takes a byte-range lock on `[offset, offset + length)` (`length` 0: from `offset` to
    /// the end of the file, however far it grows) without waiting; returns whether it got it.
    ///
    /// The lock belongs to this open handle (Linux open-file-description locks,
    /// `F_OFD_SETLK`), not to the process: another handle on the same file conflicts with it
    /// whether it is in this process or another. It lasts until ``unlockRange(offset:length:)``,
    /// ``close()``, or the end of the process (the kernel closes the descriptor and drops the
    /// lock, also when the process is killed). Locks are advisory: reads and writes ignore
    /// them. The range may lie past the end of the file.
    ///
    /// This handle's own locks inside the range are replaced (an exclusive lock becomes
    /// shared and the other way round); parts outside it stay. Returns false, changing
    /// nothing, when another handle holds an overlapping exclusive lock, or any overlapping
    /// lock when `kind` is ``RangeLockKind/exclusive``. An exclusive lock needs a handle
    /// opened for writing and a shared one a handle opened for reading (EBADF,
    /// ``StoreError/Code/io``, otherwise); a bad range is ``StoreError/Code/invalidArgument``.
    func tryLockRange(offset: Int, length: Int, kind: RangeLockKind) throws -> Bool

    /// Releases this handle's locks inside `[offset, offset + length)` (`length` 0: to the
    /// end); parts of them outside the range stay locked. Nothing held there: nothing happens.
    func unlockRange(offset: Int, length: Int) throws

    /// Whether another handle holds a lock overlapping `[offset, offset + length)` that
    /// conflicts with a lock of `kind` (`F_OFD_GETLK`), i.e. whether
    /// ``tryLockRange(offset:length:kind:)`` would return false now. This handle's own locks
    /// never count. The answer can be out of date as soon as it is returned.
    func isRangeLockedByOthers(offset: Int, length: Int, kind: RangeLockKind) throws -> Bool

    /// Closes the handle, releasing its byte-range locks. Further calls throw
    /// ``StoreError/Code/closed``.
    func close() throws
}

/// The kind of a byte-range lock (``FileHandle/tryLockRange(offset:length:kind:)``).
public enum RangeLockKind: Sendable, Equatable {
    /// Compatible with other shared locks (`F_RDLCK`).
    case shared
    /// Compatible with no other lock (`F_WRLCK`).
    case exclusive
}

/// A held advisory lock.
public protocol FileLock: AnyObject, Sendable {
    func unlock()
}

extension FileHandle {
    /// No kernel page cache to advise (simulated and wrapping handles).
    public func dropCachedPages() throws {}

    /// No kernel writeback to start (simulated and wrapping handles).
    public func startWriteback(offset: Int, length: Int) throws {}

    /// Writes all of `bytes` at `offset`.
    public func write(_ bytes: [UInt8], at offset: Int) throws {
        try bytes.withUnsafeBytes { try write($0, at: offset) }
    }

    /// Writes zeros over `range`, at most 1 MiB per write; with `syncBytes`, `sync()`s after
    /// each that many bytes (not after the last: the caller syncs as it needs). Segment
    /// files are zero-filled so that later appends are overwrites of written blocks.
    public func writeZeros(_ range: Range<Int>, syncingEvery syncBytes: Int? = nil) throws {
        precondition(syncBytes.map { $0 > 0 } ?? true, "syncingEvery must be positive")
        let chunk = [UInt8](repeating: 0, count: min(syncBytes ?? (1 << 20), 1 << 20, max(range.count, 1)))
        var offset = range.lowerBound
        var unsynced = 0
        while offset < range.upperBound {
            let count = min(chunk.count, range.upperBound - offset)
            try chunk.withUnsafeBytes { try write(UnsafeRawBufferPointer(rebasing: $0.prefix(count)), at: offset) }
            offset += count
            unsynced += count
            if let syncBytes, unsynced >= syncBytes, offset < range.upperBound {
                try sync()
                unsynced = 0
            }
        }
    }

    /// Reads up to `count` bytes at `offset`; the result is shorter only at end of file.
    public func read(at offset: Int, count: Int) throws -> [UInt8] {
        if count == 0 { return [] }
        var result = [UInt8](repeating: 0, count: count)
        let got = try result.withUnsafeMutableBytes { try read(into: $0, at: offset) }
        if got < count { result.removeLast(count - got) }
        return result
    }

    /// Reads the whole file.
    public func readAll() throws -> [UInt8] {
        try read(at: 0, count: size())
    }
}

/// Path helpers shared by the stores (string paths, `/` separators).
public enum Path {
    public static func join(_ parts: String...) -> String {
        join(parts)
    }

    public static func join(_ parts: [String]) -> String {
        var result = ""
        for part in parts where !part.isEmpty {
            if result.isEmpty || result.hasSuffix("/") {
                result += part
            } else {
                result += "/" + part
            }
        }
        return result
    }

    /// The directory part of `path` ("." when there is none).
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// The last component of `path`.
    public static func name(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}

extension FileSystem {
    /// Creates `path` and every missing ancestor, syncing each parent whose entries changed,
    /// so the whole chain survives a power loss (rule 1 covers directories too).
    public func createDirectoryDurably(_ path: String) throws {
        var missing: [String] = []
        var current = path
        while try itemType(current) == nil {
            missing.append(current)
            let parent = Path.directory(of: current)
            if parent == current { break }
            current = parent
        }
        for directory in missing.reversed() {
            try createDirectory(directory, intermediate: false)
            try syncDirectory(Path.directory(of: directory))
        }
        guard try itemType(path) == .directory else {
            throw StoreError(.alreadyExists, "not a directory", path: path)
        }
    }
}
