import Synchronization
import SMXStore

/// The queue manager's admission for its ``Receiver``: ``AdmissionControl`` over the load
/// the manager sees (the seed's "Load Control": favour delivery over taking more mail).
/// Open incoming transactions are read from the incoming log on every call (a count, no
/// decoding); active-queue entries are what the scheduler loop last published (after each
/// pass). The previous decision is kept, so the control's hysteresis applies.
///
/// The incoming log's and the content store's pending bytes are not fed: the stores do not
/// publish them yet, so thresholds on ``LoadResource/incomingLogBytes`` and
/// ``LoadResource/contentBytesPending`` never fire here.
///
/// Thread-safe; answers at once.
final class LoadAdmission: AdmissionPolicy {
    private struct State {
        var activeQueueEntries = 0
        var previous = AdmissionDecision.accept
    }

    let control: AdmissionControl
    let log: IncomingLog
    private let state = Mutex(State())

    init(control: AdmissionControl, log: IncomingLog) {
        self.control = control
        self.log = log
    }

    /// The loop publishes the active queue's size after each pass.
    func publish(activeQueueEntries: Int) {
        state.withLock { $0.activeQueueEntries = activeQueueEntries }
    }

    func admission() -> Admission {
        let open = log.openTransactionCount
        let decision = state.withLock { state -> AdmissionDecision in
            let pressure = LoadPressure(incomingTransactions: open, activeQueueEntries: state.activeQueueEntries)
            state.previous = control.decide(pressure, previous: state.previous)
            return state.previous
        }
        switch decision {
        case .accept: return .accept
        case .slowDown(let reason): return .slowDown("slowing down: \(reason)")
        case .refuse(let reason): return .refuse("refusing mail: \(reason)")
        }
    }
}
