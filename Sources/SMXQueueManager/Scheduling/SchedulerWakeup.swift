import Synchronization

/// What the queue manager's scheduling loop awaits between rounds (the seed's "Low
/// Volume": the scheduler sleeps, is woken when new mail comes in, and otherwise wakes at
/// the next retry time, the minimum of the deferred queue's; it does not poll).
///
/// ``wait(until:)`` returns when
/// - new mail was signalled (``signal()``, called by the receiving side after a commit),
///   now or at any time since the last wake: signals never get lost and many coalesce
///   into one wake;
/// - the due time the caller gives arrives (the earlier of the next-try cache's
///   `nextDueTime` and the active queue's ``ActiveQueue/nextExpiry(resolverTimeout:agentTimeout:)``);
///   with no due time it waits for a signal or a stop alone;
/// - ``stop()`` was called (then every wait, now and later, returns ``WakeReason/stopped``),
///   or the waiting task was cancelled.
///
/// **No polling.** A wait sets at most one timer, for exactly the due time, on its
/// ``QueueClock``, and cancels it when it returns early; with no due time it sets none.
/// Between wakes nothing runs.
///
/// Thread-safe: ``signal()`` and ``stop()`` may be called from any thread or task, and do
/// not block; one loop waits (several waiters are allowed, and a signal wakes one of them
/// with ``WakeReason/newMail``).
public final class SchedulerWakeup: Sendable {
    private struct State {
        var signalled = false
        var stopped = false
        var nextTicket: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        /// Doorbells that have begun but not yet registered their waiter.
        var starting: Set<UInt64> = []
        /// Of those, the ones already cancelled.
        var cancelled: Set<UInt64> = []

        mutating func takeWaiters() -> [CheckedContinuation<Void, Never>] {
            defer { waiters = [:] }
            return Array(waiters.values)
        }
    }

    public let clock: any QueueClock
    private let state = Mutex(State())

    public init(clock: any QueueClock) {
        self.clock = clock
    }

    /// Whether ``stop()`` was called.
    public var isStopped: Bool { state.withLock { $0.stopped } }

    /// How many waits are suspended now, waiting for a signal or a stop (for monitoring,
    /// and for tests that must know a wait has begun).
    public var suspendedCount: Int { state.withLock { $0.waiters.count } }

    /// New mail is waiting: the next (or current) wait returns ``WakeReason/newMail``.
    public func signal() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.signalled = true
            return state.takeWaiters()
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Ends the current wait and every later one with ``WakeReason/stopped``.
    public func stop() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.stopped = true
            return state.takeWaiters()
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Suspends until new mail is signalled, `due` arrives (nil: no due time), or the
    /// wakeup is stopped; returns at once when one of them already holds. A stop wins over
    /// a signal, a signal over a due time.
    public func wait(until due: Timestamp?) async -> WakeReason {
        while true {
            if let reason = takeReason() { return reason }
            if Task.isCancelled { return .stopped }
            if let due, clock.now() >= due { return .due }
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.doorbell() }
                if let due {
                    group.addTask { try? await self.clock.sleep(until: due) }
                }
                await group.next()
                group.cancelAll()
            }
        }
    }

    /// Stop, else a signal (consumed), else nil.
    private func takeReason() -> WakeReason? {
        state.withLock { state in
            if state.stopped { return .stopped }
            if state.signalled {
                state.signalled = false
                return .newMail
            }
            return nil
        }
    }

    /// Returns when a signal or a stop comes (or has come), or when cancelled.
    private func doorbell() async {
        let ticket = state.withLock { state -> UInt64 in
            defer { state.nextTicket += 1 }
            state.starting.insert(state.nextTicket)
            return state.nextTicket
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ringNow = state.withLock { state -> Bool in
                    state.starting.remove(ticket)
                    if state.cancelled.remove(ticket) != nil || state.signalled || state.stopped { return true }
                    state.waiters[ticket] = continuation
                    return false
                }
                if ringNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                if let waiter = state.waiters.removeValue(forKey: ticket) { return waiter }
                if state.starting.contains(ticket) { state.cancelled.insert(ticket) }
                return nil
            }
            waiter?.resume()
        }
    }
}
