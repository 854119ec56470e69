import Logging
import SMXQueueManager
import SMXStore
import SMXTestSupport

/// The three stores of one queue at `/q` on a simulated file system, opened with small
/// segments (so tests cross segment and large-body boundaries with little data) and quiet
/// loggers, the way the queue manager opens them.
struct QueueStores {
    static let queueID = QueueID(bytes: Array(repeating: 0x51, count: 16))
    static let t0: UInt64 = 1_800_000_000_000_000
    static let largeBodyThreshold = 16 * 1024

    static let quietLogger: Logger = {
        var logger = Logger(label: "smx.qmgr-test")
        logger.logLevel = .critical
        return logger
    }()

    static func logConfiguration() -> IncomingLog.Configuration {
        var c = IncomingLog.Configuration(queueID: queueID, directories: ["/q/ibdb"])
        c.segmentSize = 64 * 1024
        c.maxBatchBytes = 16 * 1024
        c.maxPendingBytes = 64 * 1024
        c.maxSegmentsPerDirectory = 256
        c.quarantineDirectory = "/q/corrupt"
        return c
    }

    static func contentConfiguration() -> ContentStore.Configuration {
        var c = ContentStore.Configuration(queueID: queueID, directory: "/q/cdb")
        c.segmentSize = 128 * 1024
        c.largeBodyThreshold = largeBodyThreshold
        c.chunkSize = 4 * 1024
        c.maxBatchBytes = 64 * 1024
        c.maxPendingBytes = 256 * 1024
        c.automaticCompaction = false
        c.quarantineDirectory = "/q/corrupt"
        return c
    }

    static func deferredConfiguration() -> BTreeFile.Configuration {
        var c = BTreeFile.Configuration(queueID: queueID, path: DeferredQueue.path(queue: "/q"))
        c.growthPages = 16
        return c
    }

    let fileSystem: SimulatedFileSystem
    let log: IncomingLog
    let content: ContentStore
    let deferred: DeferredQueue

    /// Opens (creating) the stores on `fileSystem`; each runs its own recovery.
    init(_ fileSystem: SimulatedFileSystem) throws {
        self.fileSystem = fileSystem
        try fileSystem.createDirectoryDurably("/q/corrupt")
        log = try IncomingLog.open(fileSystem: fileSystem, configuration: Self.logConfiguration(), logger: Self.quietLogger)
        content = try ContentStore.open(fileSystem: fileSystem, configuration: Self.contentConfiguration(), logger: Self.quietLogger)
        deferred = try DeferredQueue.open(fileSystem: fileSystem, configuration: Self.deferredConfiguration(), logger: Self.quietLogger)
    }

    /// Closes the stores, then returns what a power loss now leaves.
    func crash(mode: CrashMode = .dropAllUnsynced, seed: UInt64) -> SimulatedFileSystem {
        close()
        return fileSystem.crash(mode: mode, seed: seed)
    }

    func close() {
        log.close()
        content.close()
        deferred.close()
    }

    func receiver(
        configuration: ReceiverConfiguration = ReceiverConfiguration(),
        admission: any AdmissionPolicy = AlwaysAccept(),
        onAccepted: @escaping @Sendable (AcceptedMessage) -> Void = { _ in }
    ) -> Receiver {
        Receiver(
            log: log, contentStore: content, envelopeIDs: EnvelopeIDSource(after: nil, clockMicros: Self.t0),
            configuration: configuration, admission: admission, clock: { Self.t0 }, onAccepted: onAccepted
        )
    }

    /// Receives one message: `recipients` addresses, the body in pieces of at most 7000
    /// bytes (so large bodies stream).
    @discardableResult
    func accept(
        _ receiver: Receiver, sender: String = "sender@example.org", recipients: [String], body: [UInt8]
    ) async throws -> AcceptedMessage {
        let message = try receiver.begin(sender: sender)
        for address in recipients { try message.addRecipient(address) }
        var position = 0
        while position < body.count {
            let end = min(body.count, position + 7000)
            try await message.appendBody(body[position..<end])
            position = end
        }
        return try await message.commit()
    }

    /// The body of `id`, read back whole.
    func body(_ id: ContentID) throws -> [UInt8] {
        let reader = try content.openReader(id)
        defer { reader.close() }
        return try reader.readAll()
    }

    /// Files in the content directory whose name ends in `.tmp` (unfinished large bodies).
    func temporaryFiles() throws -> [String] {
        try fileSystem.listDirectory("/q/cdb").filter { $0.hasSuffix(".tmp") }
    }
}
