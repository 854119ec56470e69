/// The state of every destination the queue manager delivers to, keyed by next hop: how
/// many jobs are in flight against the destination's concurrency limit, and whether it is
/// known to be down until its retry time (the seed's connection caches and "Next Retry
/// Time": a site that is down is not contacted at random intervals because different
/// messages are addressed to it).
///
/// **Rules.**
/// - A healthy destination takes jobs up to its limit (``DestinationLimits``).
/// - A job that fails to connect (``ConnectionOutcome/failed``) starts a run of failures
///   (or continues it): the destination is down until ``RetryPolicy/nextTry(destination:firstFailure:now:using:)``
///   for its host, counted from the run's first failure. Before that no job starts; after
///   it, one job at a time probes the destination.
/// - A job that connects (``ConnectionOutcome/connected``), or ``markUp(_:)``, ends the run:
///   the destination is healthy again with its full limit.
///
/// **Bounded size.** At most ``capacity`` entries are kept while some can be let go: when
/// the table is over it, the least recently used idle healthy destination is forgotten
/// (it has nothing to remember), and an idle failing destination whose retry time has
/// passed and which nothing has tried for its retry rule's lifetime (no message can still
/// be waiting for it) goes first. A destination with jobs in flight or a live run of
/// failures is never forgotten, so the table exceeds its capacity only by those.
///
/// Pure: the caller passes the time and the random number generator (the policy's fuzz).
/// Not thread-safe: one scheduler owns it. ``verify()`` checks the invariants.
public struct DestinationTable: Sendable {
    /// Entries kept when idle healthy ones can be let go.
    public static let defaultCapacity = 10_000

    public let policy: RetryPolicy
    public let limits: DestinationLimits
    public let capacity: Int

    private(set) var states: [NextHop: DestinationState] = [:]
    /// Idle healthy destinations, least recently used first: the first to be forgotten.
    private(set) var idleHealthy = RecencyList<NextHop>()
    /// Idle failing destinations, least recently used first.
    private(set) var idleFailing = RecencyList<NextHop>()

    /// Throws ``DeliveryConfigurationError/invalidLimit(_:)`` when `capacity` is below 1.
    public init(policy: RetryPolicy, limits: DestinationLimits, capacity: Int = defaultCapacity) throws(DeliveryConfigurationError) {
        guard capacity >= 1 else { throw .invalidLimit("the destination table capacity must be at least 1") }
        self.policy = policy
        self.limits = limits
        self.capacity = capacity
    }

    /// Destinations known.
    public var count: Int { states.count }

    /// What is known about `destination`; nil when nothing is (never used, or forgotten).
    public func state(of destination: NextHop) -> DestinationState? {
        states[destination]
    }

    /// Whether a job for `destination` may start at `now`: an unknown destination always;
    /// a healthy one below its limit; a failing one when `now` is at or after its retry
    /// time and no job is in flight.
    public func canStart(_ destination: NextHop, now: Timestamp) -> Bool {
        states[destination]?.canStart(now: now) ?? true
    }

    /// Records that a job for `destination` starts at `now`, if ``canStart(_:now:)``
    /// allows it; returns whether it did (false: nothing changed, do not start the job).
    public mutating func started(_ destination: NextHop, now: Timestamp) -> Bool {
        guard canStart(destination, now: now) else { return false }
        if states[destination] == nil {
            trim(now: now, reserving: 1)
            states[destination] = DestinationState(limit: limits.limit(for: destination))
        }
        states[destination]?.inFlight += 1
        states[destination]?.lastAttempt = now
        idleHealthy.remove(destination)
        idleFailing.remove(destination)
        return true
    }

    /// Records that a job for `destination` ended at `now` with `outcome`. A failure sets
    /// the next retry from the policy (drawing its fuzz from `random`); a connection ends
    /// the run of failures.
    ///
    /// Traps when no job for `destination` is in flight (a scheduler bug: every
    /// ``finished(_:outcome:now:using:)`` answers one successful ``started(_:now:)``).
    public mutating func finished(
        _ destination: NextHop, outcome: ConnectionOutcome, now: Timestamp, using random: inout some RandomNumberGenerator
    ) {
        guard var state = states[destination], state.inFlight > 0 else {
            preconditionFailure("DestinationTable.finished(\(destination)) without a job in flight")
        }
        state.inFlight -= 1
        switch outcome {
        case .connected:
            state.firstFailure = nil
            state.consecutiveFailures = 0
            state.nextRetry = nil
        case .failed:
            let firstFailure = state.firstFailure ?? now
            state.firstFailure = firstFailure
            state.consecutiveFailures += 1
            state.nextRetry = policy.nextTry(destination: destination.host, firstFailure: firstFailure, now: now, using: &random)
        }
        states[destination] = state
        relist(destination, state)
        trim(now: now, reserving: 0)
    }

    /// When `destination` may be tried again; nil when it is not known to be down.
    public func nextRetry(_ destination: NextHop) -> Timestamp? {
        states[destination]?.nextRetry
    }

    /// `destination` works again (a connection to it succeeded elsewhere, an ETRN, an
    /// operator's word): ends its run of failures, so jobs may start at once.
    public mutating func markUp(_ destination: NextHop) {
        guard var state = states[destination], state.isFailing else { return }
        state.firstFailure = nil
        state.consecutiveFailures = 0
        state.nextRetry = nil
        states[destination] = state
        relist(destination, state)
        trim(now: nil, reserving: 0)
    }

    /// Puts an idle destination at the recent end of the list for its health.
    private mutating func relist(_ destination: NextHop, _ state: DestinationState) {
        idleHealthy.remove(destination)
        idleFailing.remove(destination)
        guard state.inFlight == 0 else { return }
        if state.isFailing {
            idleFailing.append(destination)
        } else {
            idleHealthy.append(destination)
        }
    }

    /// Forgets destinations that may be forgotten until `reserving` more fit within the
    /// capacity, or none is left to forget. Stale failing ones are looked at only when the
    /// time is known.
    private mutating func trim(now: Timestamp?, reserving: Int) {
        while states.count + reserving > capacity {
            if let now, let oldest = idleFailing.oldest, isStale(oldest, now: now) {
                idleFailing.remove(oldest)
                states[oldest] = nil
            } else if let oldest = idleHealthy.oldest {
                idleHealthy.remove(oldest)
                states[oldest] = nil
            } else {
                return
            }
        }
    }

    /// An idle failing destination past its retry time that nothing has tried for its
    /// rule's lifetime: every message that waited for it has expired.
    func isStale(_ destination: NextHop, now: Timestamp) -> Bool {
        guard let state = states[destination], state.inFlight == 0, let nextRetry = state.nextRetry, let lastAttempt = state.lastAttempt else {
            return false
        }
        return now >= nextRetry && now >= lastAttempt + policy.rule(for: destination.host).lifetime
    }
}
