import SMXQueueManager
import Testing

/// The scheduler's wake rules on a ``ManualClock``: nothing before the due time, exactly at
/// it, at once on new mail, once for many signals, never without a reason (no polling), and
/// for good on stop.
@Suite struct SchedulerWakeupTests {
    static let t0 = Timestamp(secondsSinceEpoch: 1_800_000_000)

    /// Starts a wait in its own task; the outcome is set when it returns.
    static func startWait(_ wakeup: SchedulerWakeup, until due: Timestamp?) -> (Task<WakeReason, Never>, Outcome<WakeReason>) {
        let outcome = Outcome<WakeReason>()
        let task = Task {
            let reason = await wakeup.wait(until: due)
            outcome.set(reason)
            return reason
        }
        return (task, outcome)
    }

    @Test func wakesExactlyAtTheDueTimeAndNotBefore() async {
        let clock = ManualClock(start: Self.t0)
        let wakeup = SchedulerWakeup(clock: clock)
        let due = Self.t0 + .seconds(90)
        let (task, outcome) = Self.startWait(wakeup, until: due)
        // One timer, for exactly the due time.
        #expect(await SchedulingTestSupport.eventually { clock.deadlines == [due] && wakeup.suspendedCount == 1 })
        clock.advance(to: due - .microseconds(1))
        await SchedulingTestSupport.settle()
        #expect(outcome.current == nil && clock.deadlines == [due])
        clock.advance(to: due)
        #expect(await task.value == .due)
        #expect(clock.now() == due && clock.deadlines.isEmpty && wakeup.suspendedCount == 0)
    }

    @Test func aDueTimeAlreadyPastReturnsAtOnce() async {
        let clock = ManualClock(start: Self.t0)
        let wakeup = SchedulerWakeup(clock: clock)
        #expect(await wakeup.wait(until: Self.t0) == .due)
        #expect(await wakeup.wait(until: Self.t0 - .seconds(1)) == .due)
        #expect(clock.deadlines.isEmpty)
    }

    @Test func aSignalWakesAtOnceAndCancelsTheTimer() async {
        let clock = ManualClock(start: Self.t0)
        let wakeup = SchedulerWakeup(clock: clock)
        let (task, _) = Self.startWait(wakeup, until: Self.t0 + .hours(1))
        #expect(await SchedulingTestSupport.eventually { clock.deadlines.count == 1 && wakeup.suspendedCount == 1 })
        wakeup.signal()
        #expect(await task.value == .newMail)
        #expect(clock.now() == Self.t0 && clock.deadlines.isEmpty && wakeup.suspendedCount == 0)
    }

    /// With no due time the wait sets no timer at all: a day passes and nothing wakes it;
    /// a signal does.
    @Test func withoutADueTimeOnlyASignalWakes() async {
        let clock = ManualClock(start: Self.t0)
        let wakeup = SchedulerWakeup(clock: clock)
        let (task, outcome) = Self.startWait(wakeup, until: nil)
        #expect(await SchedulingTestSupport.eventually { wakeup.suspendedCount == 1 })
        #expect(clock.deadlines.isEmpty)
        clock.advance(by: .days(1))
        await SchedulingTestSupport.settle()
        #expect(outcome.current == nil)
        wakeup.signal()
        #expect(await task.value == .newMail)
    }

    @Test func signalsCoalesceAndAreNotLost() async {
        let clock = ManualClock(start: Self.t0)
        let wakeup = SchedulerWakeup(clock: clock)
        // Signalled before anyone waits: the next wait returns at once, once.
        for _ in 0..<5 { wakeup.signal() }
        #expect(await wakeup.wait(until: Self.t0 + .seconds(10)) == .newMail)
        #expect(clock.deadlines.isEmpty)
        let (task, outcome) = Self.startWait(wakeup, until: Self.t0 + .seconds(10))
        #expect(await SchedulingTestSupport.eventually { clock.deadlines.count == 1 && wakeup.suspendedCount == 1 })
        await SchedulingTestSupport.settle()
        #expect(outcome.current == nil)
        clock.advance(by: .seconds(10))
        #expect(await task.value == .due)
        // A signal during a wait wakes it; the next wait sleeps again.
        let (second, _) = Self.startWait(wakeup, until: nil)
        #expect(await SchedulingTestSupport.eventually { wakeup.suspendedCount == 1 })
        wakeup.signal()
        #expect(await second.value == .newMail)
        let (third, thirdOutcome) = Self.startWait(wakeup, until: nil)
        #expect(await SchedulingTestSupport.eventually { wakeup.suspendedCount == 1 })
        await SchedulingTestSupport.settle()
        #expect(thirdOutcome.current == nil)
        wakeup.stop()
        #expect(await third.value == .stopped)
    }

    @Test func stopEndsTheWaitAndEveryLaterOne() async {
        let clock = ManualClock(start: Self.t0)
        let wakeup = SchedulerWakeup(clock: clock)
        let (task, _) = Self.startWait(wakeup, until: Self.t0 + .hours(1))
        #expect(await SchedulingTestSupport.eventually { wakeup.suspendedCount == 1 && clock.deadlines.count == 1 })
        wakeup.stop()
        #expect(await task.value == .stopped)
        #expect(wakeup.isStopped && clock.deadlines.isEmpty && wakeup.suspendedCount == 0)
        wakeup.signal()
        #expect(await wakeup.wait(until: nil) == .stopped)
        #expect(await wakeup.wait(until: Self.t0) == .stopped)
    }

    @Test func cancellingTheWaitingTaskEndsTheWait() async {
        let clock = ManualClock(start: Self.t0)
        let wakeup = SchedulerWakeup(clock: clock)
        let (task, _) = Self.startWait(wakeup, until: Self.t0 + .hours(1))
        #expect(await SchedulingTestSupport.eventually { wakeup.suspendedCount == 1 && clock.deadlines.count == 1 })
        task.cancel()
        #expect(await task.value == .stopped)
        #expect(clock.deadlines.isEmpty && wakeup.suspendedCount == 0 && !wakeup.isStopped)
    }

    /// A scheduler loop over a day: it wakes once per due time and once per signal, never in
    /// between, and not at all after the last due time until stopped.
    @Test func aLoopWakesOnlyForAReason() async {
        let clock = ManualClock(start: Self.t0)
        let wakeup = SchedulerWakeup(clock: clock)
        let dueTimes = [Self.t0 + .minutes(15), Self.t0 + .hours(2), Self.t0 + .hours(9)]
        let wakes = Outcome<[WakeReason]>()
        let loop = Task {
            var reasons: [WakeReason] = []
            var remaining = dueTimes
            while true {
                let reason = await wakeup.wait(until: remaining.first)
                reasons.append(reason)
                wakes.set(reasons)
                if reason == .stopped { return reasons }
                if reason == .due { remaining.removeFirst() }
            }
        }
        for due in dueTimes {
            #expect(await SchedulingTestSupport.eventually { clock.deadlines == [due] })
            clock.advance(to: due - .seconds(1))
            wakeup.signal()
            #expect(await SchedulingTestSupport.eventually { wakes.current?.last == .newMail && clock.deadlines == [due] && wakeup.suspendedCount == 1 })
            clock.advance(to: due)
        }
        #expect(await SchedulingTestSupport.eventually { wakes.current?.count == 6 && wakeup.suspendedCount == 1 })
        #expect(clock.deadlines.isEmpty)
        clock.advance(by: .days(1))
        wakeup.stop()
        let reasons = await loop.value
        #expect(reasons == [.newMail, .due, .newMail, .due, .newMail, .due, .stopped])
    }
}
