import SMXStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A ``FileSystem`` that passes every call to another one, except that positional reads
/// chosen by a predicate fail with EIO. The ``SimulatedFileSystem`` counts and faults only
/// mutating operations; this wrapper covers the read side (a bad sector under a reader).
///
/// The predicate sees the path the handle was opened with and the read's offset and
/// length; it can be changed at any time (``failReads(where:)``), also for handles already
/// open. Handles opened through the wrapper are wrapped; everything else is the base's.
public final class ReadFaultFileSystem: FileSystem, @unchecked Sendable {
    public typealias Predicate = @Sendable (_ path: String, _ offset: Int, _ count: Int) -> Bool

    public let base: any FileSystem
    private let lock = SimpleLock()
    private var predicate: Predicate?
    private var failed = 0

    public init(base: any FileSystem) {
        self.base = base
    }

    /// Makes reads for which `predicate` returns true fail with EIO; nil stops failing.
    public func failReads(where predicate: Predicate?) {
        lock.withLock { self.predicate = predicate }
    }

    /// How many reads failed so far.
    public var failedReads: Int {
        lock.withLock { failed }
    }

    func shouldFail(path: String, offset: Int, count: Int) -> Bool {
        let predicate = lock.withLock { self.predicate }
        guard let predicate, predicate(path, offset, count) else { return false }
        lock.withLock { failed += 1 }
        return true
    }

    public func openFile(_ path: String, mode: OpenMode) throws -> any FileHandle {
        ReadFaultFileHandle(base: try base.openFile(path, mode: mode), fileSystem: self)
    }

    public func createDirectory(_ path: String, intermediate: Bool) throws {
        try base.createDirectory(path, intermediate: intermediate)
    }

    public func syncDirectory(_ path: String) throws { try base.syncDirectory(path) }
    public func rename(_ from: String, to: String) throws { try base.rename(from, to: to) }
    public func removeFile(_ path: String) throws { try base.removeFile(path) }
    public func listDirectory(_ path: String) throws -> [String] { try base.listDirectory(path) }
    public func itemType(_ path: String) throws -> ItemType? { try base.itemType(path) }
    public func lockFile(_ path: String) throws -> any FileLock { try base.lockFile(path) }
}

final class ReadFaultFileHandle: FileHandle, @unchecked Sendable {
    let base: any FileHandle
    let fileSystem: ReadFaultFileSystem

    init(base: any FileHandle, fileSystem: ReadFaultFileSystem) {
        self.base = base
        self.fileSystem = fileSystem
    }

    var path: String { base.path }

    func size() throws -> Int { try base.size() }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int {
        if fileSystem.shouldFail(path: base.path, offset: offset, count: buffer.count) {
            throw StoreError.syscall("pread", errno: EIO, path: base.path)
        }
        return try base.read(into: buffer, at: offset)
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws { try base.write(bytes, at: offset) }
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
