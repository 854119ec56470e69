import Logging

/// The content store (the seed's CDB): message bodies, written once by the receiving side,
/// read by delivery agents, released by the queue manager when its reference counts reach
/// zero, and reclaimed.
///
/// **Layout.** Bodies up to ``Configuration/largeBodyThreshold`` go into append-only
/// content segments (preallocated slot files, reused once all their bodies are dead);
/// larger ones get a file of their own. Every body is a *blob*: a header with its content
/// id, lengths and checksum, then chunks of at most 64 KiB, each compressed with zstd when
/// that pays off and each with its own XXH3, so readers verify as they stream.
/// `docs/format/cdb.md` has the bytes.
///
/// **Durability.** ``ContentWriter/finish()`` hands the blob to a dedicated flusher
/// thread and returns at once; ``waitDurable(_:)`` returns once it is on disk. The flusher
/// writes whatever accumulated while its previous sync ran with one positional write and
/// one `fdatasync` per segment (group commit, as in the incoming log), plus one `fdatasync`
/// and a rename per large body and one directory sync for all of them. The queue manager
/// runs that wait concurrently with the incoming log's commit and answers 250 only after
/// both (rule 1: ``IncomingLog/commit(_:bodies:in:)``). A failed write or sync fails every
/// waiter and the store refuses writes until reopened (rule 6).
///
/// **Ordering promise.** Each flusher pass writes to one segment only, and a segment is
/// sealed (the seal synced) before the next segment takes writes. So after a crash only
/// the newest segment can hold a torn tail, and only in its last commit batch; damage
/// anywhere else is corruption and is reported (ARCHITECTURE.md, "Torn tails").
///
/// **References.** The store keeps no counts: the queue manager does, and calls
/// ``release(_:)`` when none is left. Release marks go to a journal that is synced lazily;
/// a crash may bring a released body back as garbage (rule 2), which
/// ``releaseAll(except:)`` after the recount removes.
///
/// **Lifetime.** Open once per queue by the process holding the queue lock (read-only
/// opens, for tools, may run beside it: they never write and never block the writer).
/// ``close()`` waits for pending writes and stops the threads; a store that is not closed
/// keeps its threads (and itself) alive.
public final class ContentStore: @unchecked Sendable {
    public struct Configuration: Sendable {
        public var queueID: QueueID
        /// `<queue>/cdb`.
        public var directory: String
        /// Size of a content segment file (preallocated).
        public var segmentSize = 32 << 20
        /// Bodies with more raw bytes than this get a file of their own.
        public var largeBodyThreshold = 1 << 20
        /// Raw bytes per chunk (at most 64 KiB).
        public var chunkSize = BlobFormat.maxChunkSize
        /// zstd level; nil stores every chunk raw.
        public var compressionLevel: Int32? = 1
        /// A chunk is stored compressed only when that saves at least this fraction of it.
        public var minimumCompressionGain = 0.1
        /// Chunks with fewer raw bytes are stored raw without trying (see
        /// `ChunkCompression` for why); 0 tries every chunk of at least 64 bytes.
        public var minimumCompressedChunk = BlobEncoder.defaultMinimumCompressedChunk
        /// A sealed segment whose live fraction falls below this is compacted.
        public var compactionLiveFraction = 0.5
        /// Compact in the background after writes; off, only ``compact(limit:)`` does.
        public var automaticCompaction = true
        /// Background compaction leaves a segment alone until it has been sealed this long
        /// (``compact(limit:)`` does not wait). In a queue most bodies die within seconds of
        /// their segment's seal, as their mail is delivered; copying them first is wasted
        /// work. The bodies still there after a minute are likely deferred mail, which stays
        /// for the retry schedule: those are worth moving.
        public var compactionMinimumAge: Duration = .seconds(60)
        /// Monotonic microseconds, for `compactionMinimumAge` (tests pass a clock they
        /// control).
        public var monotonicClock: @Sendable () -> UInt64 = { monotonicMicros() }
        /// Bytes waiting for the flusher before writers wait for room (back-pressure).
        public var maxPendingBytes = 32 << 20
        /// Most bytes one flusher pass writes to a segment.
        public var maxBatchBytes = 8 << 20
        /// Before a pass, wait (at most half a pass time, at most
        /// `maxAdaptiveWaitMicroseconds`) for the writers the previous pass acknowledged.
        public var adaptiveBatching = true
        public var maxAdaptiveWaitMicroseconds = 2000
        /// Most segment files; past that, new bodies fail with `noSpace`.
        public var maxSegments = 4096
        /// When the store moves to a segment and no free slot is left for the one after,
        /// a helper thread creates that next segment file now and writes zeros over it
        /// (`ContentStore+SegmentPreparer.swift`), so the flusher's syncs are plain
        /// overwrites. Off: a new segment file is only preallocated, by the flusher, when
        /// it is needed.
        public var prepareSegmentsAhead = true
        /// Release journal size that triggers a rewrite.
        public var journalRewriteBytes = 4 << 20
        /// Where damaged bytes are copied (`<queue>/corrupt`); nil copies nothing.
        public var quarantineDirectory: String?
        /// Open for reading only (tools): no recovery writes, no threads, no writers.
        public var readOnly = false

        public init(queueID: QueueID, directory: String) {
            self.queueID = queueID
            self.directory = directory
        }

        /// Largest extent a blob of a segment-stored body can have.
        var maxSegmentBlobExtent: Int {
            BlobFormat.headerSize
                + Int(BlobFormat.maxStoredLength(rawLength: UInt64(largeBodyThreshold), chunkSize: chunkSize))
        }

        func validate() throws {
            guard chunkSize > 0, chunkSize <= BlobFormat.maxChunkSize else {
                throw StoreError(.invalidArgument, "chunk size \(chunkSize) is not in 1...\(BlobFormat.maxChunkSize)")
            }
            guard largeBodyThreshold >= 0,
                  segmentSize >= BlobFormat.segmentDataStart + 2 * maxSegmentBlobExtent + BlobFormat.headerSize,
                  segmentSize <= Int(Int32.max)
            else {
                throw StoreError(
                    .invalidArgument,
                    "segment size \(segmentSize) must hold two bodies of the large-body threshold \(largeBodyThreshold) and stay below 2 GiB"
                )
            }
            guard maxBatchBytes >= maxSegmentBlobExtent, maxPendingBytes >= maxBatchBytes else {
                throw StoreError(.invalidArgument, "batch and pending limits must hold one body of the large-body threshold")
            }
        }
    }

    public struct Statistics: Sendable, Equatable {
        /// Flusher passes that wrote or synced something.
        public var batches = 0
        /// `fdatasync`/`fsync` calls (segments, large bodies, directory, journal).
        public var syncs = 0
        /// Microseconds the flusher spent writing and syncing passes.
        public var passMicros = 0
        /// Bodies made durable (copies by compaction not counted).
        public var blobs = 0
        public var rawBytes = 0
        /// Blob bytes on disk (headers and chunk frames).
        public var storedBytes = 0
        public var largeBodies = 0
        public var segmentsCreated = 0
        /// Of `segmentsCreated`, those made ahead of time and zero-filled by the preparer.
        public var segmentsPrepared = 0
        /// Preparations that failed (logged; the flusher creates that segment itself).
        public var segmentPreparationFailures = 0
        public var segmentsRecycled = 0
        public var compactedSegments = 0
        public var compactedBlobs = 0
        public var releases = 0
        public var backPressureWaits = 0
        public var liveBodies = 0
        public var segmentsInUse = 0
        public init() {}
    }

    public let configuration: Configuration
    public let recovery: ContentRecoveryReport
    let fileSystem: any FileSystem
    let reporter: (any CorruptionReporter)?
    let logger: Logger
    let compression: ChunkCompression?
    let readCompression = ChunkCompression.shared

    // Guarded by `condition`.
    let condition = ConditionLock()
    var segments: [Int: ContentSegment] = [:]
    var current: ContentSegment?
    var freeSlots: [Int] = []
    var nextSlot = 0
    /// The preparer thread is making the segment file of this slot (reserved: counted
    /// against `maxSegments`, not yet in `segments`).
    var slotBeingPrepared: Int?
    var index: [ContentID: BlobLocation] = [:]
    /// Released ids still present on disk (what a journal rewrite keeps).
    var releasedOnDisk: Set<ContentID> = []
    /// Ids being written (finished, not yet durable), and those released meanwhile.
    var inFlight: Set<ContentID> = []
    var releasedInFlight: Set<ContentID> = []
    var nextContentID: UInt64 = 1
    var nextSegmentNumber: UInt64 = 1
    var commitBatch: UInt64 = 0
    var pending: [PendingWrite] = []
    var pendingHead = 0
    var pendingBytes = 0
    /// Bytes of the pass being written and synced (taken out of `pendingBytes`).
    var writingBytes = 0
    var enqueuedSequence: UInt64 = 0
    var durableSequence: UInt64 = 0
    var durabilityWaiters: [(sequence: UInt64, continuation: UnsafeContinuation<Void, any Error>)] = []
    /// Writers waiting for room; resumed with nil to try again.
    var spaceWaiters: [UnsafeContinuation<UInt64?, any Error>] = []
    var journalPending: [ContentID] = []
    var largeFilesToRemove: [ContentID] = []
    var housekeepingRequested = false
    /// Pending writes at which an enqueuer wakes the flusher: 1 while it sleeps, the last
    /// pass's size while it waits adaptively, never while it writes.
    var wakeThreshold = 1
    /// Flusher thread: size of the last pass and the moving average of a pass's time.
    var lastPassWrites = 0
    var passMicrosAverage = 0
    var compactionRunning = false
    var failure: StoreError?
    var closing = false
    var closed = false
    var statistics_ = Statistics()

    // Flusher thread only (after open).
    var journal: JournalFile?
    var flusher: SyncThread?
    /// The last preparer thread started (lock held to start or take it).
    var preparer: SyncThread?
    let io: BlockingIOPool?

    init(
        fileSystem: any FileSystem,
        configuration: Configuration,
        reporter: (any CorruptionReporter)?,
        logger: Logger,
        recovery: ContentRecoveryReport,
        io: BlockingIOPool?
    ) {
        self.fileSystem = fileSystem
        self.configuration = configuration
        self.reporter = reporter
        self.logger = logger
        self.recovery = recovery
        self.io = io
        self.compression = configuration.compressionLevel.map {
            ChunkCompression(
                level: $0, minimumGain: configuration.minimumCompressionGain,
                minimumChunk: configuration.minimumCompressedChunk
            )
        }
    }

    /// Opens (and, unless read-only, recovers) the store in `configuration.directory`,
    /// creating it if needed. See ``ContentRecoveryReport`` for what recovery did; damage
    /// it found is also passed to `reporter`.
    public static func open(
        fileSystem: any FileSystem,
        configuration: Configuration,
        reporter: (any CorruptionReporter)? = nil,
        logger: Logger = Logger(label: "smx.cdb", factory: { _ in SwiftLogNoOpLogHandler() })
    ) throws -> ContentStore {
        try configuration.validate()
        var recovery = ContentRecovery(fileSystem: fileSystem, configuration: configuration, reporter: reporter, logger: logger)
        let state = try recovery.run()
        let store = ContentStore(
            fileSystem: fileSystem,
            configuration: configuration,
            reporter: reporter,
            logger: logger,
            recovery: state.report,
            io: configuration.readOnly ? nil : BlockingIOPool(threads: 2, name: "smx-cdb-io")
        )
        store.adopt(state)
        if !configuration.readOnly {
            store.housekeepingRequested = true
            store.startFlusher()
            store.condition.withLock { store.prepareSlotIfNeeded() }
        }
        return store
    }

    // MARK: - Writing

    /// A writer for one new body. Bodies above the large-body threshold stream into a file
    /// of their own; smaller ones are held (compressed) until ``ContentWriter/finish()``.
    public func makeWriter(hint: CompressionHint = .automatic) throws -> ContentWriter {
        let id = try condition.withLock { () throws -> ContentID in
            try checkWritable()
            let id = ContentID(nextContentID)
            nextContentID += 1
            return id
        }
        return ContentWriter(store: self, id: id, hint: hint)
    }

    /// Stores a whole body: a writer, one append, finish. Not yet durable: follow with
    /// ``waitDurable(_:)``.
    public func store(_ body: [UInt8], hint: CompressionHint = .automatic) async throws -> StoredContent {
        let writer = try makeWriter(hint: hint)
        do {
            try await writer.append(body)
            return try await writer.finish()
        } catch {
            writer.abort()
            throw error
        }
    }

    /// Returns once every body in `contents` is durable (its segment synced, or its large
    /// body file synced, renamed and its directory synced). Throws the write or sync error
    /// that lost one of them, or `poisoned` after an earlier failure.
    public func waitDurable(_ contents: [StoredContent]) async throws {
        guard let sequence = contents.map(\.sequence).max() else { return }
        try await waitDurable(sequence: sequence)
    }

    public func waitDurable(_ content: StoredContent) async throws {
        try await waitDurable([content])
    }

    // MARK: - References

    /// Marks a body dead: the queue manager holds no reference to it any more. Returns false
    /// when the store does not know the id (already released, or never made durable).
    /// The mark reaches the journal with the next flusher pass and is synced lazily.
    @discardableResult
    public func release(_ id: ContentID) throws -> Bool {
        try release([id]) == 1
    }

    /// ``release(_:)`` for many bodies under one lock, waking the flusher once (the queue
    /// manager releases a pass's bodies together). Returns how many the store knew.
    @discardableResult
    public func release(_ ids: [ContentID]) throws -> Int {
        guard !ids.isEmpty else { return 0 }
        return try condition.withLock {
            try checkWritable()
            var released = 0
            var forgotten = 0
            for id in ids {
                if inFlight.contains(id) {
                    if releasedInFlight.insert(id).inserted { released += 1 }
                    continue
                }
                guard let location = index.removeValue(forKey: id) else { continue }
                forget(id, at: location)
                statistics_.releases += 1
                released += 1
                forgotten += 1
            }
            if forgotten > 0 {
                housekeepingRequested = true
                condition.signal()
            }
            return released
        }
    }

    /// Releases every body not in `referenced`: the garbage collection that follows the
    /// queue manager's reference recount after recovery. Returns how many it released.
    @discardableResult
    public func releaseAll(except referenced: Set<ContentID>) throws -> Int {
        let victims = condition.withLock { index.keys.filter { !referenced.contains($0) } }
        var count = 0
        for id in victims where try release(id) { count += 1 }
        return count
    }

    /// Lock held: account for `id` leaving the index from `location`.
    func forget(_ id: ContentID, at location: BlobLocation) {
        if location.isLargeFile {
            largeFilesToRemove.append(id)
        } else if let segment = segments[location.slot] {
            segment.liveBytes -= location.extent
            releasedOnDisk.insert(id)
        }
        journalPending.append(id)
    }

    // MARK: - Lookup

    /// True when a durable, unreleased body has this id.
    /// Bytes of finished bodies not yet durable (queued for the flusher, or in the pass
    /// being written and synced): a load figure for admission control (one lock, no I/O).
    public var pendingByteCount: Int {
        condition.withLock { pendingBytes + writingBytes }
    }

    public func contains(_ id: ContentID) -> Bool {
        condition.withLock { index[id] != nil }
    }

    /// Ids of every live body.
    public func liveIDs() -> [ContentID] {
        condition.withLock { Array(index.keys) }
    }

    public var statistics: Statistics {
        condition.withLock {
            var s = statistics_
            s.liveBodies = index.count
            s.segmentsInUse = segments.values.filter { $0.state == .active || $0.state == .sealed }.count
            return s
        }
    }

    // MARK: - Lifecycle

    /// Writes what is pending, syncs the journal, stops the threads and closes the files.
    /// Later calls throw `closed`.
    public func close() {
        let wasOpen = condition.withLock {
            guard !closed else { return false }
            closing = true
            condition.broadcast()
            return true
        }
        guard wasOpen else { return }
        flusher?.join()
        flusher = nil
        condition.withLock { preparer }?.join()
        io?.shutdown()
        let waiters = condition.withLock {
            closed = true
            let w = (spaceWaiters, durabilityWaiters.map(\.continuation))
            spaceWaiters = []
            durabilityWaiters = []
            return w
        }
        let closedError = StoreError(.closed, "content store is closed", path: configuration.directory)
        for waiter in waiters.0 { waiter.resume(throwing: closedError) }
        for waiter in waiters.1 { waiter.resume(throwing: closedError) }
        for segment in condition.withLock({ Array(segments.values) }) {
            try? segment.handle?.close()
            segment.handle = nil
        }
        try? journal?.handle.close()
    }

    /// Lock held.
    func checkWritable() throws {
        if configuration.readOnly {
            throw StoreError(.invalidArgument, "content store is open read-only", path: configuration.directory)
        }
        if closing || closed { throw StoreError(.closed, "content store is closed", path: configuration.directory) }
        if let failure { throw poisonedError(failure) }
    }

    func poisonedError(_ cause: StoreError) -> StoreError {
        StoreError(
            .poisoned,
            "content store refuses writes after a failed write or sync; reopen it to recover",
            path: configuration.directory,
            cause: cause
        )
    }

    func path(_ name: String) -> String { Path.join(configuration.directory, name) }
}

/// A body handed to the store: its reference (what the envelope records) and the ticket
/// ``ContentStore/waitDurable(_:)`` waits on.
public struct StoredContent: Sendable, Equatable {
    public var reference: ContentReference
    /// Bytes the blob occupies on disk (header and chunk frames).
    public var storedBytes: Int
    public var isLargeFile: Bool
    /// Flusher queue position; durable once the store's durable sequence reaches it.
    let sequence: UInt64

    public var id: ContentID { reference.id }
}
