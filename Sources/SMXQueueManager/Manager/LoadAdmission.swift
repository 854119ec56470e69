import Synchronization
import SMXStore

/// The queue manager's admission for its ``Receiver``: ``AdmissionControl`` over the load
/// the manager sees (the seed's "Load Control": favour delivery over taking more mail).
/// Open incoming transactions and the incoming log's and the content store's pending bytes
/// are read from the stores on every call (counters under their locks, no decoding, no
/// I/O); active-queue entries are what the scheduler loop last published (after each
/// pass). The previous decision is kept, so the control's hysteresis applies.
///
/// Thread-safe; answers at once.
final class LoadAdmission: AdmissionPolicy {
    private struct State {
        var activeQueueEntries = 0
        var previous = AdmissionDecision.accept
    }

    let control: AdmissionControl
    let log: IncomingLog
    let contentStore: ContentStore
    private let state = Mutex(State())

    init(control: AdmissionControl, log: IncomingLog, contentStore: ContentStore) {
        self.control = control
        self.log = log
        self.contentStore = contentStore
    }

    var slowDownDelay: Duration { control.slowDownDelay }

    /// The loop publishes the active queue's size after each pass.
    func publish(activeQueueEntries: Int) {
        state.withLock { $0.activeQueueEntries = activeQueueEntries }
    }

    func admission() -> Admission {
        let open = log.openTransactionCount
        let logBytes = log.pendingByteCount
        let contentBytes = contentStore.pendingByteCount
        let decision = state.withLock { state -> AdmissionDecision in
            let pressure = LoadPressure(
                incomingTransactions: open, incomingLogBytes: logBytes, activeQueueEntries: state.activeQueueEntries,
                contentBytesPending: contentBytes
            )
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
