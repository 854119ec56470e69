#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A handle on one inode of a ``SimulatedFileSystem``. It keeps working after the file is
/// renamed or unlinked. All of its state lives in the file system, under its lock.
final class SimulatedFileHandle: FileHandle {
    let fileSystem: SimulatedFileSystem
    let id: Int
    let path: String

    init(fileSystem: SimulatedFileSystem, id: Int, path: String) {
        self.fileSystem = fileSystem
        self.id = id
        self.path = path
    }

    func size() throws -> Int {
        try access { state, handle in state.disk.inodes[handle.inode]!.current.count }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int {
        guard offset >= 0 else { throw StoreError.syscall("pread", errno: EINVAL, path: path) }
        return try access { state, handle in
            state.disk.inodes[handle.inode]!.current.read(into: buffer, at: offset)
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        let copy = [UInt8](bytes)  // made before taking the lock
        try perform(.write, syscall: "pwrite") { state, handle in
            try self.writable(handle, syscall: "pwrite")
            guard offset >= 0 else { throw StoreError.syscall("pwrite", errno: EINVAL, path: self.path) }
            guard offset <= Int.max - copy.count else {
                throw StoreError.syscall("pwrite", errno: EFBIG, path: self.path)
            }
            guard !copy.isEmpty else { return }
            let size = state.disk.inodes[handle.inode]!.current.count
            try state.reserve(offset + copy.count - size, syscall: "pwrite", path: self.path)
            state.perform(.write(offset: offset, bytes: copy), on: handle.inode)
        }
    }

    func sync() throws {
        try syncFile(.sync, syscall: "fdatasync")
    }

    func fullSync() throws {
        try syncFile(.fullSync, syscall: "fsync")
    }

    func allocate(offset: Int, length: Int) throws {
        try perform(.allocate, syscall: "fallocate") { state, handle in
            try self.writable(handle, syscall: "fallocate")
            guard offset >= 0, length > 0, offset <= Int.max - length else {
                throw StoreError.syscall("fallocate", errno: EINVAL, path: self.path)
            }
            let size = state.disk.inodes[handle.inode]!.current.count
            try state.reserve(offset + length - size, syscall: "fallocate", path: self.path)
            state.perform(.allocate(offset: offset, length: length), on: handle.inode)
        }
    }

    func truncate(to size: Int) throws {
        try perform(.truncate, syscall: "ftruncate") { state, handle in
            try self.writable(handle, syscall: "ftruncate")
            guard size >= 0 else { throw StoreError.syscall("ftruncate", errno: EINVAL, path: self.path) }
            let current = state.disk.inodes[handle.inode]!.current.count
            try state.reserve(size - current, syscall: "ftruncate", path: self.path)
            state.perform(.truncate(size: size), on: handle.inode)
        }
    }

    /// Open-file-description lock semantics per handle (two handles on one file conflict,
    /// also in one process). Not an operation: not counted, hooked or faulted. Fails with
    /// the power-loss error after ``SimulatedFileSystem/powerOff()``; EBADF for an exclusive
    /// lock through a read-only handle.
    func tryLockRange(offset: Int, length: Int, kind: RangeLockKind) throws -> Bool {
        let end = try rangeEnd("fcntl(F_OFD_SETLK)", offset: offset, length: length)
        return try access { state, handle in
            if kind == .exclusive && handle.readOnly {
                throw StoreError.syscall("fcntl(F_OFD_SETLK)", errno: EBADF, path: self.path)
            }
            return state.setRangeLock(inode: handle.inode, handle: self.id, start: offset, end: end, exclusive: kind == .exclusive)
        }
    }

    /// Releases this handle's locks in the range; works after a power off too (a dead
    /// process's locks go away whatever the disk does).
    func unlockRange(offset: Int, length: Int) throws {
        let end = try rangeEnd("fcntl(F_OFD_SETLK)", offset: offset, length: length)
        try fileSystem.state.withLock { state in
            let handle = try state.openHandle(id, path: path)
            state.removeRangeLocks(inode: handle.inode, handle: id, start: offset, end: end)
        }
    }

    func isRangeLockedByOthers(offset: Int, length: Int, kind: RangeLockKind) throws -> Bool {
        let end = try rangeEnd("fcntl(F_OFD_GETLK)", offset: offset, length: length)
        return try access { state, handle in
            state.rangeLockConflicts(inode: handle.inode, handle: self.id, start: offset, end: end, exclusive: kind == .exclusive)
        }
    }

    /// Releases the handle and its byte-range locks (as the kernel does when a process
    /// dies). A second close throws ``StoreError/Code/closed``; after a power off the
    /// handle is released and the call throws the power-loss error.
    func close() throws {
        try fileSystem.state.withLock { state in
            guard let handle = state.handles.removeValue(forKey: id) else {
                throw SimulatedState.closedHandle(path)
            }
            state.removeRangeLocks(inode: handle.inode, handle: id, start: 0, end: Int.max)
            state.changeOpenCount(of: handle.inode, by: -1)
            if state.poweredOff { throw SimulatedState.powerLoss(path) }
        }
    }

    // MARK: Helpers

    /// The end of `[offset, offset + length)`, `Int.max` for length 0; EINVAL for a
    /// negative or overflowing range (as `fcntl`).
    private func rangeEnd(_ syscall: String, offset: Int, length: Int) throws -> Int {
        guard offset >= 0, length >= 0, offset <= Int.max - length else {
            throw StoreError(.invalidArgument, "\(syscall): bad range at \(offset) of length \(length)", path: path, errno: EINVAL)
        }
        return length == 0 ? Int.max : offset + length
    }

    private func syncFile(_ kind: SimulatedOperationKind, syscall: String) throws {
        try perform(
            kind, syscall: syscall,
            onFault: { state, handle in state.disk.inodes[handle.inode]!.discardPending() },
            { state, handle in state.disk.inodes[handle.inode]!.sync() })
    }

    private func writable(_ handle: OpenHandle, syscall: String) throws {
        if handle.readOnly { throw StoreError.syscall(syscall, errno: EBADF, path: path) }
    }

    private func access<T: Sendable>(_ body: (inout SimulatedState, OpenHandle) throws -> T) throws -> T {
        try fileSystem.access(path: path) { state in
            try body(&state, try state.openHandle(id, path: path))
        }
    }

    private func perform<T: Sendable>(
        _ kind: SimulatedOperationKind,
        syscall: String,
        onFault: (inout SimulatedState, OpenHandle) -> Void = { _, _ in },
        _ body: (inout SimulatedState, OpenHandle) throws -> T
    ) throws -> T {
        try fileSystem.perform(
            kind, path: path, syscall: syscall,
            precheck: { state in _ = try state.openHandle(id, path: path) },
            onFault: { state in
                if let handle = state.handles[id] { onFault(&state, handle) }
            },
            { state in try body(&state, try state.openHandle(id, path: path)) })
    }
}

/// A held lock of a ``SimulatedFileSystem``.
final class SimulatedFileLock: FileLock {
    let fileSystem: SimulatedFileSystem
    let id: Int
    let inode: Int

    init(fileSystem: SimulatedFileSystem, id: Int, inode: Int) {
        self.fileSystem = fileSystem
        self.id = id
        self.inode = inode
    }

    /// Releases the lock (and the file it held open); later calls do nothing.
    func unlock() {
        fileSystem.state.withLock { state in
            guard state.locks[inode] == id else { return }
            state.locks[inode] = nil
            state.changeOpenCount(of: inode, by: -1)
        }
    }
}
