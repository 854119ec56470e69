#if canImport(Glibc)
import Glibc
#endif
import CLinuxShims
import Logging

/// One directory of the incoming log: its segment files and the group committer that
/// appends to them. A queue has one by default; several spread commits over several disks.
///
/// Threading: callers enqueue under `condition`; one dedicated thread (not Swift's
/// cooperative pool, which must never block on a syscall) takes whatever accumulated while
/// its last sync ran, writes it with one positional write and makes it durable with one
/// `fdatasync`, then resumes every waiter of the batch. Fields marked *sync thread* are
/// touched only by that thread (or before it starts).
final class LogDirectory: @unchecked Sendable {
    struct Pending {
        var type: LogRecordType
        var envelopeID: EnvelopeID?
        var sequence: UInt64
        var payload: [UInt8]
        /// Resumed once this entry (the last of its commit) is durable.
        var waiter: UnsafeContinuation<EnqueueResult, any Error>?
    }

    enum EnqueueResult: Sendable {
        case durable(UInt64)
        case retry
    }

    struct Slot {
        var path: String
        var handle: any FileHandle
    }

    let index: Int
    let path: String
    let fileSystem: any FileSystem
    let configuration: IncomingLog.Configuration
    let sequencer: LogSequencer
    let logger: Logger
    let queueID: QueueID

    // Guarded by `condition`.
    let condition = ConditionLock()
    var pending: [Pending] = []
    var pendingHead = 0
    var pendingBytes = 0
    /// Bytes of the batch being written and synced (taken out of `pendingBytes`).
    var writingBytes = 0
    /// Commits (waiters) among the pending entries.
    var pendingCommits = 0
    /// Commits the last batch carried, and the moving average of a batch's write and
    /// sync time: the inputs of adaptive batching.
    var lastBatchCommits = 0
    /// Pending commits at which an enqueuer signals the sync thread: 1 while it sleeps for
    /// work, the previous batch's size while it waits adaptively, never while it is busy.
    var wakeThreshold = 1
    var batchMicrosAverage = 0
    var spaceWaiters: [UnsafeContinuation<EnqueueResult, any Error>] = []
    /// Open transactions with their recipients' current states (as enqueued).
    var live: [EnvelopeID: LiveTransaction] = [:]
    var failure: StoreError?
    var closing = false
    var durableSequence: UInt64 = 0
    /// Free slots plus slots that may still be created; 0 means new transactions are refused.
    var spareSegments = 0
    var statistics = IncomingLog.Statistics.Directory()
    /// Called (on the sync thread) with the transactions homed in the oldest segment when
    /// more segments are in use than the configuration's target.
    var onHandOff: (@Sendable ([IncomingTransaction]) -> Void)?

    // Sync thread.
    var slots: [Slot] = []
    var freeSlots: [Int] = []
    var ledger = SegmentLedger()
    var currentSegment: UInt64 = 0
    var currentSlot = 0
    var currentSealed = false
    var nextSlotName = 0
    var writeOffset = 0
    var lastWrittenSequence: UInt64 = 0
    var syncedSequence: UInt64 = 0
    var handOffRequested: Set<UInt64> = []
    var writeBuffer: [UInt8] = []
    var thread: SyncThread?
    /// The thread creating the next segment file ahead of time, if any.
    var preparer: SyncThread?
    // Guarded by `condition`: segment files made ready by the preparer.
    var preparedSlots: [Slot] = []
    var preparationInFlight = false

    init(
        index: Int,
        path: String,
        fileSystem: any FileSystem,
        configuration: IncomingLog.Configuration,
        sequencer: LogSequencer,
        queueID: QueueID,
        logger: Logger
    ) {
        self.index = index
        self.path = path
        self.fileSystem = fileSystem
        self.configuration = configuration
        self.sequencer = sequencer
        self.queueID = queueID
        self.logger = logger
    }

    static func slotName(_ slot: Int) -> String {
        "segment-" + String(slot).leftPadded(to: 4) + ".log"
    }

    /// Bytes a record may occupy so that it and a seal always fit in an empty segment.
    var segmentCapacity: Int {
        configuration.segmentSize - FormatConstants.fileHeaderSize - RecordFrame.size(payloadCount: 1)
    }
}
