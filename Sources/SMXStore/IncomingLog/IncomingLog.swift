import Synchronization
import Logging

/// The incoming log (the seed's IBDB): the durable backup of the in-memory incoming queue.
///
/// Every received transaction is committed here before the SMTP server replies 250
/// (rule 1). The log is a set of preallocated, recycled segment files in one or more
/// directories; concurrent commits are batched so that one `fdatasync` covers everything
/// that arrived while the previous one ran (group commit).
///
/// Durability promise: when ``commit(_:)`` returns, every record it carried is on stable
/// storage in a frame whose checksum verifies, and the next ``open(fileSystem:configuration:reporter:logger:)``
/// will return it. Records of one commit are each atomic, not atomic as a group: a crash
/// during the commit may keep some and lose others, and the commit was not acknowledged.
///
/// Failure modes: a failed write or sync fails every commit of its batch and everything
/// queued behind it; the directory then refuses writes (``StoreError/Code/poisoned``) until
/// the log is reopened, which re-reads what is really on disk (rule 6). When every segment
/// holds open transactions, new transactions are refused with ``StoreError/Code/noSpace``
/// (a temporary failure for the SMTP client) while outcomes and closes still go in.
///
/// Lifetime: open once per process (the queue's `LOCK` guards that), ``close()`` before
/// letting go; the log keeps one thread per directory.
public final class IncomingLog: Sendable {
    public struct Configuration: Sendable {
        /// Identity of the queue; written into every segment header and checked on open.
        public var queueID: QueueID
        /// One or more directories, each with its own segments and sync thread (several
        /// disks). The first is normally `<queue>/ibdb`.
        public var directories: [String]
        /// Bytes per segment file, preallocated. A record must fit in one segment.
        public var segmentSize = 16 << 20
        /// Upper bound of segment files per directory; beyond it new transactions are refused.
        public var maxSegmentsPerDirectory = 64
        /// When more segments than this are in use, the open transactions of the oldest
        /// mostly-dead segment are handed off (``handOff``) so the log stays bounded under
        /// steady load.
        public var targetSegmentsPerDirectory = 4
        /// A segment is handed off only when at most this fraction of the transactions
        /// written into it are still open: moving the few live ones frees it, while moving a
        /// mostly live segment would only copy it.
        public var handOffMaxLiveFraction = 0.25
        /// Upper bound of one physical write.
        public var maxBatchBytes = 1 << 20
        /// Bytes that may wait for the sync thread; commits beyond it wait (back-pressure).
        public var maxPendingBytes = 8 << 20
        /// If set, the sync thread waits up to this long for a batch to fill before writing
        /// (instead of adaptive batching). Off by default: no fixed delay.
        public var maxWaitMicroseconds: Int?
        /// Adaptive batching: after a batch, wait for as many commits as it carried (the
        /// committers it acknowledged coming back), at most half the average batch time
        /// and at most ``maxAdaptiveWaitMicroseconds``. Never waits with one committer.
        public var adaptiveBatching = true
        public var maxAdaptiveWaitMicroseconds = 2000
        /// Where damaged bytes are copied on open (normally `<queue>/corrupt`); nil: not copied.
        public var quarantineDirectory: String?
        /// What to do with the open transactions of the oldest segment.
        public var handOff: HandOff = .carryForward

        public init(queueID: QueueID, directories: [String]) {
            self.queueID = queueID
            self.directories = directories
        }
    }

    /// How open transactions leave the oldest segment.
    public enum HandOff: Sendable {
        /// The log writes fresh copies of them into the newest segment.
        case carryForward
        /// The queue manager takes them (moves them to the deferred queue and commits their
        /// close records, rule 3). Called on a new task, at most once per segment; a
        /// transaction the handler does not close stays in that segment, which then stays.
        case handler(@Sendable ([IncomingTransaction]) async -> Void)
        /// Nothing is done; segments stay until their transactions close.
        case none
    }

    /// Identifies where one commit went: the directory and the sequence number of its last
    /// record.
    public struct CommitReceipt: Sendable, Equatable {
        public var directory: Int
        public var sequence: UInt64
    }

    public struct Statistics: Sendable, Equatable {
        public struct Directory: Sendable, Equatable {
            public var batches = 0
            public var records = 0
            public var bytes = 0
            public var syncs = 0
            /// Time the sync thread spent writing and syncing batches.
            public var writeMicros = 0
            public var largestBatch = 0
            public var backPressureWaits = 0
            public var createdSegments = 0
            public var recycledSegments = 0
            public var handOffs = 0
            public init() {}
        }

        public var directories: [Directory]
    }

    public let configuration: Configuration
    /// What open found.
    public let recovery: RecoveryReport
    private let directories: [LogDirectory]

    private init(configuration: Configuration, recovery: RecoveryReport, directories: [LogDirectory]) {
        self.configuration = configuration
        self.recovery = recovery
        self.directories = directories
    }

    /// Opens (creating if needed) the log: reads every segment of every directory, reports
    /// damage, rebuilds the open transactions, clears a torn tail, and starts the sync
    /// threads.
    public static func open(
        fileSystem: any FileSystem,
        configuration: Configuration,
        reporter: (any CorruptionReporter)? = nil,
        logger: Logger = Logger(label: "smx.ibdb")
    ) throws -> IncomingLog {
        try validate(configuration)
        let started = monotonicMicros()
        let quarantine = configuration.quarantineDirectory.map { Quarantine(fileSystem: fileSystem, directory: $0) }
        var scans: [LogDirectory.Scan] = []
        for path in configuration.directories {
            scans.append(try LogDirectory.scan(
                fileSystem: fileSystem, path: path, queueID: configuration.queueID,
                readOnly: false, reporter: reporter, quarantine: quarantine
            ))
        }
        let sequencer = LogSequencer(
            firstSequence: (scans.map(\.maxSequence).max() ?? 0) + 1,
            firstSegment: (scans.map(\.maxSegmentNumber).max() ?? 0) + 1
        )
        let directories = configuration.directories.enumerated().map { index, path in
            LogDirectory(
                index: index, path: path, fileSystem: fileSystem, configuration: configuration,
                sequencer: sequencer, queueID: configuration.queueID, logger: logger
            )
        }
        let handOffTarget = HandOffTarget(configuration.handOff)
        var report = RecoveryReport()
        for (directory, scan) in zip(directories, scans) {
            report.corruption += scan.corruption
            do {
                report.directories.append(try directory.start(from: scan, onHandOff: handOffTarget.callback))
            } catch {
                for started in directories where started.thread != nil { started.shutdown() }
                throw error
            }
        }
        report.durationMicros = monotonicMicros() - started
        let log = IncomingLog(configuration: configuration, recovery: report, directories: directories)
        handOffTarget.target.withLock { $0.log = log }
        logger.info("incoming log open", metadata: [
            "directories": "\(directories.count)",
            "records": "\(report.records)",
            "open": "\(report.openTransactions)",
            "damaged": "\(report.corruption.count)",
        ])
        return log
    }

    private static func validate(_ c: Configuration) throws {
        func bad(_ message: String) -> StoreError { StoreError(.invalidArgument, "incoming log configuration: \(message)") }
        guard !c.directories.isEmpty else { throw bad("no directories") }
        guard Set(c.directories).count == c.directories.count else { throw bad("a directory is listed twice") }
        guard c.segmentSize >= 4096, c.segmentSize % 4096 == 0 else { throw bad("segmentSize must be a multiple of 4096") }
        guard c.maxBatchBytes >= 4096, c.maxBatchBytes <= c.segmentSize else { throw bad("maxBatchBytes must be in 4096...segmentSize") }
        guard c.maxPendingBytes >= c.maxBatchBytes else { throw bad("maxPendingBytes must be at least maxBatchBytes") }
        guard c.maxSegmentsPerDirectory >= 2 else { throw bad("maxSegmentsPerDirectory must be at least 2") }
        guard c.targetSegmentsPerDirectory >= 2 else { throw bad("targetSegmentsPerDirectory must be at least 2") }
    }

    /// Commits `records` and returns once all are durable. A new transaction goes to the
    /// directory its id hashes to; outcomes and closes go where their transaction is.
    @discardableResult
    public func commit(_ records: [LogRecord]) async throws -> CommitReceipt {
        if records.count == 1 {
            let target = try directoryIndex(for: records[0])
            let sequence = try await directories[target].commit([LogDirectory.Item(records[0])])
            return CommitReceipt(directory: target, sequence: sequence)
        }
        var groups: [(directory: Int, items: [LogDirectory.Item])] = []
        var placedInThisCommit: [EnvelopeID: Int] = [:]
        for record in records {
            let target: Int
            if case .transaction(let t) = record {
                target = try directoryIndex(for: record)
                placedInThisCommit[t.envelopeID] = target
            } else if let id = record.envelopeID, let placed = placedInThisCommit[id] {
                target = placed
            } else {
                target = try directoryIndex(for: record)
            }
            if let existing = groups.firstIndex(where: { $0.directory == target }) {
                groups[existing].items.append(LogDirectory.Item(record))
            } else {
                groups.append((target, [LogDirectory.Item(record)]))
            }
        }
        var receipt = CommitReceipt(directory: 0, sequence: 0)
        for group in groups {
            let sequence = try await directories[group.directory].commit(group.items)
            receipt = CommitReceipt(directory: group.directory, sequence: sequence)
        }
        return receipt
    }

    @discardableResult
    public func commit(_ record: LogRecord) async throws -> CommitReceipt {
        try await commit([record])
    }

    /// Where a record goes when it is the only one of its commit.
    private func directoryIndex(for record: LogRecord) throws -> Int {
        switch record {
        case .transaction(let t):
            return Int(t.envelopeID.rawValue % UInt64(directories.count))
        case .outcome(let id, _, _, _), .closed(let id, _):
            guard let found = directoryHolding(id) else {
                throw StoreError(.notFound, "transaction \(id) is not open in the incoming log")
            }
            return found
        case .carriedForward, .seal:
            throw StoreError(.invalidArgument, "\(record.type) records are written by the log itself")
        }
    }

    private func directoryHolding(_ id: EnvelopeID) -> Int? {
        if directories.count == 1 { return 0 }
        let preferred = Int(id.rawValue % UInt64(directories.count))
        if directories[preferred].condition.withLock({ directories[preferred].live[id] != nil }) {
            return preferred
        }
        for (i, d) in directories.enumerated() where i != preferred {
            if d.condition.withLock({ d.live[id] != nil }) { return i }
        }
        return nil
    }

    /// The open transactions with their recipients' current states, by envelope id.
    public func openTransactions() -> [IncomingTransaction] {
        directories.flatMap { d in d.condition.withLock { Array(d.live.values) } }.map(\.transaction)
            .sorted { $0.envelopeID < $1.envelopeID }
    }

    /// How many transactions are open, without decoding them (``openTransactions()`` does):
    /// cheap enough for an admission check on every MAIL FROM.
    public var openTransactionCount: Int {
        directories.reduce(0) { sum, d in sum + d.condition.withLock { d.live.count } }
    }

    /// Bytes appended and not yet durable (queued for a group commit, or in the batch being
    /// written and synced), over every directory: a load figure for admission control (a
    /// lock per directory, no I/O).
    public var pendingByteCount: Int {
        directories.reduce(0) { sum, d in sum + d.condition.withLock { d.pendingBytes + d.writingBytes } }
    }

    public func transaction(_ id: EnvelopeID) -> IncomingTransaction? {
        guard let d = directoryHolding(id) else { return nil }
        return directories[d].condition.withLock { directories[d].live[id] }?.transaction
    }

    /// Highest sequence number made durable in directory `index`.
    public func durableSequence(directory index: Int) -> UInt64 {
        directories[index].condition.withLock { directories[index].durableSequence }
    }

    public var statistics: Statistics {
        Statistics(directories: directories.map { d in d.condition.withLock { d.statistics } })
    }

    /// Writes what is pending, stops the sync threads and closes the files. Commits made
    /// after this fail with ``StoreError/Code/closed``.
    public func close() {
        for directory in directories { directory.shutdown() }
    }
}

/// Connects the directories' hand-off requests to the log once it exists.
private final class HandOffTarget: Sendable {
    let handOff: IncomingLog.HandOff
    struct Weak: Sendable { weak var log: IncomingLog? }
    let target = Mutex(Weak())

    init(_ handOff: IncomingLog.HandOff) { self.handOff = handOff }

    var callback: (@Sendable ([IncomingTransaction]) -> Void)? {
        // Carrying forward needs no callback: the directory queues the copies itself.
        guard case .handler(let handler) = handOff else { return nil }
        return { [self] transactions in
            guard target.withLock({ $0.log }) != nil else { return }
            Task { await handler(transactions) }
        }
    }
}
