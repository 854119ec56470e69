import Glibc
import Synchronization

/// An open regular file of ``POSIXFileSystem``.
///
/// Reads and writes are positional (`pread`/`pwrite`), so threads share no file offset and
/// need no lock. Only the descriptor's lifetime is guarded, lock-free: each operation
/// counts itself in `state` while it runs (one atomic add and one subtract), `close()`
/// marks the handle closed, and whoever leaves last releases the descriptor. An operation
/// therefore never runs on a descriptor number that was closed and then reused for
/// another file.
///
/// Lifetime: after `close()` every call throws ``StoreError/Code/closed``. If operations
/// are still running on other threads when `close()` is called, the descriptor is closed
/// when the last of them returns and an error from that `close(2)` is not reported (data
/// errors are reported by `sync()`, not by `close`). A handle dropped without `close()`
/// closes its descriptor in `deinit`.
final class POSIXFileHandle: FileHandle, Sendable {
    let path: String
    private let descriptor: Int32
    /// Bit 0: closed. Bit 1: descriptor released. Higher bits: operations in progress,
    /// counted in steps of ``user``.
    private let state = Atomic<Int>(0)

    private static let closedBit = 1
    private static let releasedBit = 2
    private static let user = 4
    /// Zeros are written in chunks of this size when `fallocate` is not supported.
    private static let zeroChunk = 64 * 1024

    /// Takes ownership of `descriptor`.
    init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    deinit {
        // No operation can be running: nobody else holds a reference.
        if state.load(ordering: .acquiring) & Self.releasedBit == 0 {
            try? Syscalls.close(descriptor, path: path)
        }
    }

    func size() throws -> Int {
        try withDescriptor("size") { fd throws(StoreError) in
            Int(try Syscalls.fstat(fd, path: path).st_size)
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int {
        try withDescriptor("read") { fd throws(StoreError) in
            try checkRange("read", offset: offset, length: buffer.count)
            var done = 0
            while done < buffer.count {
                let got = try Syscalls.pread(
                    fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]),
                    at: offset + done, path: path)
                if got == 0 { break }
                done += got
            }
            return done
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        try withDescriptor("write") { fd throws(StoreError) in
            try checkRange("write", offset: offset, length: bytes.count)
            try writeAll(fd, bytes, at: offset)
        }
    }

    func sync() throws {
        try withDescriptor("sync") { fd throws(StoreError) in
            try Syscalls.fdatasync(fd, path: path)
        }
    }

    func dropCachedPages() throws {
        try withDescriptor("dropCachedPages") { fd throws(StoreError) in
            try Syscalls.dropCachedPages(fd, path: path)
        }
    }

    func startWriteback(offset: Int, length: Int) throws {
        try withDescriptor("startWriteback") { fd throws(StoreError) in
            try Syscalls.startWriteback(fd, offset: offset, length: length, path: path)
        }
    }

    func fullSync() throws {
        try withDescriptor("fullSync") { fd throws(StoreError) in
            try Syscalls.fsync(fd, path: path)
        }
    }

    /// `fallocate(fd, 0, offset, length)`. Where the file system does not support it
    /// (`EOPNOTSUPP`), zeros are written over the part of the range beyond the current
    /// size instead, so the size still grows; that fallback is not atomic with concurrent
    /// writes beyond the old end of file, so allocate a range before writing into it.
    func allocate(offset: Int, length: Int) throws {
        try withDescriptor("allocate") { fd throws(StoreError) in
            try checkRange("allocate", offset: offset, length: length)
            if length == 0 { return }
            do throws(StoreError) {
                try Syscalls.fallocate(fd, offset: offset, length: length, path: path)
            } catch {
                guard error.errno == EOPNOTSUPP else { throw error }
                try writeZeros(fd, upTo: offset + length, from: offset)
            }
        }
    }

    func truncate(to size: Int) throws {
        try withDescriptor("truncate") { fd throws(StoreError) in
            try checkRange("truncate", offset: size, length: 0)
            try Syscalls.ftruncate(fd, to: size, path: path)
        }
    }

    /// `fcntl(F_OFD_SETLK)`: see ``FileHandle/tryLockRange(offset:length:kind:)``.
    func tryLockRange(offset: Int, length: Int, kind: RangeLockKind) throws -> Bool {
        try withDescriptor("tryLockRange") { fd throws(StoreError) in
            try checkRange("tryLockRange", offset: offset, length: length)
            return try Syscalls.setRangeLock(
                fd, type: Self.lockType(kind), start: offset, length: length, path: path)
        }
    }

    func unlockRange(offset: Int, length: Int) throws {
        try withDescriptor("unlockRange") { fd throws(StoreError) in
            try checkRange("unlockRange", offset: offset, length: length)
            _ = try Syscalls.setRangeLock(
                fd, type: Int32(F_UNLCK), start: offset, length: length, path: path)
        }
    }

    /// `fcntl(F_OFD_GETLK)`: see ``FileHandle/isRangeLockedByOthers(offset:length:kind:)``.
    func isRangeLockedByOthers(offset: Int, length: Int, kind: RangeLockKind) throws -> Bool {
        try withDescriptor("isRangeLockedByOthers") { fd throws(StoreError) in
            try checkRange("isRangeLockedByOthers", offset: offset, length: length)
            return try Syscalls.testRangeLock(
                fd, type: Self.lockType(kind), start: offset, length: length, path: path)
                != Int32(F_UNLCK)
        }
    }

    func close() throws {
        let old = state.bitwiseOr(Self.closedBit, ordering: .acquiringAndReleasing).oldValue
        if old & Self.closedBit != 0 { throw closedError("close") }
        try releaseIfUnused()
    }

    // MARK: Internals

    /// Runs `body` with the descriptor, which stays open until `body` returns.
    @inline(__always)
    private func withDescriptor<Result>(
        _ operation: StaticString, _ body: (Int32) throws(StoreError) -> Result
    ) throws(StoreError) -> Result {
        let old = state.add(Self.user, ordering: .acquiring).oldValue
        defer { leave() }
        guard old & Self.closedBit == 0 else { throw closedError(operation) }
        return try body(descriptor)
    }

    @inline(__always)
    private func leave() {
        let now = state.subtract(Self.user, ordering: .acquiringAndReleasing).newValue
        if now == Self.closedBit {
            // The last user of a closed handle; `close()` has no one to report to by now.
            try? releaseIfUnused()
        }
    }

    /// Closes the descriptor if the handle is closed, no operation is running and nobody
    /// has closed it yet. Exactly one caller wins the exchange.
    private func releaseIfUnused() throws(StoreError) {
        let won = state.compareExchange(
            expected: Self.closedBit, desired: Self.closedBit | Self.releasedBit,
            ordering: .acquiringAndReleasing
        ).exchanged
        if won { try Syscalls.close(descriptor, path: path) }
    }

    private static func lockType(_ kind: RangeLockKind) -> Int32 {
        switch kind {
        case .shared: Int32(F_RDLCK)
        case .exclusive: Int32(F_WRLCK)
        }
    }

    private func closedError(_ operation: StaticString) -> StoreError {
        StoreError(.closed, "\(operation) on a closed file", path: path, errno: EBADF)
    }

    /// Refuses negative offsets and lengths and ranges whose end does not fit in an `Int`.
    private func checkRange(_ operation: StaticString, offset: Int, length: Int) throws(StoreError) {
        if offset < 0 || length < 0 || offset > Int.max - length {
            throw StoreError(
                .invalidArgument, "\(operation): bad range at \(offset) of length \(length)",
                path: path, errno: EINVAL)
        }
    }

    /// `pwrite` until every byte is written.
    private func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int) throws(StoreError) {
        var done = 0
        while done < bytes.count {
            let wrote = try Syscalls.pwrite(
                fd, UnsafeRawBufferPointer(rebasing: bytes[done...]), at: offset + done, path: path)
            if wrote == 0 {
                throw StoreError(
                    .io, "pwrite made no progress at \(offset + done)", path: path, errno: EIO)
            }
            done += wrote
        }
    }

    /// Writes zeros over `[max(start, size), end)`: the `fallocate` fallback.
    private func writeZeros(_ fd: Int32, upTo end: Int, from start: Int) throws(StoreError) {
        var position = max(start, Int(try Syscalls.fstat(fd, path: path).st_size))
        guard position < end else { return }
        let zeros = UnsafeMutableRawBufferPointer.allocate(
            byteCount: min(Self.zeroChunk, end - position), alignment: 1)
        defer { zeros.deallocate() }
        zeros.initializeMemory(as: UInt8.self, repeating: 0)
        while position < end {
            let count = min(zeros.count, end - position)
            try writeAll(fd, UnsafeRawBufferPointer(rebasing: zeros[..<count]), at: position)
            position += count
        }
    }
}
