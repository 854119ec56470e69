import SMXQueueManager
import Testing

@Suite struct ManualClockTests {
    static let t0 = Timestamp(secondsSinceEpoch: 1_800_000_000)

    @Test func advanceWakesOnlyTheDueSleepersInDeadlineOrder() async throws {
        let clock = ManualClock(start: Self.t0)
        let offsets: [Int64] = [30, 10, 20, 10]
        let sleepers = offsets.map { offset in
            Task { try await clock.sleep(until: Self.t0 + .seconds(offset)) }
        }
        #expect(await SchedulingTestSupport.eventually { clock.deadlines.count == 4 })
        #expect(clock.deadlines == [10, 10, 20, 30].map { Self.t0 + .seconds($0) })
        #expect(clock.advance(to: Self.t0 + .seconds(10) - .microseconds(1)).isEmpty)
        #expect(clock.advance(to: Self.t0 + .seconds(25)) == [10, 10, 20].map { Self.t0 + .seconds($0) })
        #expect(clock.deadlines == [Self.t0 + .seconds(30)] && clock.now() == Self.t0 + .seconds(25))
        for index in [0, 1, 2, 3] where index != 0 { try await sleepers[index].value }
        #expect(clock.advance(by: .seconds(5)) == [Self.t0 + .seconds(30)])
        try await sleepers[0].value
        #expect(clock.deadlines.isEmpty)
    }

    @Test func timeNeverGoesBackAndPastDeadlinesDoNotSleep() async throws {
        let clock = ManualClock(start: Self.t0)
        clock.advance(to: Self.t0 - .seconds(5))
        #expect(clock.now() == Self.t0)
        try await clock.sleep(until: Self.t0)
        try await clock.sleep(until: Self.t0 - .seconds(1))
        #expect(clock.deadlines.isEmpty)
    }

    @Test func cancellationEndsASleep() async {
        let clock = ManualClock(start: Self.t0)
        let sleeper = Task { try await clock.sleep(until: Self.t0 + .hours(1)) }
        #expect(await SchedulingTestSupport.eventually { clock.deadlines.count == 1 })
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(clock.deadlines.isEmpty && clock.now() == Self.t0)
        // Cancelled before it sleeps: it does not sleep at all.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await clock.sleep(until: Self.t0 + .hours(1))
        }
        await #expect(throws: CancellationError.self) { try await early.value }
        #expect(clock.deadlines.isEmpty)
    }
}
