import Synchronization
import SMXStore

/// Something that happened outside the scheduler loop and that the loop applies on its next
/// pass: an acknowledged message, a resolver's answer, an agent's result.
enum ManagerEvent: Sendable {
    case accepted(AcceptedMessage)
    case resolved(RecipientID, Resolution)
    case delivered(DeliveryJob, DeliveryResult)
    /// The DSN pass reported these failed recipients; the continuation gets how many were
    /// removed, or the error that stopped the loop.
    case reported([RecipientID], CheckedContinuation<Result<Int, QueueManagerError>, Never>)
    /// An operation (``QueueOperations``) committed these changes.
    case operation(QueueOperationResult)
}

/// The one door into the scheduler loop (thread-safe): the receiving side's `onAccepted`
/// hook and the resolver and agent tasks post ``ManagerEvent``s here and ring the
/// ``SchedulerWakeup``; the loop drains them at the start of each pass. So only the loop
/// changes the manager's state, and it never polls: it sleeps on the wakeup until an event,
/// a due time or a stop.
///
/// It also knows when the manager is **idle**: the loop is parked (asleep, or about to
/// sleep) with no event waiting, its wake time not yet come, and no resolver or agent task
/// outstanding. Tests and tools
/// wait for that (``waitUntilIdle(agentJobs:)``) instead of sleeping.
final class ManagerInbox: Sendable {
    /// What a task is for: resolver answers come fast, agent jobs may be slow on purpose.
    enum TaskKind { case resolution, job }

    private struct Waiter {
        /// Most agent jobs still running that the waiter accepts; nil: any number.
        var agentJobs: Int?
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var events: [ManagerEvent] = []
        /// Resolver calls and agent jobs started whose answer has not been posted.
        var resolutions = 0
        var jobs = 0
        var parked = false
        /// The time the parked loop sleeps until; the loop is not idle once it has come.
        var parkedUntil: Timestamp?
        var stopped = false
        var waiters: [Waiter] = []

        func satisfies(_ agentJobs: Int?, now: Timestamp) -> Bool {
            if stopped { return true }
            guard parked, events.isEmpty, resolutions == 0, parkedUntil.map({ now < $0 }) ?? true else { return false }
            return agentJobs.map { jobs <= $0 } ?? true
        }

        /// Takes the waiters the current state satisfies.
        mutating func satisfiedWaiters(now: Timestamp) -> [CheckedContinuation<Void, Never>] {
            var ready: [CheckedContinuation<Void, Never>] = []
            var kept: [Waiter] = []
            for waiter in waiters {
                if satisfies(waiter.agentJobs, now: now) { ready.append(waiter.continuation) } else { kept.append(waiter) }
            }
            waiters = kept
            return ready
        }
    }

    let wakeup: SchedulerWakeup
    private let state = Mutex(State())

    init(wakeup: SchedulerWakeup) {
        self.wakeup = wakeup
    }

    /// Adds an event and wakes the loop. Never blocks. Returns false, dropping the event,
    /// once the loop has ended.
    @discardableResult
    func post(_ event: ManagerEvent) -> Bool {
        let posted = state.withLock { state -> Bool in
            guard !state.stopped else { return false }
            state.events.append(event)
            return true
        }
        if posted { wakeup.signal() }
        return posted
    }

    /// A resolver or agent task is starting.
    func taskStarted(_ kind: TaskKind) {
        state.withLock { state in
            switch kind {
            case .resolution: state.resolutions += 1
            case .job: state.jobs += 1
            }
        }
    }

    /// A task ends with `event`: counted and posted under one lock, so an idle check never
    /// sees the task gone and its event not yet there.
    func taskFinished(_ kind: TaskKind, with event: ManagerEvent) {
        state.withLock { state in
            switch kind {
            case .resolution: state.resolutions -= 1
            case .job: state.jobs -= 1
            }
            state.events.append(event)
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

    /// Called by the loop before it sleeps until `due`: parks and returns true when no
    /// event waits (waking those waiting for idleness), else returns false (the loop does
    /// another pass).
    func park(until due: Timestamp?) -> Bool {
        let now = wakeup.clock.now()
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>]? in
            guard state.events.isEmpty else { return nil }
            state.parked = true
            state.parkedUntil = due
            return state.satisfiedWaiters(now: now)
        }
        guard let ready else { return false }
        for continuation in ready { continuation.resume() }
        return true
    }

    func unpark() {
        state.withLock { $0.parked = false }
    }

    /// The loop has ended: every waiter returns, now and later, no event is taken any
    /// more, and the events left are returned (for the loop to answer what waits on them).
    func stop() -> [ManagerEvent] {
        let now = wakeup.clock.now()
        let (ready, left) = state.withLock { state in
            state.stopped = true
            defer { state.events = [] }
            return (state.satisfiedWaiters(now: now), state.events)
        }
        for continuation in ready { continuation.resume() }
        return left
    }

    /// What the loop and its tasks are doing now.
    var activity: QueueManagerActivity {
        state.withLock { state in
            QueueManagerActivity(
                loopParked: state.parked, eventsWaiting: state.events.count, resolutionsRunning: state.resolutions, jobsRunning: state.jobs)
        }
    }

    /// Returns once the loop is parked with no event waiting, no resolver call running and
    /// at most `agentJobs` agent jobs running (nil: any number), or the loop has ended.
    func waitUntilIdle(agentJobs: Int?) async {
        let now = wakeup.clock.now()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                if state.satisfies(agentJobs, now: now) { return true }
                state.waiters.append(Waiter(agentJobs: agentJobs, continuation: continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }
}
