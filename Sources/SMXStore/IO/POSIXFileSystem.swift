import Glibc

/// The production ``FileSystem``: Linux syscalls, each wrapped once in ``Syscalls``.
///
/// Files are opened with `O_CLOEXEC | O_NOFOLLOW`, created with mode 0640 and directories
/// with 0750 (both before the umask). Only regular files can be opened. Every error is a
/// ``StoreError`` with the path and `errno`.
public struct POSIXFileSystem: FileSystem {
    static let fileMode: mode_t = 0o640
    static let directoryMode: mode_t = 0o750

    public init() {}

    public func openFile(_ path: String, mode: OpenMode) throws -> any FileHandle {
        let access: Int32 =
            switch mode {
            case .existing: O_RDWR
            case .readOnly: O_RDONLY
            case .createIfMissing: O_RDWR | O_CREAT
            case .createNew: O_RDWR | O_CREAT | O_EXCL
            }
        let fd = try Syscalls.open(
            path, flags: access | O_CLOEXEC | O_NOFOLLOW, mode: Self.fileMode)
        do throws(StoreError) {
            let type = Self.itemType(of: try Syscalls.fstat(fd, path: path))
            if type == .directory {
                // What the kernel answers for a directory opened for writing.
                throw StoreError.syscall("open", errno: EISDIR, path: path)
            }
            if type != .file {
                throw StoreError(
                    .invalidArgument, "open refused: not a regular file", path: path,
                    errno: EINVAL)
            }
        } catch {
            try? Syscalls.close(fd, path: path)
            throw error
        }
        return POSIXFileHandle(descriptor: fd, path: path)
    }

    public func createDirectory(_ path: String, intermediate: Bool) throws {
        try makeDirectory(Self.trimmingTrailingSlashes(path), intermediate: intermediate)
    }

    public func syncDirectory(_ path: String) throws {
        let fd = try Syscalls.open(path, flags: O_RDONLY | O_DIRECTORY | O_CLOEXEC, mode: 0)
        do throws(StoreError) {
            try Syscalls.fsync(fd, path: path)
        } catch {
            try? Syscalls.close(fd, path: path)
            throw error
        }
        try Syscalls.close(fd, path: path)
    }

    public func rename(_ from: String, to: String) throws {
        try Syscalls.rename(from, to: to)
    }

    public func removeFile(_ path: String) throws {
        try Syscalls.unlink(path)
    }

    /// The names sorted by their UTF-8 bytes.
    public func listDirectory(_ path: String) throws -> [String] {
        let stream = try Syscalls.opendir(path)
        defer { try? Syscalls.closedir(stream, path: path) }
        var names: [String] = []
        while let name = try Syscalls.readdir(stream, path: path) {
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// `lstat`: a symlink is ``ItemType/other``, whatever it points to. A path whose
    /// parent is missing or is not a directory has nothing at it.
    public func itemType(_ path: String) throws -> ItemType? {
        do throws(StoreError) {
            return Self.itemType(of: try Syscalls.lstat(path))
        } catch {
            if error.errno == ENOENT || error.errno == ENOTDIR { return nil }
            throw error
        }
    }

    public func lockFile(_ path: String) throws -> any FileLock {
        let fd = try Syscalls.open(
            path, flags: O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode: Self.fileMode)
        do throws(StoreError) {
            try Syscalls.flock(fd, LOCK_EX | LOCK_NB, path: path)
        } catch {
            try? Syscalls.close(fd, path: path)
            if error.errno == EWOULDBLOCK {
                throw StoreError(
                    .locked, "\(path) is locked by another holder", path: path,
                    errno: EWOULDBLOCK)
            }
            throw error
        }
        return POSIXFileLock(descriptor: fd, path: path)
    }

    // MARK: Internals

    /// `mkdir`, or `mkdir -p` when `intermediate`. An existing directory (or a symlink to
    /// one) is success; anything else already at `path` is ``StoreError/Code/alreadyExists``.
    private func makeDirectory(_ path: String, intermediate: Bool) throws(StoreError) {
        do throws(StoreError) {
            try Syscalls.mkdir(path, mode: Self.directoryMode)
        } catch {
            switch error.errno {
            case EEXIST:
                if Self.itemType(of: try Syscalls.stat(path)) == .directory { return }
                throw StoreError(
                    .alreadyExists, "createDirectory: exists and is not a directory",
                    path: path, errno: EEXIST)
            case ENOENT where intermediate:
                let parent = Path.directory(of: path)
                if parent == path { throw error }
                try makeDirectory(parent, intermediate: true)
                // Not intermediate: the parent exists now; tolerates a concurrent creator.
                try makeDirectory(path, intermediate: false)
            default:
                throw error
            }
        }
    }

    private static func trimmingTrailingSlashes(_ path: String) -> String {
        var path = path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }

    private static func itemType(of status: stat) -> ItemType {
        switch status.st_mode & S_IFMT {
        case S_IFREG: .file
        case S_IFDIR: .directory
        default: .other
        }
    }
}
