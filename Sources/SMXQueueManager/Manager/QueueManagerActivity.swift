/// What a ``QueueManager``'s scheduler loop and its tasks are doing at one moment: whether
/// the loop sleeps, how many events wait for its next pass, and how many resolver and
/// agent calls are running (a job that timed out counts until its agent returns).
public struct QueueManagerActivity: Sendable, Equatable {
    /// The loop is asleep (or about to sleep) until an event, its due time or a stop.
    public var loopParked: Bool
    /// Accepted messages, resolver answers and agent results not yet applied.
    public var eventsWaiting: Int
    public var resolutionsRunning: Int
    public var jobsRunning: Int
}
