import SMXStore

/// One recipient in the ``ActiveQueue``: where it came from, how far it got, since when,
/// and, once resolved, where it goes.
///
/// The queue manager keeps the recipient's address and parameters in the queue it came
/// from (the incoming queue or the deferred queue); the active queue holds only what the
/// schedulers need, so that an entry stays small and the queue it came from stays the one
/// that is updated when a result comes (the seed's "Updating Data in Queues after a
/// Delivery Attempt").
public struct ActiveQueueEntry: Hashable, Sendable, CustomStringConvertible {
    /// Which queue the recipient was read from, and so which queue its result updates.
    public enum Source: Int, Hashable, Sendable, CaseIterable, CustomStringConvertible {
        /// The incoming queue (the seed's IQDB, backed by the incoming log): new mail.
        case incoming = 0
        /// The deferred queue (the seed's DEFEDB), read through the next-try cache.
        case deferred = 1

        public var description: String {
            switch self {
            case .incoming: "incoming"
            case .deferred: "deferred"
            }
        }
    }

    /// How far the recipient got. Each state has its own timeout (the seed's "Cleanup of
    /// Active Queue") except ``awaitingJob``, which waits only for the second-level
    /// scheduler.
    public enum State: Int, Hashable, Sendable, CaseIterable, CustomStringConvertible {
        /// Sent to the address resolver; no answer yet.
        case awaitingResolution = 0
        /// Resolved: has a delivery class and next hop, waits to be put in a job.
        case awaitingJob = 1
        /// In a delivery job at a delivery agent; no result yet.
        case atAgent = 2

        public var description: String {
            switch self {
            case .awaitingResolution: "awaiting resolution"
            case .awaitingJob: "awaiting job"
            case .atAgent: "at agent"
            }
        }
    }

    public let id: RecipientID
    public let source: Source
    public internal(set) var state: State
    /// When the entry entered its current state (the timeouts count from here).
    public internal(set) var since: Timestamp
    /// The resolver's delivery class; nil exactly while awaiting resolution.
    public internal(set) var deliveryClass: DeliveryClass?
    /// The resolver's next hop; nil exactly while awaiting resolution.
    public internal(set) var nextHop: NextHop?
    /// The job the entry is in; nil exactly when it is not at an agent. A result names its
    /// job, so a late result of a job that timed out cannot take out the recipient once it
    /// is back in the active queue in another job.
    public internal(set) var job: DeliveryJob.ID?

    init(id: RecipientID, source: Source, since: Timestamp) {
        self.id = id
        self.source = source
        self.state = .awaitingResolution
        self.since = since
    }

    public var description: String {
        var text = "\(id) from \(source), \(state) since \(since)"
        if let deliveryClass, let nextHop { text += ", \(deliveryClass) to \(nextHop)" }
        if let job { text += ", job \(job)" }
        return text
    }
}
