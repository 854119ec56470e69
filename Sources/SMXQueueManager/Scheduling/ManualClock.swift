import Synchronization

/// A ``QueueClock`` whose time moves only when a test says so: deterministic scheduler
/// tests and simulations, with no real sleeping.
///
/// ``advance(to:)`` moves the time forward and resumes, in deadline order (then the order
/// they went to sleep), every sleeper whose deadline is at or before the new time; the
/// others keep sleeping. A cancelled sleeper is resumed at once with `CancellationError`
/// and forgotten. ``deadlines`` shows who sleeps until when, so a test can wait until a
/// task has gone to sleep before it advances, and can check that nothing sleeps (or polls)
/// when nothing should.
///
/// Thread-safe: any task may read, sleep or advance.
public final class ManualClock: QueueClock {
    private struct Sleeper {
        var deadline: Timestamp
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: Timestamp
        var nextTicket: UInt64 = 0
        var sleepers: [UInt64: Sleeper] = [:]
        /// Sleeps that have begun but not yet registered their sleeper.
        var starting: Set<UInt64> = []
        /// Of those, the ones already cancelled.
        var cancelled: Set<UInt64> = []
    }

    private let state: Mutex<State>

    /// A clock that reads `start` until advanced.
    public init(start: Timestamp) {
        state = Mutex(State(now: start))
    }

    public func now() -> Timestamp {
        state.withLock { $0.now }
    }

    /// The deadlines of the tasks asleep now, earliest first.
    public var deadlines: [Timestamp] {
        state.withLock { $0.sleepers.values.map(\.deadline).sorted() }
    }

    /// Moves the time to `instant` (never backwards: an earlier instant changes nothing) and
    /// wakes every sleeper whose deadline is at or before it, in deadline order; returns the
    /// deadlines woken, in the order they were woken.
    @discardableResult
    public func advance(to instant: Timestamp) -> [Timestamp] {
        let due = state.withLock { state -> [Sleeper] in
            state.now = max(state.now, instant)
            let now = state.now
            let woken = state.sleepers.filter { $0.value.deadline <= now }.sorted {
                $0.value.deadline != $1.value.deadline ? $0.value.deadline < $1.value.deadline : $0.key < $1.key
            }
            for (ticket, _) in woken { state.sleepers[ticket] = nil }
            return woken.map(\.value)
        }
        for sleeper in due { sleeper.continuation.resume() }
        return due.map(\.deadline)
    }

    /// Moves the time forward by `duration` (see ``advance(to:)``).
    @discardableResult
    public func advance(by duration: Duration) -> [Timestamp] {
        advance(to: now() + duration)
    }

    public func sleep(until deadline: Timestamp) async throws {
        let ticket = state.withLock { state -> UInt64 in
            defer { state.nextTicket += 1 }
            state.starting.insert(state.nextTicket)
            return state.nextTicket
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Action { case wait, resume, cancel }
                let action = state.withLock { state -> Action in
                    state.starting.remove(ticket)
                    if state.cancelled.remove(ticket) != nil { return .cancel }
                    if deadline <= state.now { return .resume }
                    state.sleepers[ticket] = Sleeper(deadline: deadline, continuation: continuation)
                    return .wait
                }
                switch action {
                case .wait: break
                case .resume: continuation.resume()
                case .cancel: continuation.resume(throwing: CancellationError())
                }
            }
        } onCancel: {
            let sleeper = state.withLock { state -> Sleeper? in
                if let sleeper = state.sleepers.removeValue(forKey: ticket) { return sleeper }
                if state.starting.contains(ticket) { state.cancelled.insert(ticket) }
                return nil
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }
}
