import SMXStore

/// Everything a ``QueueManager`` is configured with besides its stores and collaborators:
/// the active queue's size and fill rules, how long the resolver and the agents may take,
/// the job size, the per-destination concurrency limits, the longest a message may stay
/// queued, and what the receiving side and startup are given.
///
/// Checked when made (``QueueManagerConfigurationError``), so a bad configuration fails
/// at startup and never in the scheduler loop.
public struct QueueManagerConfiguration: Sendable {
    /// Postfix's `maximal_queue_lifetime` (5 days).
    public static let defaultMaximumQueueLifetime = Duration.days(5)
    public static let defaultResolverTimeout = Duration.seconds(60)
    public static let defaultAgentTimeout = Duration.minutes(10)
    public static let defaultThreadNiceIncrement = 0

    /// The active queue's capacity, low watermark, deferred reserve and maximum, batch.
    public var activeQueue: ActiveQueueConfiguration
    /// An entry that waits this long for the address resolver leaves the active queue for
    /// the deferred queue with a temporary error (the seed's "Cleanup of Active Queue").
    public var resolverTimeout: Duration
    /// An entry that waits this long for a delivery agent's result does the same; a result
    /// that comes later is ignored (a late success may deliver twice: rule 4).
    public var agentTimeout: Duration
    /// Most recipients of one envelope in one job (one SMTP transaction).
    public var recipientsPerJob: Int
    /// Jobs in flight per destination.
    public var destinationLimits: DestinationLimits
    /// Destinations the ``DestinationTable`` remembers while it can forget idle ones.
    public var destinationTableCapacity: Int
    /// A temporary failure at or after `arrival + maximumQueueLifetime` is final: the
    /// recipient expires (a failed DSN). The retry rule's own lifetime applies too; the
    /// shorter wins.
    public var maximumQueueLifetime: Duration
    /// The receiving side's limits.
    public var receiver: ReceiverConfiguration
    /// Asked on every MAIL FROM and final dot, unless ``loadControl`` is set.
    public var admission: any AdmissionPolicy
    /// When set, the receiver's admission is this control over the manager's own load
    /// (open incoming transactions, active-queue entries), with its hysteresis, instead of
    /// ``admission``.
    public var loadControl: AdmissionControl?
    /// Startup's batch size and next-try cache capacity.
    public var startup: QueueStartup.Configuration
    /// When set, the manager sends the delivery status notifications itself (RFC 3461,
    /// RFC 3464): a failure notification when a failed recipient's report time comes (the
    /// recipient then leaves the deferred queue as `bounced`), one delay notification per
    /// envelope once a deferred recipient that asks for it has waited its retry rule's
    /// warning time, and a success notification for NOTIFY=SUCCESS. Nil: failed recipients
    /// stay in the deferred queue for a separate ``NotificationPass`` and
    /// ``QueueManager/removeReported(_:)``, and no delay or success notification is sent.
    public var notifications: NotificationConfiguration?
    /// Seeds the generator the retry policy's fuzz draws from; nil: a random seed. Tests
    /// and simulations give one so that runs replay.
    public var randomSeed: UInt64?
    /// How many steps the manager's thread (``QueueManager``'s executor) runs below the
    /// nice value of the thread that made the manager (0 ... 19; Linux keeps nice values
    /// per thread, and 19 is the lowest priority; raising one needs no privilege). Above 0
    /// the receiving side, which waits on the CPU for every acknowledgement, goes first and
    /// the manager takes the CPU that is left, as RocksDB lowers the priority of its
    /// compaction threads: faster acceptance in a burst, slower delivery whenever anything
    /// else wants the CPU (docs/queue-manager.md has the measurements). 0, the default,
    /// runs the manager at the process's priority.
    public var threadNiceIncrement: Int

    public init(
        activeQueue: ActiveQueueConfiguration,
        destinationLimits: DestinationLimits,
        resolverTimeout: Duration = defaultResolverTimeout,
        agentTimeout: Duration = defaultAgentTimeout,
        recipientsPerJob: Int = JobBuilder.defaultRecipientsPerJob,
        destinationTableCapacity: Int = DestinationTable.defaultCapacity,
        maximumQueueLifetime: Duration = defaultMaximumQueueLifetime,
        receiver: ReceiverConfiguration = ReceiverConfiguration(),
        admission: any AdmissionPolicy = AlwaysAccept(),
        loadControl: AdmissionControl? = nil,
        startup: QueueStartup.Configuration = QueueStartup.Configuration(),
        notifications: NotificationConfiguration? = nil,
        randomSeed: UInt64? = nil,
        threadNiceIncrement: Int = defaultThreadNiceIncrement
    ) throws(QueueManagerConfigurationError) {
        guard resolverTimeout > .zero else { throw .invalid("the resolver timeout must be positive") }
        guard agentTimeout > .zero else { throw .invalid("the agent timeout must be positive") }
        guard recipientsPerJob >= 1 else { throw .invalid("recipients per job must be at least 1, not \(recipientsPerJob)") }
        guard destinationTableCapacity >= 1 else { throw .invalid("the destination table capacity must be at least 1") }
        guard maximumQueueLifetime > .zero else { throw .invalid("the maximum queue lifetime must be positive") }
        guard (0...19).contains(threadNiceIncrement) else {
            throw .invalid("the manager thread's nice increment must be 0 ... 19, not \(threadNiceIncrement)")
        }
        self.activeQueue = activeQueue
        self.destinationLimits = destinationLimits
        self.resolverTimeout = resolverTimeout
        self.agentTimeout = agentTimeout
        self.recipientsPerJob = recipientsPerJob
        self.destinationTableCapacity = destinationTableCapacity
        self.maximumQueueLifetime = maximumQueueLifetime
        self.receiver = receiver
        self.admission = admission
        self.loadControl = loadControl
        self.startup = startup
        self.notifications = notifications
        self.randomSeed = randomSeed
        self.threadNiceIncrement = threadNiceIncrement
    }
}
