#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A change to a file's content that is not durable yet, in the order it was made.
enum FileOperation: Sendable {
    case write(offset: Int, bytes: [UInt8])
    case truncate(size: Int)
    /// Extends the size with zeros to `offset + length` when that is larger; never shrinks.
    case allocate(offset: Int, length: Int)
}

/// What a directory entry names: a file (inode number) or a directory (directory number).
enum SimulatedEntry: Hashable, Sendable {
    case file(Int)
    case directory(Int)
}

/// One name change inside one directory: `entry == nil` unlinks `name`.
struct DirectoryChange: Sendable {
    var name: String
    var entry: SimulatedEntry?
}

/// One atomic, ordered metadata operation on a directory (a link, an unlink, or a rename
/// within the directory, which is an unlink and a link applied together).
struct DirectoryOperation: Sendable {
    var changes: [DirectoryChange]

    func apply(to entries: inout [String: SimulatedEntry]) {
        for change in changes { entries[change.name] = change.entry }
    }
}

/// A directory: the entries that survive a power loss, the entries lookups see, and the
/// operations between the two.
struct SimulatedDirectory: Sendable {
    var durable: [String: SimulatedEntry] = [:]
    var current: [String: SimulatedEntry] = [:]
    var pending: [DirectoryOperation] = []

    mutating func perform(_ changes: [DirectoryChange]) {
        let operation = DirectoryOperation(changes: changes)
        operation.apply(to: &current)
        pending.append(operation)
    }

    /// A successful directory fsync.
    mutating func sync() {
        for operation in pending { operation.apply(to: &durable) }
        pending.removeAll()
    }

    /// A failed directory fsync: the pending operations are forgotten, lookups still see them.
    mutating func discardPending() {
        pending.removeAll()
    }
}

/// A regular file.
struct SimulatedInode: Sendable {
    /// What survives a power loss.
    var durable = PagedBytes()
    /// What reads see: `durable` with every pending operation applied, unless a failed sync
    /// discarded some (then `coherent` is false).
    var current = PagedBytes()
    /// Changes since the last sync, in order.
    var pending: [FileOperation] = []
    /// True while `current == durable + pending`, so a successful sync may share `current`'s
    /// pages instead of replaying `pending`. A failed sync (fsyncgate) makes it false for
    /// good; sync then replays `pending` onto `durable`.
    var coherent = true
    /// Entries naming this inode in the current view of the namespace.
    var links = 0
    /// Open handles and held locks on this inode.
    var openCount = 0

    /// Whether the file occupies space: it has a name or is open.
    var isCharged: Bool { links > 0 || openCount > 0 }

    mutating func perform(_ operation: FileOperation) {
        current.apply(operation)
        pending.append(operation)
    }

    /// A successful fdatasync/fsync.
    mutating func sync() {
        guard !pending.isEmpty else { return }
        if coherent {
            durable = current
        } else {
            for operation in pending { durable.apply(operation) }
        }
        pending.removeAll()
    }

    /// A failed fdatasync/fsync (fsyncgate): the pending operations are dropped without
    /// reaching `durable`; `current` keeps them.
    mutating func discardPending() {
        guard !pending.isEmpty else { return }
        pending.removeAll()
        coherent = false
    }
}

/// Everything a power loss can act on: all inodes and directories. A value type made of
/// copy-on-write collections, so copying it (a snapshot) costs O(1) and the first mutation
/// after a copy costs O(#files + #directories) plus the pages it touches.
struct SimulatedDisk: Sendable {
    static let rootID = 0

    var inodes: [Int: SimulatedInode] = [:]
    var directories: [Int: SimulatedDirectory] = [rootID: SimulatedDirectory()]
    var nextInodeID = 1
    var nextDirectoryID = 1

    /// The normalized components of a path; relative paths are taken from "/", "." is
    /// dropped and ".." removes the previous component.
    static func components(of path: String) -> [String] {
        var result: [String] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if !result.isEmpty { result.removeLast() }
                continue
            }
            result.append(String(part))
        }
        return result
    }

    /// What `components` names in the current view (`durable == false`) or in the durable
    /// view, or nil when nothing does. No components name the root.
    func lookup(_ components: [String], durable: Bool = false) -> SimulatedEntry? {
        var entry = SimulatedEntry.directory(Self.rootID)
        for name in components {
            guard case .directory(let id) = entry, let directory = directories[id],
                let next = durable ? directory.durable[name] : directory.current[name]
            else { return nil }
            entry = next
        }
        return entry
    }

    /// The directory that holds (or would hold) the last component, in the current view.
    /// Throws ENOENT when a parent is missing and ENOTDIR when a parent is a file.
    func parentDirectory(of components: [String], path: String, syscall: String) throws -> Int {
        var id = Self.rootID
        for name in components.dropLast() {
            switch directories[id]?.current[name] {
            case .directory(let child)?:
                id = child
            case .file?:
                throw StoreError.syscall(syscall, errno: ENOTDIR, path: path)
            case nil:
                throw StoreError.syscall(syscall, errno: ENOENT, path: path)
            }
        }
        return id
    }

    /// The directory at `path` in the current view; ENOENT or ENOTDIR otherwise.
    func directoryID(_ path: String, syscall: String) throws -> Int {
        switch lookup(Self.components(of: path)) {
        case .directory(let id)?: return id
        case .file?: throw StoreError.syscall(syscall, errno: ENOTDIR, path: path)
        case nil: throw StoreError.syscall(syscall, errno: ENOENT, path: path)
        }
    }
}
