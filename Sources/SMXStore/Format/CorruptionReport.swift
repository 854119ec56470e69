/// One place where a reader met bytes it could not trust: which file, where, how many
/// bytes were skipped and why. Readers never stop at damage they can step over; they
/// tell a ``CorruptionReporter`` and go on (LevelDB's `log::Reader::Reporter`).
public struct CorruptionReport: Equatable, Sendable, CustomStringConvertible {
    /// "ibdb", "cdb", "defedb".
    public var store: String
    public var path: String
    public var segmentNumber: UInt64?
    public var offset: Int
    public var length: Int
    public var reason: String
    /// Where the damaged bytes were copied, when quarantine is on.
    public var quarantinedTo: String?

    public init(
        store: String,
        path: String,
        segmentNumber: UInt64? = nil,
        offset: Int,
        length: Int,
        reason: String,
        quarantinedTo: String? = nil
    ) {
        self.store = store
        self.path = path
        self.segmentNumber = segmentNumber
        self.offset = offset
        self.length = length
        self.reason = reason
        self.quarantinedTo = quarantinedTo
    }

    public var description: String {
        var text = "\(store): \(path)"
        if let segmentNumber { text += " (segment \(segmentNumber))" }
        text += " offset \(offset), \(length) bytes: \(reason)"
        if let quarantinedTo { text += "; copied to \(quarantinedTo)" }
        return text
    }
}

/// Receives every ``CorruptionReport`` a reader produces.
public protocol CorruptionReporter: Sendable {
    func report(_ corruption: CorruptionReport)
}

/// Keeps every report, for tools that print them and for tests.
public final class CollectingCorruptionReporter: CorruptionReporter, @unchecked Sendable {
    private let lock = SimpleLock()
    private var collected: [CorruptionReport] = []

    public init() {}

    public func report(_ corruption: CorruptionReport) {
        lock.withLock { collected.append(corruption) }
    }

    public var reports: [CorruptionReport] {
        lock.withLock { collected }
    }
}

/// Copies damaged bytes into the queue's `corrupt/` directory with a note of where they
/// came from, so nothing is lost when a reader steps over them. Quarantined files are
/// never read back by the stores.
public struct Quarantine: Sendable {
    public let fileSystem: any FileSystem
    public let directory: String

    public init(fileSystem: any FileSystem, directory: String) {
        self.fileSystem = fileSystem
        self.directory = directory
    }

    /// Writes `bytes` to `<directory>/<name>.bin` and a note to `<name>.txt`, both synced.
    /// Returns the path of the copy.
    public func keep(_ bytes: [UInt8], name: String, note: String) throws -> String {
        try fileSystem.createDirectoryDurably(directory)
        let binPath = Path.join(directory, name + ".bin")
        let notePath = Path.join(directory, name + ".txt")
        for (path, content) in [(binPath, bytes), (notePath, Array(note.utf8))] {
            let handle = try fileSystem.openFile(path, mode: .createIfMissing)
            defer { try? handle.close() }
            try handle.truncate(to: 0)
            try handle.write(content, at: 0)
            try handle.fullSync()
        }
        try fileSystem.syncDirectory(directory)
        return binPath
    }
}
