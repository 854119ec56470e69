#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An open file handle's entry in the simulator's state.
struct OpenHandle: Sendable {
    var inode: Int
    var readOnly: Bool
}

/// A byte-range lock held by an open handle: `[start, end)`, `end` `Int.max` for "to the
/// end of the file, however far it grows".
struct RangeLock: Sendable, Equatable {
    var handle: Int
    var start: Int
    var end: Int
    var exclusive: Bool
}

/// Everything a ``SimulatedFileSystem`` holds, guarded by its one mutex. The methods here
/// run with the lock held; they validate first and change nothing when they throw.
struct SimulatedState: Sendable {
    var disk = SimulatedDisk()

    var operationCount = 0
    var syncCount = 0
    var hook: (@Sendable (SimulatedOperation) -> Void)?
    var faults: [ActiveFault] = []
    var nextFaultID = 1
    var poweredOff = false
    var capacityBytes: Int?
    var syncDelayMicroseconds = 0

    /// Sum of the current sizes of the charged inodes (those with a name or open).
    var usedBytes = 0
    var handles: [Int: OpenHandle] = [:]
    var nextHandleID = 1
    /// Held locks: inode number -> lock id.
    var locks: [Int: Int] = [:]
    /// Byte-range locks of open handles, by inode (see ``RangeLock``).
    var rangeLocks: [Int: [RangeLock]] = [:]
    var nextLockID = 1
    /// Inodes that are neither named nor open; dropped once no durable entry or pending
    /// directory operation can bring them back in a crash.
    var orphans: Set<Int> = []

    static func powerLoss(_ path: String?) -> StoreError {
        StoreError(.io, "simulated power loss", path: path, errno: EIO)
    }

    static func closedHandle(_ path: String) -> StoreError {
        StoreError(.closed, "file handle is closed", path: path)
    }

    // MARK: Space accounting

    /// Throws ENOSPC when growing the used space by `growth` bytes would pass the capacity.
    func reserve(_ growth: Int, syscall: String, path: String) throws {
        if growth > 0, let capacity = capacityBytes, usedBytes + growth > capacity {
            throw StoreError.syscall(syscall, errno: ENOSPC, path: path)
        }
    }

    /// Applies a file operation to a (charged) inode and keeps `usedBytes` right.
    mutating func perform(_ operation: FileOperation, on id: Int) {
        let before = disk.inodes[id]!.current.count
        disk.inodes[id]!.perform(operation)
        usedBytes += disk.inodes[id]!.current.count - before
    }

    mutating func changeLinks(of id: Int, by delta: Int) {
        updateCharge(of: id) { $0.links += delta }
    }

    mutating func changeOpenCount(of id: Int, by delta: Int) {
        updateCharge(of: id) { $0.openCount += delta }
    }

    private mutating func updateCharge(of id: Int, _ change: (inout SimulatedInode) -> Void) {
        let wasCharged = disk.inodes[id]!.isCharged
        change(&disk.inodes[id]!)
        let inode = disk.inodes[id]!
        if wasCharged && !inode.isCharged {
            usedBytes -= inode.current.count
            orphans.insert(id)
        } else if !wasCharged && inode.isCharged {
            usedBytes += inode.current.count
            orphans.remove(id)
        }
    }

    /// Forgets orphan inodes that no durable entry and no pending directory operation
    /// names, so no crash can bring them back.
    mutating func collectGarbage() {
        guard !orphans.isEmpty else { return }
        var referenced = Set<Int>()
        func note(_ entry: SimulatedEntry?) {
            if case .file(let id)? = entry, orphans.contains(id) { referenced.insert(id) }
        }
        for directory in disk.directories.values {
            for entry in directory.durable.values { note(entry) }
            for operation in directory.pending {
                for change in operation.changes { note(change.entry) }
            }
        }
        for id in orphans where !referenced.contains(id) { disk.inodes[id] = nil }
        orphans = referenced
    }

    // MARK: Files

    /// Looks up (and for the create modes, creates) the file at `path`; returns its inode.
    mutating func openInode(_ path: String, mode: OpenMode, syscall: String) throws -> Int {
        let components = SimulatedDisk.components(of: path)
        guard let name = components.last else {
            throw StoreError.syscall(syscall, errno: EISDIR, path: path)
        }
        let parent = try disk.parentDirectory(of: components, path: path, syscall: syscall)
        switch disk.directories[parent]!.current[name] {
        case .directory?:
            throw StoreError.syscall(syscall, errno: EISDIR, path: path)
        case .file(let id)?:
            if mode == .createNew { throw StoreError.syscall(syscall, errno: EEXIST, path: path) }
            return id
        case nil:
            guard mode == .createIfMissing || mode == .createNew else {
                throw StoreError.syscall(syscall, errno: ENOENT, path: path)
            }
            let id = disk.nextInodeID
            disk.nextInodeID += 1
            var inode = SimulatedInode()
            inode.links = 1
            disk.inodes[id] = inode
            disk.directories[parent]!.perform([DirectoryChange(name: name, entry: .file(id))])
            return id
        }
    }

    /// Registers an open handle on `inode`; returns its id.
    mutating func registerHandle(inode: Int, readOnly: Bool) -> Int {
        changeOpenCount(of: inode, by: 1)
        let id = nextHandleID
        nextHandleID += 1
        handles[id] = OpenHandle(inode: inode, readOnly: readOnly)
        return id
    }

    /// The open handle `id`, or ``StoreError/Code/closed``.
    func openHandle(_ id: Int, path: String) throws -> OpenHandle {
        guard let handle = handles[id] else { throw Self.closedHandle(path) }
        return handle
    }

    // MARK: Byte-range locks

    /// Whether a handle other than `handle` holds a lock on `inode` overlapping
    /// `[start, end)` that conflicts with a lock of the given kind.
    func rangeLockConflicts(inode: Int, handle: Int, start: Int, end: Int, exclusive: Bool) -> Bool {
        rangeLocks[inode]?.contains { lock in
            lock.handle != handle && lock.start < end && start < lock.end && (lock.exclusive || exclusive)
        } ?? false
    }

    /// Drops `handle`'s locks on `inode` inside `[start, end)`, keeping the parts outside.
    mutating func removeRangeLocks(inode: Int, handle: Int, start: Int, end: Int) {
        guard let held = rangeLocks[inode] else { return }
        var kept: [RangeLock] = []
        for lock in held {
            guard lock.handle == handle, lock.start < end, start < lock.end else {
                kept.append(lock)
                continue
            }
            if lock.start < start { kept.append(RangeLock(handle: handle, start: lock.start, end: start, exclusive: lock.exclusive)) }
            if end < lock.end { kept.append(RangeLock(handle: handle, start: end, end: lock.end, exclusive: lock.exclusive)) }
        }
        rangeLocks[inode] = kept.isEmpty ? nil : kept
    }

    /// `F_OFD_SETLK`: on a conflict false and nothing changes; else `handle`'s own locks in
    /// the range are replaced by the new one.
    mutating func setRangeLock(inode: Int, handle: Int, start: Int, end: Int, exclusive: Bool) -> Bool {
        if rangeLockConflicts(inode: inode, handle: handle, start: start, end: end, exclusive: exclusive) { return false }
        removeRangeLocks(inode: inode, handle: handle, start: start, end: end)
        rangeLocks[inode, default: []].append(RangeLock(handle: handle, start: start, end: end, exclusive: exclusive))
        return true
    }

    // MARK: Directories

    mutating func createDirectory(_ path: String, intermediate: Bool) throws {
        let components = SimulatedDisk.components(of: path)
        var id = SimulatedDisk.rootID
        for (position, name) in components.enumerated() {
            let isLast = position == components.count - 1
            switch disk.directories[id]!.current[name] {
            case .directory(let child)?:
                id = child
            case .file?:
                throw StoreError.syscall("mkdir", errno: isLast ? EEXIST : ENOTDIR, path: path)
            case nil:
                // Errors can only happen before the first directory is created: everything
                // below a new directory is missing too.
                if !intermediate && !isLast { throw StoreError.syscall("mkdir", errno: ENOENT, path: path) }
                let child = disk.nextDirectoryID
                disk.nextDirectoryID += 1
                disk.directories[child] = SimulatedDirectory()
                disk.directories[id]!.perform([DirectoryChange(name: name, entry: .directory(child))])
                id = child
            }
        }
    }

    mutating func rename(_ from: String, to: String) throws {
        let source = SimulatedDisk.components(of: from)
        let target = SimulatedDisk.components(of: to)
        guard let sourceName = source.last, let targetName = target.last else {
            throw StoreError.syscall("rename", errno: EBUSY, path: from)
        }
        let sourceParent = try disk.parentDirectory(of: source, path: from, syscall: "rename")
        guard let moving = disk.directories[sourceParent]!.current[sourceName] else {
            throw StoreError.syscall("rename", errno: ENOENT, path: from)
        }
        let targetParent = try disk.parentDirectory(of: target, path: to, syscall: "rename")
        let replaced = disk.directories[targetParent]!.current[targetName]
        if replaced == moving { return }  // same entry, or two names of one file: nothing to do
        switch (moving, replaced) {
        case (.file, .directory?):
            throw StoreError.syscall("rename", errno: EISDIR, path: to)
        case (.directory, .file?):
            throw StoreError.syscall("rename", errno: ENOTDIR, path: to)
        case (.directory, .directory(let existing)?):
            if !disk.directories[existing]!.current.isEmpty {
                throw StoreError.syscall("rename", errno: ENOTEMPTY, path: to)
            }
        default:
            break
        }
        if case .directory = moving, target.count > source.count, Array(target.prefix(source.count)) == source {
            throw StoreError.syscall("rename", errno: EINVAL, path: to)
        }
        if sourceParent == targetParent {
            disk.directories[sourceParent]!.perform([
                DirectoryChange(name: sourceName, entry: nil),
                DirectoryChange(name: targetName, entry: moving),
            ])
        } else {
            disk.directories[sourceParent]!.perform([DirectoryChange(name: sourceName, entry: nil)])
            disk.directories[targetParent]!.perform([DirectoryChange(name: targetName, entry: moving)])
        }
        if case .file(let id)? = replaced { changeLinks(of: id, by: -1) }
    }

    mutating func removeFile(_ path: String) throws {
        let components = SimulatedDisk.components(of: path)
        guard let name = components.last else { throw StoreError.syscall("unlink", errno: EISDIR, path: path) }
        let parent = try disk.parentDirectory(of: components, path: path, syscall: "unlink")
        switch disk.directories[parent]!.current[name] {
        case .file(let id)?:
            disk.directories[parent]!.perform([DirectoryChange(name: name, entry: nil)])
            changeLinks(of: id, by: -1)
        case .directory?:
            throw StoreError.syscall("unlink", errno: EISDIR, path: path)
        case nil:
            throw StoreError.syscall("unlink", errno: ENOENT, path: path)
        }
    }

    mutating func syncDirectory(_ path: String) throws {
        let id = try disk.directoryID(path, syscall: "fsync")
        disk.directories[id]!.sync()
        collectGarbage()
    }

    /// A failed directory fsync forgets the directory's pending operations.
    mutating func failDirectorySync(_ path: String) {
        if let id = try? disk.directoryID(path, syscall: "fsync") {
            disk.directories[id]!.discardPending()
        }
    }
}
