/// The kinds of mutating operation the ``SimulatedFileSystem`` counts, reports to its
/// operation hook, and can fail with a ``FaultRule``.
public enum SimulatedOperationKind: String, Sendable, CaseIterable {
    /// `openFile` with `.createIfMissing` or `.createNew` (whether or not the file existed),
    /// and `lockFile` (which opens with create).
    case create
    /// `FileHandle.write`.
    case write
    /// `FileHandle.sync` (fdatasync).
    case sync
    /// `FileHandle.fullSync` (fsync).
    case fullSync
    /// `FileHandle.allocate` (fallocate).
    case allocate
    /// `FileHandle.truncate` (ftruncate).
    case truncate
    /// `FileSystem.syncDirectory` (fsync of a directory).
    case syncDirectory
    /// `FileSystem.rename`.
    case rename
    /// `FileSystem.removeFile`.
    case removeFile
    /// `FileSystem.createDirectory`.
    case createDirectory

    /// Whether the operation is one of the sync calls counted by
    /// ``SimulatedFileSystem/syncCount`` and delayed by
    /// ``SimulatedFileSystem/syncDelayMicroseconds``.
    public var isSync: Bool {
        self == .sync || self == .fullSync || self == .syncDirectory
    }
}

/// One mutating operation, as reported to the operation hook and to fault predicates.
public struct SimulatedOperation: Sendable, CustomStringConvertible {
    /// The operation's position among all mutating operations of its file system, from 0
    /// (``SimulatedFileSystem/operationCount`` just before it was counted).
    public let index: Int
    /// What the operation is.
    public let kind: SimulatedOperationKind
    /// The path it acts on: for handle operations, the path the handle was opened with
    /// (even if the file was renamed since); for `rename`, the source.
    public let path: String
    /// For `rename`, the destination path; nil for every other kind.
    public let destination: String?

    /// Creates an operation description (the simulator makes these; tests may too, to call
    /// a predicate directly).
    public init(index: Int, kind: SimulatedOperationKind, path: String, destination: String? = nil) {
        self.index = index
        self.kind = kind
        self.path = path
        self.destination = destination
    }

    /// `#index kind path[ -> destination]`.
    public var description: String {
        var text = "#\(index) \(kind.rawValue) \(path)"
        if let destination { text += " -> \(destination)" }
        return text
    }
}
