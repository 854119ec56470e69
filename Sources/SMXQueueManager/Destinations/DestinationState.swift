/// What the queue manager knows about one destination (the seed's open connection cache
/// and destination connection cache, merged): jobs in flight, and the current run of
/// failures with the retry time it set.
public struct DestinationState: Equatable, Sendable {
    /// Most jobs in flight at once while the destination is healthy (``DestinationLimits``).
    public let limit: Int
    /// Jobs started and not finished: open connections.
    public internal(set) var inFlight = 0
    /// When the last job was started.
    public internal(set) var lastAttempt: Timestamp?
    /// When the current run of failures began; nil while the destination is healthy.
    public internal(set) var firstFailure: Timestamp?
    /// Failed jobs in the current run; 0 while healthy.
    public internal(set) var consecutiveFailures = 0
    /// Known down until then: no job starts before it. Set by each failure from the
    /// retry policy; nil while healthy.
    public internal(set) var nextRetry: Timestamp?

    init(limit: Int) {
        self.limit = limit
    }

    /// In a run of failures (a connection failed, and none has worked since).
    public var isFailing: Bool { firstFailure != nil }

    /// Whether a job may start at `now`: healthy and below its limit, or failing, past its
    /// retry time and with no job in flight (one probe at a time).
    func canStart(now: Timestamp) -> Bool {
        guard let nextRetry else { return inFlight < limit }
        return now >= nextRetry && inFlight == 0
    }
}
