import Synchronization
import SMXQueueManager
import SMXStore

/// A delivery agent for the queue manager's tests, with a behaviour per destination host
/// that a test may change at any time, and a record of every recipient it delivered.
final class SimulatedDeliveryAgent: DeliveryAgent {
    enum Behaviour: Sendable, Equatable {
        /// Connects and delivers every recipient.
        case up
        /// Cannot connect: every recipient fails temporarily, the destination fails.
        case down
        /// Connects and refuses every recipient for good (550 5.1.1).
        case rejecting
        /// Connects and defers every recipient (451 4.3.0).
        case deferring
        /// Down for its first `failures` jobs, then up.
        case flaky(failures: Int)
    }

    static let refused = StatusReply(code: 0, status: EnhancedStatusCode(4, 4, 1)!, text: "connection refused")
    static let unknownUser = StatusReply(code: 550, status: EnhancedStatusCode(5, 1, 1)!, text: "no such user", remoteMTA: "mx.example")
    static let later = StatusReply(code: 451, status: EnhancedStatusCode(4, 3, 0)!, text: "try again later", remoteMTA: "mx.example")
    static let accepted = StatusReply(code: 250, status: EnhancedStatusCode(2, 0, 0)!, text: "ok", remoteMTA: "mx.example")

    private struct State {
        var behaviours: [String: Behaviour] = [:]
        /// Jobs per host that sleep this long on the clock before they answer.
        var delays: [String: Duration] = [:]
        var jobsPerHost: [String: Int] = [:]
        var deliveries: [RecipientID: Int] = [:]
        var messages: [DeliveredCopy] = []
        var bodyReader: (@Sendable (ContentID) -> [UInt8]?)?
        var attempts: [RecipientID: Int] = [:]
        /// Deadlines of the jobs asleep on the clock, by ticket.
        var sleepers: [Int: Timestamp] = [:]
        var nextTicket = 0
    }

    /// One message as a destination received it.
    struct DeliveredCopy: Sendable {
        var envelope: DeliveryEnvelope
        var addresses: [String]
        /// The body as the agent read it, when it was given a reader.
        var body: [UInt8]?
    }

    let clock: ManualClock
    private let state = Mutex(State())

    init(clock: ManualClock) {
        self.clock = clock
    }

    func set(_ behaviour: Behaviour, for host: String) {
        state.withLock { $0.behaviours[host] = behaviour }
    }

    /// Jobs for `host` answer only once the clock passes their start plus `delay` (nil: at once).
    func setDelay(_ delay: Duration?, for host: String) {
        state.withLock { $0.delays[host] = delay }
    }

    /// Makes the agent read each body it delivers (the content store's reader).
    func setBodyReader(_ reader: (@Sendable (ContentID) -> [UInt8]?)?) {
        state.withLock { $0.bodyReader = reader }
    }

    /// Every message delivered, in order, with the addresses it went to.
    var messages: [DeliveredCopy] { state.withLock { $0.messages } }
    /// How many times each recipient was delivered.
    var deliveries: [RecipientID: Int] { state.withLock { $0.deliveries } }
    /// Jobs asleep on the clock that the clock has not reached yet (a job whose deadline
    /// came is counted as running even before its task resumes).
    var sleeping: Int {
        let now = clock.now()
        return state.withLock { $0.sleepers.values.count { $0 > now } }
    }
    /// How many jobs each recipient was in.
    var attempts: [RecipientID: Int] { state.withLock { $0.attempts } }

    func deliver(_ job: DeliveryJob) async -> DeliveryResult {
        let host = job.nextHop.host
        let now = clock.now()
        let sleep = state.withLock { state -> (ticket: Int, deadline: Timestamp)? in
            for recipient in job.recipients { state.attempts[recipient.id, default: 0] += 1 }
            guard let delay = state.delays[host] else { return nil }
            state.nextTicket += 1
            state.sleepers[state.nextTicket] = now + delay
            return (state.nextTicket, now + delay)
        }
        if let sleep {
            try? await clock.sleep(until: sleep.deadline)
            state.withLock { _ = $0.sleepers.removeValue(forKey: sleep.ticket) }
        }
        return state.withLock { state in
            let n = state.jobsPerHost[host, default: 0]
            state.jobsPerHost[host] = n + 1
            var behaviour = state.behaviours[host] ?? .up
            if case .flaky(let failures) = behaviour { behaviour = n < failures ? .down : .up }
            switch behaviour {
            case .up, .flaky:
                for recipient in job.recipients { state.deliveries[recipient.id, default: 0] += 1 }
                let body = state.bodyReader?(job.envelope.content.id)
                state.messages.append(DeliveredCopy(envelope: job.envelope, addresses: job.recipients.map(\.address), body: body))
                return DeliveryResult(jobID: job.id, connection: .connected, recipients: job.recipients.map { RecipientResult($0.id, .delivered(Self.accepted)) })
            case .down:
                return .connectionFailed(job, reply: Self.refused)
            case .rejecting:
                return DeliveryResult(jobID: job.id, connection: .connected, recipients: job.recipients.map { RecipientResult($0.id, .permanentFailure(Self.unknownUser)) })
            case .deferring:
                return DeliveryResult(jobID: job.id, connection: .connected, recipients: job.recipients.map { RecipientResult($0.id, .temporaryFailure(Self.later)) })
            }
        }
    }
}
