import Synchronization
import SMXQueueManager
import SMXStore

/// What a destination does with the jobs it gets; the world changes it over simulated time.
enum DestinationBehaviour: Sendable, Equatable, CustomStringConvertible {
    /// Connects and delivers every recipient.
    case up
    /// Cannot connect for its next `failures` jobs, then up.
    case flaky(failures: Int)
    /// Cannot connect until the clock reaches `until` (hours away), then up.
    case down(until: UInt64)
    /// Connects and refuses every recipient for good (550 5.1.1).
    case rejecting
    /// Connects and defers every recipient (451 4.3.0).
    case deferring
    /// Answers only `delay` after the job started (on the simulated clock), then delivers.
    case slow(delay: Duration)

    var description: String {
        switch self {
        case .up: "up"
        case .flaky(let failures): "flaky(\(failures))"
        case .down(let until): "down(until \(until))"
        case .rejecting: "rejecting"
        case .deferring: "deferring"
        case .slow(let delay): "slow(\(delay))"
        }
    }
}

/// One message the simulation submitted, as the remote world knows it.
struct SimulatedMessage: Sendable {
    enum State: Sendable, Equatable {
        /// Begun, recipients given, body sent; `commit()` not returned yet.
        case submitting
        /// The client gave up before the final dot (`abort()`): must never be delivered.
        case aborted
        /// `commit()` returned: acknowledged, in the order `sequence` among all acknowledgements.
        case acknowledged(sequence: Int)
        /// Acknowledged only after the crash image was taken, and absent from the recovered
        /// stores: in the crashed world the client never got its 250, and the message is gone.
        case lostUnacknowledged
    }

    var envelopeID: String
    var sender: String
    var recipients: [String]
    var size: Int
    var bodyHash: UInt64
    var arrival: UInt64 = 0
    var state: State = .submitting
}

/// The remote side of the simulation: what the destinations do (per host, changing over
/// time), and what they have seen: every delivery, every refusal and every DSN. It lives
/// outside the simulated disk, so it survives every crash and restart of the queue, the way
/// the rest of the internet does. Thread-safe; never does I/O under its lock.
final class SimulationWorld: Sendable {
    struct State {
        var behaviours: [String: DestinationBehaviour] = [:]
        var messages: [String: SimulatedMessage] = [:]
        /// Recipient address → the ENVID of its message (addresses are unique).
        var messageOf: [String: String] = [:]
        var acknowledgements = 0
        /// Deliveries per recipient address.
        var deliveries: [String: Int] = [:]
        /// The sequence number of each recipient's latest delivery.
        var lastDelivery: [String: Int] = [:]
        var deliveryCount = 0
        /// Permanent refusals per recipient address.
        var rejections: [String: Int] = [:]
        /// Deliveries a crash allows again: the recipient was delivered in the crashed
        /// epoch and is still queued in the recovered stores.
        var allowances: [String: Int] = [:]
        /// Recipients a crash left queued after a delivery or a failure report (whether or
        /// not delivered or reported since).
        var crashWindow: Set<String> = []
        var duplicates = 0
        /// Failure reports (Action: failed) per recipient address, from DSNs delivered.
        var failureReports: [String: Int] = [:]
        var delayReports = 0
        var notificationsDelivered = 0
        var jobs = 0
        /// What happened to each recipient at the destinations, for problem reports.
        var history: [String: [String]] = [:]
        var problems: [String] = []
    }

    let state = Mutex(State())
    let hosts: [String]
    static let senderDomain = "sender.example"

    init(hosts: [String]) {
        self.hosts = hosts
        state.withLock { state in
            for host in hosts { state.behaviours[host] = .up }
        }
    }

    func problem(_ text: String) {
        state.withLock { $0.problems.append(text) }
    }

    var problems: [String] { state.withLock { $0.problems } }

    func set(_ behaviour: DestinationBehaviour, for host: String) {
        state.withLock { $0.behaviours[host] = behaviour }
    }

    func behaviour(of host: String) -> DestinationBehaviour {
        state.withLock { $0.behaviours[host] ?? .up }
    }

    /// A message is about to be submitted.
    func submitting(_ message: SimulatedMessage) {
        state.withLock { state in
            state.messages[message.envelopeID] = message
            for address in message.recipients { state.messageOf[address] = message.envelopeID }
        }
    }

    func aborted(_ envelopeID: String) {
        state.withLock { $0.messages[envelopeID]?.state = .aborted }
    }

    /// `commit()` returned for the message.
    func acknowledged(_ envelopeID: String, arrival: UInt64) {
        state.withLock { state in
            state.acknowledgements += 1
            state.messages[envelopeID]?.state = .acknowledged(sequence: state.acknowledgements)
            state.messages[envelopeID]?.arrival = arrival
        }
    }

    /// What a destination does with a job: no connection; or a connection on which it
    /// takes, refuses for good (5xx) or defers (4xx) every recipient.
    enum Answer { case connectFailed, deliver, reject, tryLater }

    /// What the destination at `host` does with a job starting now, and how long it takes
    /// to answer (nil: at once). A flaky destination counts its failures down here.
    func answer(for host: String, now: UInt64) -> (Answer, Duration?) {
        state.withLock { state in
            state.jobs += 1
            if host == Self.senderDomain { return (.deliver, nil) }
            switch state.behaviours[host] ?? .up {
            case .up:
                return (.deliver, nil)
            case .flaky(let failures):
                if failures <= 1 { state.behaviours[host] = .up } else { state.behaviours[host] = .flaky(failures: failures - 1) }
                return (failures >= 1 ? .connectFailed : .deliver, nil)
            case .down(let until):
                if now >= until {
                    state.behaviours[host] = .up
                    return (.deliver, nil)
                }
                return (.connectFailed, nil)
            case .rejecting:
                return (.reject, nil)
            case .deferring:
                return (.tryLater, nil)
            case .slow(let delay):
                return (.deliver, delay)
            }
        }
    }

    /// The destination took the message for `addresses` (of the message `envelopeID`).
    func delivered(_ addresses: [String], envelopeID: String?, epoch: Int, seed: UInt64, job: String, at now: UInt64) {
        state.withLock { state in
            for address in addresses {
                state.history[address, default: []].append("delivered in epoch \(epoch) \(job) at \(now)")
                guard let owner = state.messageOf[address], let message = state.messages[owner] else {
                    state.problems.append("seed \(seed) epoch \(epoch): delivered \(address), which no message submitted")
                    continue
                }
                if owner != envelopeID {
                    state.problems.append("seed \(seed) epoch \(epoch): \(address) of \(owner) delivered in a job of \(envelopeID ?? "no ENVID")")
                }
                if message.state == .aborted {
                    state.problems.append("seed \(seed) epoch \(epoch): \(address) delivered, but its message \(owner) was aborted before the final dot")
                }
                state.deliveryCount += 1
                let earlier = state.deliveries[address, default: 0]
                if earlier > 0 {
                    if state.allowances[address, default: 0] > 0 {
                        state.allowances[address]! -= 1
                        state.duplicates += 1
                    } else {
                        state.problems.append("seed \(seed) epoch \(epoch): \(address) delivered \(earlier + 1) times with no crash in between that left it queued after its delivery: \(state.history[address] ?? [])")
                    }
                }
                state.deliveries[address] = earlier + 1
                state.lastDelivery[address] = state.deliveryCount
            }
        }
    }

    func rejected(_ addresses: [String], epoch: Int, at now: UInt64) {
        state.withLock { state in
            for address in addresses {
                state.rejections[address, default: 0] += 1
                state.history[address, default: []].append("refused in epoch \(epoch) at \(now)")
            }
        }
    }

    /// A DSN arrived at the original sender: `report` as parsed from its body.
    func notification(_ report: NotificationReport, to recipient: String, epoch: Int, seed: UInt64) {
        state.withLock { state in
            state.notificationsDelivered += 1
            guard let envelopeID = report.originalEnvelopeID, let message = state.messages[envelopeID] else {
                state.problems.append("seed \(seed) epoch \(epoch): a DSN to \(recipient) for no known message (ENVID \(report.originalEnvelopeID ?? "none"))")
                return
            }
            if message.sender != recipient {
                state.problems.append("seed \(seed) epoch \(epoch): the DSN about \(envelopeID) went to \(recipient), not its sender \(message.sender)")
            }
            for (address, action) in report.recipients {
                guard message.recipients.contains(address) else {
                    state.problems.append("seed \(seed) epoch \(epoch): the DSN about \(envelopeID) reports \(address), not a recipient of it")
                    continue
                }
                switch action {
                case "failed": state.failureReports[address, default: 0] += 1
                case "delayed": state.delayReports += 1
                default: state.problems.append("seed \(seed) epoch \(epoch): the DSN about \(envelopeID) reports \(address) as \(action)")
                }
            }
        }
    }

    func note(_ address: String, _ event: String) {
        state.withLock { $0.history[address, default: []].append(event) }
    }

    func message(_ envelopeID: String) -> SimulatedMessage? {
        state.withLock { $0.messages[envelopeID] }
    }
}

/// The fields of a delivery status notification the simulation checks.
struct NotificationReport: Sendable {
    var originalEnvelopeID: String?
    /// (Final-Recipient address, Action) per recipient block, in order.
    var recipients: [(String, String)]

    /// Reads `Original-Envelope-Id:`, and `Final-Recipient: rfc822; ADDR` with the `Action:`
    /// that follows it in its block, from the rendered message (folded lines unfolded).
    init(parsing body: [UInt8]) {
        var lines: [String] = []
        // "\r\n" is one Character in Swift: split on both forms of line end.
        for raw in String(decoding: body, as: UTF8.self).split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            var line = String(raw)
            if line.hasSuffix("\r") { line.removeLast() }
            if let first = line.first, first == " " || first == "\t", !lines.isEmpty, !lines[lines.count - 1].isEmpty {
                lines[lines.count - 1] += " " + line.drop { $0 == " " || $0 == "\t" }
            } else {
                lines.append(line)
            }
        }
        func value(_ line: String, _ field: String) -> String? {
            guard line.lowercased().hasPrefix(field.lowercased() + ":") else { return nil }
            return line.dropFirst(field.count + 1).trimmedBlanks()
        }
        var envelopeID: String?
        var recipients: [(String, String)] = []
        var current: String?
        for line in lines {
            if line.isEmpty { current = nil; continue }
            if let v = value(line, "Original-Envelope-Id"), envelopeID == nil { envelopeID = v }
            if let v = value(line, "Final-Recipient") {
                let parts = v.split(separator: ";", maxSplits: 1)
                current = (parts.count == 2 ? String(parts[1]) : v).trimmedBlanks()
            }
            if let v = value(line, "Action"), let address = current {
                recipients.append((address, v.lowercased()))
                current = nil
            }
        }
        originalEnvelopeID = envelopeID
        self.recipients = recipients
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    func trimmedBlanks() -> String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return String(s)
    }
}

/// FNV-1a, 64 bits: the simulation's fingerprint of a body.
func fingerprint(_ bytes: [UInt8]) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
        hash ^= UInt64(byte)
        hash &*= 0x0000_0100_0000_01b3
    }
    return hash
}
