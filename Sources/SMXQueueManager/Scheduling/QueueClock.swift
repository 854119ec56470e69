/// The time as the queue manager's schedulers see it: the wall-clock instant the stores
/// record, and a sleep until such an instant.
///
/// A protocol so that tests and simulations drive time by hand (``ManualClock``) and the
/// scheduler's timing is deterministic; ``SystemQueueClock`` is the real one.
///
/// **Contract.** ``sleep(until:)`` returns at or after `deadline` (at once when it has
/// passed), and throws `CancellationError` as soon as the sleeping task is cancelled: that
/// is how a sleeper is woken early (``SchedulerWakeup`` cancels its timer when mail
/// arrives). It never returns early without throwing.
public protocol QueueClock: Sendable {
    /// The current instant.
    func now() -> Timestamp
    /// Suspends until `deadline`; throws `CancellationError` when the task is cancelled.
    func sleep(until deadline: Timestamp) async throws
}
