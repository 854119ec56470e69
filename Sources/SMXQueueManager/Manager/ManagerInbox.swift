import Synchronization
import SMXStore

/// Something that happened outside the scheduler loop and that the loop applies on its next
/// pass: an acknowledged message, a resolver's answer, an agent's result.
enum ManagerEvent: Sendable {
    case accepted(AcceptedMessage)
    case resolved(RecipientID, Resolution)
    case delivered(DeliveryJob, DeliveryResult)
}

/// The one door into the scheduler loop (thread-safe): the receiving side's `onAccepted`
/// hook and the resolver and agent tasks post ``ManagerEvent``s here and ring the
/// ``SchedulerWakeup``; the loop drains them at the start of each pass. So only the loop
/// changes the manager's state, and it never polls: it sleeps on the wakeup until an event,
/// a due time or a stop.
///
/// It also knows when the manager is **idle**: the loop is parked (asleep, or about to
/// sleep) with no event waiting and no resolver or agent task outstanding. Tests and tools
/// wait for that (``waitUntilIdle(outstanding:)``) instead of sleeping.
final class ManagerInbox: Sendable {
    private struct Waiter {
        var outstanding: Int
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var events: [ManagerEvent] = []
        /// Resolver and agent tasks started whose event has not been posted.
        var outstanding = 0
        var parked = false
        var stopped = false
        var waiters: [Waiter] = []

        /// Takes the waiters the current state satisfies.
        mutating func satisfiedWaiters() -> [CheckedContinuation<Void, Never>] {
            guard stopped || (parked && events.isEmpty) else { return [] }
            let ready = waiters.filter { stopped || outstanding <= $0.outstanding }
            waiters.removeAll { stopped || outstanding <= $0.outstanding }
            return ready.map(\.continuation)
        }
    }

    let wakeup: SchedulerWakeup
    private let state = Mutex(State())

    init(wakeup: SchedulerWakeup) {
        self.wakeup = wakeup
    }

    /// Adds an event and wakes the loop. Never blocks.
    func post(_ event: ManagerEvent) {
        state.withLock { $0.events.append(event) }
        wakeup.signal()
    }

    /// A resolver or agent task is starting.
    func taskStarted() {
        state.withLock { $0.outstanding += 1 }
    }

    /// A task ends with `event`: counted and posted under one lock, so an idle check never
    /// sees the task gone and its event not yet there.
    func taskFinished(with event: ManagerEvent) {
        state.withLock {
            $0.outstanding -= 1
            $0.events.append(event)
        }
        wakeup.signal()
    }

    /// Every event posted so far, oldest first.
    func drain() -> [ManagerEvent] {
        state.withLock { state in
            defer { state.events = [] }
            return state.events
        }
    }

    /// Called by the loop before it sleeps: parks and returns true when no event waits
    /// (waking those waiting for idleness), else returns false (the loop does another pass).
    func park() -> Bool {
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>]? in
            guard state.events.isEmpty else { return nil }
            state.parked = true
            return state.satisfiedWaiters()
        }
        guard let ready else { return false }
        for continuation in ready { continuation.resume() }
        return true
    }

    func unpark() {
        state.withLock { $0.parked = false }
    }

    /// The loop has ended: every waiter returns, now and later.
    func stop() {
        let ready = state.withLock { state in
            state.stopped = true
            return state.satisfiedWaiters()
        }
        for continuation in ready { continuation.resume() }
    }

    var outstanding: Int { state.withLock { $0.outstanding } }

    /// Returns once the loop is parked with no event waiting and at most `outstanding`
    /// resolver or agent tasks running (or the loop has ended).
    func waitUntilIdle(outstanding: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                if state.stopped || (state.parked && state.events.isEmpty && state.outstanding <= outstanding) { return true }
                state.waiters.append(Waiter(outstanding: outstanding, continuation: continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }
}
