// A minimal, private stand-in for SMXStore's `POSIXFileSystem`, which is being written in
// parallel. Delete this file when `POSIXFileSystem` lands and switch the one line in
// FileSystemChoice.swift to it. Not a reference implementation: just enough of the
// `FileSystem` contract (O_CLOEXEC|O_NOFOLLOW, positional write-all with EINTR handling,
// fdatasync, fsync, posix_fallocate, directory fsync, flock) to run the benchmarks on a real disk.
#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import SMXStore

struct TemporaryPOSIXFileSystem: FileSystem {
    func openFile(_ path: String, mode: OpenMode) throws -> any FileHandle {
        var flags = O_CLOEXEC | O_NOFOLLOW
        switch mode {
        case .existing: flags |= O_RDWR
        case .readOnly: flags |= O_RDONLY
        case .createIfMissing: flags |= O_RDWR | O_CREAT
        case .createNew: flags |= O_RDWR | O_CREAT | O_EXCL
        }
        let fd = try retrying("open", path) { open(path, flags, 0o644) }
        return TemporaryPOSIXFileHandle(path: path, fd: fd)
    }

    func createDirectory(_ path: String, intermediate: Bool) throws {
        if intermediate {
            let parent = Path.directory(of: path)
            if parent != path, parent != ".", parent != "/", try itemType(parent) == nil {
                try createDirectory(parent, intermediate: true)
            }
        }
        if mkdir(path, 0o755) != 0 {
            let error = errno
            if error == EEXIST, try itemType(path) == .directory { return }
            throw StoreError.syscall("mkdir", errno: error, path: path)
        }
    }

    func syncDirectory(_ path: String) throws {
        let fd = try retrying("open", path) { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { _ = Glibc.close(fd) }
        if fsync(fd) != 0 { throw StoreError.syscall("fsync", errno: errno, path: path) }
    }

    func rename(_ from: String, to: String) throws {
        if Glibc.rename(from, to) != 0 { throw StoreError.syscall("rename", errno: errno, path: from) }
    }

    func removeFile(_ path: String) throws {
        if unlink(path) != 0 { throw StoreError.syscall("unlink", errno: errno, path: path) }
    }

    func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw StoreError.syscall("opendir", errno: errno, path: path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    func itemType(_ path: String) throws -> ItemType? {
        var info = stat()
        if lstat(path, &info) != 0 {
            if errno == ENOENT { return nil }
            throw StoreError.syscall("lstat", errno: errno, path: path)
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .file
        case S_IFDIR: return .directory
        default: return .other
        }
    }

    func lockFile(_ path: String) throws -> any FileLock {
        let fd = try retrying("open", path) { open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let error = errno
            _ = Glibc.close(fd)
            throw StoreError.syscall("flock", errno: error, path: path)
        }
        return TemporaryPOSIXFileLock(fd: fd)
    }
}

final class TemporaryPOSIXFileHandle: FileHandle {
    let path: String
    private let descriptor: Atomic<Int32>

    init(path: String, fd: Int32) {
        self.path = path
        self.descriptor = Atomic(fd)
    }

    private func fd() throws -> Int32 {
        let fd = descriptor.load(ordering: .acquiring)
        guard fd >= 0 else { throw StoreError(.closed, "file is closed", path: path) }
        return fd
    }

    func size() throws -> Int {
        var info = stat()
        if fstat(try fd(), &info) != 0 { throw StoreError.syscall("fstat", errno: errno, path: path) }
        return Int(info.st_size)
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int {
        let fd = try fd()
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw StoreError.syscall("pread", errno: errno, path: path)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        let fd = try fd()
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw StoreError.syscall("pwrite", errno: errno, path: path)
            }
            done += n
        }
    }

    func sync() throws {
        if fdatasync(try fd()) != 0 { throw StoreError.syscall("fdatasync", errno: errno, path: path) }
    }

    func fullSync() throws {
        if fsync(try fd()) != 0 { throw StoreError.syscall("fsync", errno: errno, path: path) }
    }

    func allocate(offset: Int, length: Int) throws {
        // posix_fallocate is fallocate(fd, 0, ...) on file systems that support it (glibc
        // does not export fallocate itself to Swift); it returns the error instead of errno.
        let fd = try fd()
        while true {
            let result = posix_fallocate(fd, off_t(offset), off_t(length))
            if result == 0 { return }
            if result == EINTR { continue }
            throw StoreError.syscall("fallocate", errno: result, path: path)
        }
    }

    func truncate(to size: Int) throws {
        if ftruncate(try fd(), off_t(size)) != 0 { throw StoreError.syscall("ftruncate", errno: errno, path: path) }
    }

    func close() throws {
        let fd = descriptor.exchange(-1, ordering: .acquiringAndReleasing)
        guard fd >= 0 else { throw StoreError(.closed, "file is closed", path: path) }
        if Glibc.close(fd) != 0 && errno != EINTR { throw StoreError.syscall("close", errno: errno, path: path) }
    }

    deinit {
        let fd = descriptor.load(ordering: .relaxed)
        if fd >= 0 { _ = Glibc.close(fd) }
    }
}

final class TemporaryPOSIXFileLock: FileLock {
    private let descriptor: Atomic<Int32>

    init(fd: Int32) { descriptor = Atomic(fd) }

    func unlock() {
        let fd = descriptor.exchange(-1, ordering: .acquiringAndReleasing)
        if fd >= 0 { _ = Glibc.close(fd) }
    }

    deinit { unlock() }
}

private func retrying(_ name: String, _ path: String, _ call: () -> Int32) throws -> Int32 {
    while true {
        let result = call()
        if result >= 0 { return result }
        if errno == EINTR { continue }
        throw StoreError.syscall(name, errno: errno, path: path)
    }
}
