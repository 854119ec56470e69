import SMXStore

/// What a running ``QueueManager`` holds and has done, for `smx-qdump`, monitoring and
/// tests: recipients per queue and state, the active queue's occupancy, and totals since
/// start. A snapshot taken between two store writes of a pass may show a recipient's
/// result counted before its incoming-log mark is durable.
public struct QueueManagerStatistics: Sendable, Equatable {
    /// Counts since ``QueueManager/start()``.
    public struct Totals: Sendable, Equatable {
        /// Messages and recipients acknowledged by the receiver.
        public var acceptedMessages = 0
        public var acceptedRecipients = 0
        /// Recipients delivered (from either queue).
        public var delivered = 0
        /// Temporary failures written to the deferred queue with a next try.
        public var deferred = 0
        /// Recipients recorded as failed (permanent failures and expiries).
        public var failed = 0
        /// Of ``failed``, those whose queue lifetime ran out.
        public var expired = 0
        /// Recipients deferred untried to their destination's retry time.
        public var postponed = 0
        /// Failed recipients removed after the DSN pass reported them.
        public var bounced = 0
        /// Active-queue entries that waited too long for the resolver or an agent.
        public var timedOut = 0
        public var jobsStarted = 0
        /// Answers for recipients or jobs no longer waiting for them (ignored).
        public var lateAnswers = 0
        public var bodiesReleased = 0
        /// Scheduler passes run.
        public var passes = 0
        /// Notifications (failure, delay, success) the manager queued, durable.
        public var notificationsSent = 0
        /// Recipients named in a delay notification.
        public var delayWarned = 0
        /// Notifications the receiving side did not take (tried again, except successes).
        public var notificationsFailed = 0
        /// Success notifications given up (their deliveries were recorded anyway).
        public var notificationsLost = 0

        public init() {}
    }

    public var totals: Totals
    /// Active-queue entries per source and state (`activeQueue[source][state]`).
    public var activeQueue: [ActiveQueueEntry.Source: [ActiveQueueEntry.State: Int]]
    public var activeQueueCount: Int
    public var activeQueueCapacity: Int
    /// Open transactions in the manager's incoming queue.
    public var incomingTransactions: Int
    /// Incoming recipients per state as last committed (pending includes those in the
    /// active queue).
    public var incomingRecipients: [RecipientState: Int]
    /// Incoming recipients not yet taken into the active queue.
    public var incomingWaiting: Int
    /// The deferred queue's tree sizes; nil when it could not be read.
    public var deferredQueue: DeferredQueueCounts?
    /// Deferred-queue recipients per status, summed from every envelope's counters; nil
    /// unless asked for (it reads every envelope record) or when it could not be read.
    public var deferredRecipients: [DeferredRecipient.Status: Int]?
    /// Failed recipients whose DSN is due (``QueueManager/failedAwaitingReport``).
    public var failedAwaitingReport: Int
    public var nextTryCacheKeys: Int
    public var jobsInFlight: Int
    public var destinationsKnown: Int
    /// Bodies with references, and references in all.
    public var referencedBodies: Int
    public var references: Int
}

extension QueueManager {
    /// The statistics now. Reads the deferred queue's tree sizes from a snapshot, and with
    /// `countingDeferredRecipients` also every envelope's counters (O(envelopes)).
    public func statistics(countingDeferredRecipients: Bool = false) -> QueueManagerStatistics {
        var perSource: [ActiveQueueEntry.Source: [ActiveQueueEntry.State: Int]] = [:]
        for source in ActiveQueueEntry.Source.allCases {
            for state in ActiveQueueEntry.State.allCases {
                perSource[source, default: [:]][state] = activeQueue.count(from: source, in: state)
            }
        }
        var incomingStates: [RecipientState: Int] = [:]
        for envelope in incoming.values {
            for recipient in envelope.transaction.recipients { incomingStates[recipient.state, default: 0] += 1 }
        }
        let reader = try? deferredQueue.reader()
        defer { reader?.close() }
        let counts = try? reader?.counts()
        var perStatus: [DeferredRecipient.Status: Int]?
        if countingDeferredRecipients, let transactions = try? reader?.transactions() {
            var sums: [DeferredRecipient.Status: Int] = [.deferred: 0, .held: 0, .failed: 0]
            for transaction in transactions {
                sums[.deferred, default: 0] += Int(transaction.deferred)
                sums[.held, default: 0] += Int(transaction.held)
                sums[.failed, default: 0] += Int(transaction.failed)
            }
            perStatus = sums
        }
        return QueueManagerStatistics(
            totals: totals, activeQueue: perSource, activeQueueCount: activeQueue.count,
            activeQueueCapacity: configuration.activeQueue.capacity, incomingTransactions: incoming.count,
            incomingRecipients: incomingStates, incomingWaiting: waitingIncoming, deferredQueue: counts,
            deferredRecipients: perStatus,
            failedAwaitingReport: failuresAwaitingReport.count, nextTryCacheKeys: nextTryCache?.count ?? 0,
            jobsInFlight: jobs.count, destinationsKnown: destinations.count,
            referencedBodies: references.count, references: references.values.reduce(0, +)
        )
    }
}
