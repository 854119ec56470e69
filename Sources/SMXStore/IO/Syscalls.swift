import CLinuxShims
import Glibc

/// Every syscall the POSIX file layer makes, each wrapped exactly once (STYLE.md, after
/// swift-system's `Syscalls.swift`). Nothing else in the package calls the OS for files.
///
/// A wrapper turns a failure into a ``StoreError`` carrying the call's name, `errno` and
/// the path, and retries `EINTR` where a retry is safe. Three calls are never retried:
/// - `fsync`/`fdatasync`: a failed sync is final (ARCHITECTURE.md rule 6). After a failed
///   writeback the kernel may mark the pages clean, so a second sync can report success
///   for data that never reached the disk.
/// - `close`/`closedir`: Linux releases the descriptor even when interrupted, so a retry
///   could close a descriptor another thread has just been given. `EINTR` there counts as
///   success.
///
/// Paths containing a NUL byte are refused (``StoreError/Code/invalidArgument``): C would
/// silently cut them short and act on another file.
enum Syscalls {
    // MARK: Descriptors

    static func open(_ path: String, flags: Int32, mode: mode_t) throws(StoreError) -> Int32 {
        try checkPath(path, "open")
        return try retrying("open", path: path) { Glibc.open(path, flags, mode) }
    }

    static func close(_ fd: Int32, path: String) throws(StoreError) {
        if Glibc.close(fd) == -1 {
            let code = Glibc.errno
            if code != EINTR { throw .syscall("close", errno: code, path: path) }
        }
    }

    static func fstat(_ fd: Int32, path: String) throws(StoreError) -> stat {
        var status = Glibc.stat()
        _ = try retrying("fstat", path: path) { Glibc.fstat(fd, &status) }
        return status
    }

    static func flock(_ fd: Int32, _ operation: Int32, path: String) throws(StoreError) {
        _ = try retrying("flock", path: path) { systemFlock(fd, operation) }
    }

    // MARK: Byte-range locks

    /// `fcntl(F_OFD_SETLK)` with `type` `F_RDLCK`, `F_WRLCK` or `F_UNLCK` on
    /// `[start, start + length)` (`length` 0: to the end of the file and beyond). Returns
    /// false when another open file description holds a conflicting lock (`EAGAIN` or
    /// `EACCES`); never waits.
    static func setRangeLock(
        _ fd: Int32, type: Int32, start: Int, length: Int, path: String
    ) throws(StoreError) -> Bool {
        do throws(StoreError) {
            _ = try retrying("fcntl(F_OFD_SETLK)", path: path) {
                smx_ofd_setlk(fd, type, off_t(start), off_t(length))
            }
            return true
        } catch {
            if error.errno == EAGAIN || error.errno == EACCES { return false }
            throw error
        }
    }

    /// `fcntl(F_OFD_GETLK)`: the type of a lock of another open file description that a
    /// lock of `type` on the range would conflict with (`F_UNLCK`: none).
    static func testRangeLock(
        _ fd: Int32, type: Int32, start: Int, length: Int, path: String
    ) throws(StoreError) -> Int32 {
        var conflict = Int32(F_UNLCK)
        _ = try retrying("fcntl(F_OFD_GETLK)", path: path) {
            smx_ofd_getlk(fd, type, off_t(start), off_t(length), &conflict)
        }
        return conflict
    }

    // MARK: File data

    /// One `pread`; returns how many bytes it read (0 at end of file).
    static func pread(
        _ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int, path: String
    ) throws(StoreError) -> Int {
        try retrying("pread", path: path) {
            Glibc.pread(fd, buffer.baseAddress, buffer.count, off_t(offset))
        }
    }

    /// One `pwrite`; returns how many bytes it wrote (possibly fewer than asked).
    static func pwrite(
        _ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String
    ) throws(StoreError) -> Int {
        try retrying("pwrite", path: path) {
            Glibc.pwrite(fd, bytes.baseAddress, bytes.count, off_t(offset))
        }
    }

    /// Never retried (see the type's documentation).
    static func fdatasync(_ fd: Int32, path: String) throws(StoreError) {
        if Glibc.fdatasync(fd) == -1 {
            throw .syscall("fdatasync", errno: Glibc.errno, path: path)
        }
    }

    /// Never retried (see the type's documentation).
    static func fsync(_ fd: Int32, path: String) throws(StoreError) {
        if Glibc.fsync(fd) == -1 {
            throw .syscall("fsync", errno: Glibc.errno, path: path)
        }
    }

    /// `fallocate(fd, 0, offset, length)`.
    static func fallocate(_ fd: Int32, offset: Int, length: Int, path: String) throws(StoreError) {
        _ = try retrying("fallocate", path: path) {
            smx_fallocate(fd, off_t(offset), off_t(length))
        }
    }

    /// `posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)`: the kernel may drop the file's clean
    /// cached pages. Advice only; it returns the error number instead of setting errno.
    static func dropCachedPages(_ fd: Int32, path: String) throws(StoreError) {
        let result = Glibc.posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
        if result != 0 { throw .syscall("posix_fadvise", errno: result, path: path) }
    }

    /// `sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE)`: starts writing the
    /// range's dirty pages back, without waiting and without making them durable.
    static func startWriteback(_ fd: Int32, offset: Int, length: Int, path: String) throws(StoreError) {
        _ = try retrying("sync_file_range", path: path) {
            smx_start_writeback(fd, off_t(offset), off_t(length))
        }
    }

    static func ftruncate(_ fd: Int32, to size: Int, path: String) throws(StoreError) {
        _ = try retrying("ftruncate", path: path) { Glibc.ftruncate(fd, off_t(size)) }
    }

    // MARK: Names

    /// `stat`: follows symlinks.
    static func stat(_ path: String) throws(StoreError) -> stat {
        try checkPath(path, "stat")
        var status = Glibc.stat()
        _ = try retrying("stat", path: path) { systemStat(path, &status) }
        return status
    }

    /// `lstat`: describes a symlink itself.
    static func lstat(_ path: String) throws(StoreError) -> stat {
        try checkPath(path, "lstat")
        var status = Glibc.stat()
        _ = try retrying("lstat", path: path) { Glibc.lstat(path, &status) }
        return status
    }

    static func mkdir(_ path: String, mode: mode_t) throws(StoreError) {
        try checkPath(path, "mkdir")
        _ = try retrying("mkdir", path: path) { Glibc.mkdir(path, mode) }
    }

    /// Errors carry `from` as their path and name `to` in the message.
    static func rename(_ from: String, to: String) throws(StoreError) {
        try checkPath(from, "rename")
        try checkPath(to, "rename")
        _ = try retrying("rename to \(to)", path: from) { Glibc.rename(from, to) }
    }

    static func unlink(_ path: String) throws(StoreError) {
        try checkPath(path, "unlink")
        _ = try retrying("unlink", path: path) { Glibc.unlink(path) }
    }

    // MARK: Directory streams

    static func opendir(_ path: String) throws(StoreError) -> OpaquePointer {
        try checkPath(path, "opendir")
        while true {
            if let stream = Glibc.opendir(path) { return stream }
            let code = Glibc.errno
            if code != EINTR { throw .syscall("opendir", errno: code, path: path) }
        }
    }

    /// The next entry's name, "." and ".." included, or `nil` at the end.
    static func readdir(_ stream: OpaquePointer, path: String) throws(StoreError) -> String? {
        Glibc.errno = 0
        guard let entry = Glibc.readdir(stream) else {
            let code = Glibc.errno
            if code != 0 { throw .syscall("readdir", errno: code, path: path) }
            return nil
        }
        return withUnsafePointer(to: &entry.pointee.d_name) { name in
            name.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: name.pointee)) {
                String(cString: $0)
            }
        }
    }

    static func closedir(_ stream: OpaquePointer, path: String) throws(StoreError) {
        if Glibc.closedir(stream) == -1 {
            let code = Glibc.errno
            if code != EINTR { throw .syscall("closedir", errno: code, path: path) }
        }
    }

    // MARK: Helpers

    /// Calls `call` until it returns something other than -1 or fails with something other
    /// than `EINTR`.
    @inline(__always)
    private static func retrying<Result: FixedWidthInteger & SignedInteger>(
        _ name: @autoclosure () -> String, path: String, _ call: () -> Result
    ) throws(StoreError) -> Result {
        while true {
            let result = call()
            if result != -1 { return result }
            let code = Glibc.errno
            if code != EINTR { throw .syscall(name(), errno: code, path: path) }
        }
    }

    private static func checkPath(_ path: String, _ name: String) throws(StoreError) {
        if path.utf8.contains(0) {
            throw StoreError(
                .invalidArgument, "\(name) refused: the path contains a NUL byte",
                path: path, errno: EINVAL)
        }
    }
}

// Glibc names a struct and a function `stat` and `flock`; inside `Syscalls` the names
// also mean its own methods. At file scope a call picks the C function.

private func systemStat(_ path: String, _ status: inout stat) -> Int32 {
    stat(path, &status)
}

private func systemFlock(_ fd: Int32, _ operation: Int32) -> Int32 {
    flock(fd, operation)
}
