import SMXStore

/// What ``QueueStartup/run(now:)`` found and did, for `smx-recover` to print: the stores'
/// own recovery reports, then per step its counts and its time.
public struct StartupReport: Sendable {
    /// A deferred envelope dropped because its body is missing or does not verify.
    public struct DroppedEnvelope: Sendable, Equatable {
        public var envelopeID: EnvelopeID
        public var content: ContentReference
        public var finding: ContentValidation
        /// Recipient records it held (each lost with it).
        public var recipients: Int
        /// Where a damaged body's bytes were copied (the content store's quarantine
        /// directory); nil when not copied.
        public var quarantinedAt: String?
    }

    /// An open incoming transaction that could not be moved because the deferred queue
    /// cannot store it (an address or sender past its bounds, written by an older
    /// receiver). It stays open in the incoming log, its body referenced, for an operator.
    public struct UnmovableTransaction: Sendable, Equatable {
        public var envelopeID: EnvelopeID
        public var problem: String
    }

    /// The deferred queue's state: committed transaction, checkpoint, tree sizes, pages.
    public struct DeferredQueueInfo: Sendable, Equatable {
        public var path: String
        public var committedTransaction: UInt64
        public var checkpoint: UInt64
        public var counts: DeferredQueueCounts
        public var pages: Int
        public var freePages: Int
    }

    public struct StepTiming: Sendable, Equatable {
        public var step: StartupStep
        public var micros: UInt64
    }

    /// What opening the incoming log found (``IncomingLog/recovery``).
    public var incomingLog: RecoveryReport
    /// What opening the content store found (``ContentStore/recovery``).
    public var contentStore: ContentRecoveryReport
    /// The deferred queue before the first step and after the last.
    public var deferredQueueBefore: DeferredQueueInfo
    public var deferredQueueAfter: DeferredQueueInfo?

    // discardWithoutBody
    /// Open incoming transactions closed because their body was missing or damaged.
    public var discardedWithoutBody: [IncomingLog.DiscardedTransaction] = []

    // moveOpenTransactions
    /// Open incoming transactions found after the discard step.
    public var openTransactions = 0
    /// Transactions with recipients added to the deferred queue.
    public var transactionsMoved = 0
    /// Pending recipients added to the deferred queue (due at once).
    public var recipientsMoved = 0
    /// Pending recipients the deferred queue already held (an earlier startup, or a
    /// hand-off, stopped between its deferred commit and its close).
    public var recipientsAlreadyDeferred = 0
    /// Delivered recipients: not queued again.
    public var recipientsDelivered = 0
    /// Recipients that failed permanently or moved to the deferred queue before the crash:
    /// the deferred queue got them first (rule 3), so its copy, or their having left it,
    /// stands.
    public var recipientsLeftToDeferredCopy = 0
    /// Incoming-log close records written (moved and completed transactions).
    public var transactionsClosed = 0
    public var unmovable: [UnmovableTransaction] = []

    // checkDeferredBodies
    public var deferredEnvelopesChecked = 0
    /// Bodies read and verified by this step (bodies the discard step verified are not
    /// read twice).
    public var bodiesVerified = 0
    public var droppedEnvelopes: [DroppedEnvelope] = []
    /// Damaged bodies that could not be quarantined, and why (the envelope is dropped all
    /// the same).
    public var quarantineProblems: [String] = []

    // recountReferences
    /// Bodies referenced by an envelope (deferred queue or still-open incoming transaction).
    public var referencedBodies = 0
    /// References counted (an envelope is one reference to its body).
    public var references = 0
    /// Bodies released because nothing refers to them (garbage from crashes: bodies whose
    /// envelope never committed, release marks that were not synced, dropped envelopes).
    public var bodiesReleased = 0

    // rebuildNextTryCache
    public var nextTryEntries = 0
    /// True when the cache holds the whole next-try index (its horizon is +∞).
    public var nextTryCacheComplete = false

    /// The largest envelope id any step saw, including envelopes it discarded or dropped:
    /// new ids start past it (``EnvelopeIDSource``).
    public var highestEnvelopeID: EnvelopeID?

    public var timings: [StepTiming] = []
    public var totalMicros: UInt64 = 0

    public init(incomingLog: RecoveryReport, contentStore: ContentRecoveryReport, deferredQueueBefore: DeferredQueueInfo) {
        self.incomingLog = incomingLog
        self.contentStore = contentStore
        self.deferredQueueBefore = deferredQueueBefore
    }

    mutating func saw(_ id: EnvelopeID) {
        if highestEnvelopeID.map({ $0 < id }) ?? true { highestEnvelopeID = id }
    }

    /// How long `step` took; nil when it did not run.
    public func micros(of step: StartupStep) -> UInt64? {
        timings.first { $0.step == step }?.micros
    }
}
