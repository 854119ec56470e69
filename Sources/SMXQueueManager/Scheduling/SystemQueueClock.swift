#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The real ``QueueClock``: `CLOCK_REALTIME` for the instant, `Task.sleep` for the sleep.
///
/// A sleep lasts the difference between its deadline and the wall clock when it starts,
/// measured on the continuous clock: a wall-clock step while asleep is noticed at the next
/// wake, not during the sleep (the scheduler then reads the time again and sleeps anew).
/// Cancellation ends a sleep at once.
public struct SystemQueueClock: QueueClock {
    public init() {}

    public func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        guard spec.tv_sec >= 0 else { return Timestamp(microsecondsSinceEpoch: 0) }
        return Timestamp(secondsSinceEpoch: UInt64(spec.tv_sec)).adding(microseconds: UInt64(spec.tv_nsec / 1_000))
    }

    public func sleep(until deadline: Timestamp) async throws {
        let micros = deadline.microseconds(since: now())
        guard micros > 0 else {
            try Task.checkCancellation()
            return
        }
        try await Task.sleep(for: .microseconds(Int64(clamping: micros)))
    }
}
