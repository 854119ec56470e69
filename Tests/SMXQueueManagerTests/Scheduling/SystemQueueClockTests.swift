import Foundation
import SMXQueueManager
import Testing

@Suite struct SystemQueueClockTests {
    @Test func nowIsTheWallClock() {
        let now = SystemQueueClock().now()
        let reference = Date().timeIntervalSince1970 * 1_000_000
        #expect(abs(Double(now.microsecondsSinceEpoch) - reference) < 2_000_000)
    }

    @Test func sleepsUntilTheDeadlineAndStopsWhenCancelled() async throws {
        let clock = SystemQueueClock()
        let deadline = clock.now() + .milliseconds(30)
        try await clock.sleep(until: deadline)
        #expect(clock.now() >= deadline)
        try await clock.sleep(until: Timestamp(microsecondsSinceEpoch: 0))
        let start = ContinuousClock.now
        let sleeper = Task { try await clock.sleep(until: clock.now() + .hours(1)) }
        try await Task.sleep(for: .milliseconds(10))
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        // Cancelled, not slept out: far less than the hour. The bound is loose because
        // this test shares the two cooperative threads with the whole parallel suite,
        // whose crash campaigns keep them busy at the start (one `make test` measured
        // 31.8 s from here to the return).
        #expect(ContinuousClock.now - start < .seconds(600))
    }
}
