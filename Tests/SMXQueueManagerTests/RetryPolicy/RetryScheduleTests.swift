import SMXQueueManager
import SMXTestSupport
import Testing

/// Each kind of schedule against hand-computed retry times (no fuzz: that is the policy's).
@Suite struct RetryScheduleTests {
    /// The first `count` tries of `schedule` when every try happens exactly on time, in
    /// seconds after the first failure.
    static func onTime(_ schedule: RetrySchedule, count: Int, seed: UInt64 = 1) -> [Double] {
        var random = SplitMix64(seed: seed)
        var elapsed = Duration.zero
        var times: [Double] = []
        for _ in 0..<count {
            elapsed = schedule.nextRetry(after: elapsed, using: &random)
            times.append(seconds(elapsed))
        }
        return times
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    static func next(_ schedule: RetrySchedule, after elapsed: Duration) -> Double {
        var random = SplitMix64(seed: 1)
        return seconds(schedule.nextRetry(after: elapsed, using: &random))
    }

    @Test func fixedStepIsAGridFromTheFirstFailure() {
        let schedule = RetrySchedule.steps([.fixed(.minutes(15), until: .hours(2))])
        #expect(Self.onTime(schedule, count: 10) == (1...10).map { Double($0 * 900) })
        // Late or early tries still land on the grid.
        #expect(Self.next(schedule, after: .seconds(899)) == 900)
        #expect(Self.next(schedule, after: .seconds(900)) == 1_800)
        #expect(Self.next(schedule, after: .seconds(1_000)) == 1_800)
        // The last step stays in effect past its cutoff.
        #expect(Self.next(schedule, after: .hours(5)) == 5 * 3_600 + 900)
    }

    @Test func geometricStepGrowsByItsFactor() {
        let schedule = RetrySchedule.steps([.geometric(start: .minutes(10), factor: 2, until: .days(1))])
        // Waits 10, 20, 40, 80, 160 minutes.
        #expect(Self.onTime(schedule, count: 5) == [10, 30, 70, 150, 310].map { Double($0 * 60) })
        #expect(Self.next(schedule, after: .minutes(100)) == 150 * 60)
    }

    @Test func cutoffsHandOverAtTheCutoff() {
        let schedule = RetrySchedule.steps([
            .fixed(.minutes(10), until: .hours(1)),
            .fixed(.hours(1), until: .days(1)),
        ])
        #expect(Self.onTime(schedule, count: 8) == [10, 20, 30, 40, 50, 60, 120, 180].map { Double($0 * 60) })
        #expect(Self.next(schedule, after: .minutes(59)) == 3_600)
        #expect(Self.next(schedule, after: .minutes(61)) == 7_200)
    }

    /// The step in effect is chosen at each try by the time since the first failure, so an
    /// interval that started in one step may end past its cutoff (Exim does the same).
    @Test func eximDefaultMatchesExim() {
        let minutes = Self.onTime(.eximDefault, count: 17).map { $0 / 60 }
        #expect(minutes == [
            15, 30, 45, 60, 75, 90, 105, 120,   // F,2h,15m
            180, 270, 405, 607.5, 911.25, 1_366.875,  // G,16h,1h,1.5: waits 60, 90, 135, 202.5, 303.75, 455.625
            1_726.875, 2_086.875, 2_446.875,  // F,4d,6h
        ])
    }

    /// A destination down for two days: a new message's first deferral lands on the 6-hour
    /// step straight away.
    @Test func longOutagePutsNewMessagesOnTheLaterStep() {
        let next = Self.next(.eximDefault, after: .hours(48))
        #expect(next == (1_366.875 + 5 * 360) * 60)
        #expect(next - 48 * 3_600 > 3_600)
    }

    @Test func randomStepDrawsWithinItsRange() {
        let schedule = RetrySchedule.steps([
            .random(minimum: .minutes(5), maximum: .minutes(20), until: .hours(1)),
            .fixed(.minutes(30), until: .hours(5)),
        ])
        var random = SplitMix64(seed: 7)
        for elapsed in stride(from: 0, to: 3_600, by: 7) {
            let next = Self.seconds(schedule.nextRetry(after: .seconds(elapsed), using: &random))
            #expect((Double(elapsed + 300)...Double(elapsed + 1_200)).contains(next))
        }
        // Once it is past, the next step's grid starts at its cutoff.
        #expect(Self.next(schedule, after: .minutes(70)) == 90 * 60)
        // The same seed gives the same draws.
        #expect(Self.onTime(schedule, count: 5, seed: 3) == Self.onTime(schedule, count: 5, seed: 3))
        #expect(Self.onTime(schedule, count: 5, seed: 3) != Self.onTime(schedule, count: 5, seed: 4))
    }

    /// qmail-send's `nextretry`: `birth + (isqrt(now - birth) + chanskip)²`.
    @Test func qmailQuadratic() {
        #expect(Self.onTime(.qmailRemote, count: 6) == [400, 1_600, 3_600, 6_400, 10_000, 14_400])
        #expect(Self.onTime(.qmailLocal, count: 6) == [100, 400, 900, 1_600, 2_500, 3_600])
        // A late try: ⌊√500⌋ = 22, (22 + 20)² = 1764.
        #expect(Self.next(.qmailRemote, after: .seconds(500)) == 1_764)
        // Perfect squares are exact: ⌊√1600⌋ = 40.
        #expect(Self.next(.qmailRemote, after: .seconds(1_600)) == 3_600)
    }

    /// The seed's list of Courier's waits with its defaults: 5, 5, 5, 15, 5, 5, 30, 5, 5, 60,
    /// 5, 5, then 120, 5, 5 repeating.
    @Test func courierDefaultFollowsTheManual() {
        let minutes = Self.onTime(.courierDefault, count: 19).map { Int($0) / 60 }
        let waits = zip(minutes, [0] + minutes).map { $0 - $1 }
        #expect(waits == [5, 5, 5, 15, 5, 5, 30, 5, 5, 60, 5, 5, 120, 5, 5, 120, 5, 5, 120])
        // Far into the repeating part (skipped over, not walked).
        let late = Self.next(.courierDefault, after: .days(6))
        let cycleStart = 270.0 * 60  // the first 120-minute pause ends at 270 minutes
        let cycle = 130.0 * 60
        let position = (late - cycleStart).truncatingRemainder(dividingBy: cycle)
        #expect([0, 300, 600].contains(position))
        #expect(late > 6 * 86_400 && late <= 6 * 86_400 + 120 * 60)
    }

    @Test func invalidSchedulesAreRejected() {
        #expect(throws: RetryConfigurationError.emptySchedule) { try RetrySchedule.steps([]).validate() }
        #expect(throws: RetryConfigurationError.cutoffNotIncreasing(step: 1)) {
            try RetrySchedule.steps([.fixed(.minutes(1), until: .hours(2)), .fixed(.minutes(5), until: .hours(2))]).validate()
        }
        #expect(throws: RetryConfigurationError.invalidInterval(step: 0)) {
            try RetrySchedule.steps([.fixed(.zero, until: .hours(2))]).validate()
        }
        #expect(throws: RetryConfigurationError.invalidInterval(step: 0)) {
            try RetrySchedule.steps([.random(minimum: .minutes(9), maximum: .minutes(8), until: .hours(2))]).validate()
        }
        #expect(throws: RetryConfigurationError.invalidFactor(step: 0)) {
            try RetrySchedule.steps([.geometric(start: .minutes(1), factor: 1, until: .hours(2))]).validate()
        }
        #expect(throws: RetryConfigurationError.self) { try RetrySchedule.quadratic(skip: 0).validate() }
        #expect(throws: RetryConfigurationError.self) {
            try RetrySchedule.courier(alpha: .minutes(5), beta: 0, gamma: .minutes(15), maxDelta: 3).validate()
        }
        #expect(throws: Never.self) { try RetrySchedule.eximDefault.validate() }
    }

    /// Invalid schedules used anyway still answer after `elapsed` and do not trap.
    @Test func invalidSchedulesStillAnswer() {
        let schedules: [RetrySchedule] = [
            .steps([]),
            .steps([.fixed(.zero, until: .zero), .geometric(start: .zero, factor: 0.5, until: .zero)]),
            .steps([.random(minimum: .seconds(-5), maximum: .seconds(-9), until: .seconds(-1))]),
            .quadratic(skip: -3),
            .courier(alpha: .zero, beta: -1, gamma: .seconds(-1), maxDelta: 99),
        ]
        for schedule in schedules {
            for elapsed in [Duration.zero, .seconds(1), .days(3)] {
                #expect(Self.next(schedule, after: elapsed) > Self.seconds(elapsed))
            }
        }
    }
}
