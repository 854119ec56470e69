import Synchronization
import SMXQueueManager
import SMXStore

/// The delivery agent of one epoch (one running queue manager) of the simulation. It asks
/// the ``SimulationWorld`` what each destination does, records what the destinations saw
/// there, and checks every job it is handed:
///
/// - the body is readable from the content store, of the stored size, and is the body the
///   simulation submitted for that message (by ENVID): a body reclaimed while a job refers
///   to it fails here;
/// - a job with the null sender is a DSN: its body is parsed for Original-Envelope-Id and
///   each Final-Recipient's Action, and the world records the failures it reports.
///
/// A crash kills the agent (``kill()``): its jobs asleep on the clock then end without
/// delivering anything (the process and its connections died with the machine).
final class SimulationAgent: DeliveryAgent {
    static let refused = StatusReply(code: 0, status: EnhancedStatusCode(4, 4, 1)!, text: "connection refused")
    static let unknownUser = StatusReply(code: 550, status: EnhancedStatusCode(5, 1, 1)!, text: "no such user", remoteMTA: "mx.sim")
    static let later = StatusReply(code: 451, status: EnhancedStatusCode(4, 3, 0)!, text: "try again later", remoteMTA: "mx.sim")
    static let accepted = StatusReply(code: 250, status: EnhancedStatusCode(2, 0, 0)!, text: "ok", remoteMTA: "mx.sim")

    let world: SimulationWorld
    let clock: ManualClock
    let content: ContentStore
    let epoch: Int
    let seed: UInt64
    private let dead = Atomic<Bool>(false)
    /// Deadlines of the jobs asleep on the clock, by ticket.
    private let sleepers = Mutex<(next: Int, deadlines: [Int: UInt64])>((0, [:]))

    init(world: SimulationWorld, clock: ManualClock, content: ContentStore, epoch: Int, seed: UInt64) {
        self.world = world
        self.clock = clock
        self.content = content
        self.epoch = epoch
        self.seed = seed
    }

    /// The machine went down: jobs still running deliver nothing and never touch the
    /// (closed) stores again.
    func kill() {
        dead.store(true, ordering: .sequentiallyConsistent)
    }

    var isDead: Bool { dead.load(ordering: .sequentiallyConsistent) }

    /// Jobs asleep on the clock whose deadline the clock has not reached.
    var sleeping: Int {
        let now = clock.now().microsecondsSinceEpoch
        return sleepers.withLock { $0.deadlines.values.count { $0 > now } }
    }

    /// The earliest deadline of a job asleep on the clock, after now.
    var nextDeadline: UInt64? {
        let now = clock.now().microsecondsSinceEpoch
        return sleepers.withLock { $0.deadlines.values.filter { $0 > now }.min() }
    }

    func deliver(_ job: DeliveryJob) async -> DeliveryResult {
        guard !isDead else { return .connectionFailed(job, reply: Self.refused) }
        let host = job.nextHop.host
        let isNotification = job.envelope.sender.isEmpty
        var report: NotificationReport?
        if let body = check(job) {
            if isNotification { report = NotificationReport(parsing: body) }
        }
        let start = clock.now().microsecondsSinceEpoch
        let (answer, delay) = world.answer(for: isNotification ? SimulationWorld.senderDomain : host, now: start)
        if let delay {
            let deadline = clock.now() + delay
            let ticket = sleepers.withLock { s -> Int in
                s.next += 1
                s.deadlines[s.next] = deadline.microsecondsSinceEpoch
                return s.next
            }
            try? await clock.sleep(until: deadline)
            sleepers.withLock { _ = $0.deadlines.removeValue(forKey: ticket) }
            guard !isDead else { return .connectionFailed(job, reply: Self.refused) }
            _ = check(job)
        }
        let addresses = job.recipients.map(\.address)
        switch answer {
        case .connectFailed:
            for address in addresses { world.note(address, "connection failed in epoch \(epoch) at \(start)") }
            return .connectionFailed(job, reply: Self.refused)
        case .deliver:
            if isNotification {
                for address in addresses {
                    world.notification(report ?? NotificationReport(parsing: []), to: address, epoch: epoch, seed: seed)
                }
            } else {
                world.delivered(addresses, envelopeID: job.envelope.mail.envelopeID, epoch: epoch, seed: seed, job: "\(job.id) started at \(start)", at: clock.now().microsecondsSinceEpoch)
            }
            return DeliveryResult(jobID: job.id, connection: .connected, recipients: job.recipients.map { RecipientResult($0.id, .delivered(Self.accepted)) })
        case .reject:
            world.rejected(addresses, epoch: epoch, at: clock.now().microsecondsSinceEpoch)
            return DeliveryResult(jobID: job.id, connection: .connected, recipients: job.recipients.map { RecipientResult($0.id, .permanentFailure(Self.unknownUser)) })
        case .tryLater:
            for address in addresses { world.note(address, "deferred (451) in epoch \(epoch) at \(start)") }
            return DeliveryResult(jobID: job.id, connection: .connected, recipients: job.recipients.map { RecipientResult($0.id, .temporaryFailure(Self.later)) })
        }
    }

    /// Reads the job's body and checks it; returns it, or nil after recording a problem.
    private func check(_ job: DeliveryJob) -> [UInt8]? {
        let reference = job.envelope.content
        let body: [UInt8]
        do {
            let reader = try content.openReader(reference.id)
            defer { reader.close() }
            body = try reader.readAll()
        } catch {
            world.problem("seed \(seed) epoch \(epoch): \(job.id) for \(job.envelope.mail.envelopeID ?? "a DSN"): body \(reference.id) not readable while a job refers to it: \(error)")
            return nil
        }
        if UInt64(body.count) != reference.size {
            world.problem("seed \(seed) epoch \(epoch): body \(reference.id) has \(body.count) bytes, its reference says \(reference.size)")
        }
        if !job.envelope.sender.isEmpty {
            guard let envelopeID = job.envelope.mail.envelopeID, let message = world.message(envelopeID) else {
                world.problem("seed \(seed) epoch \(epoch): \(job.id) carries no known ENVID (\(job.envelope.mail.envelopeID ?? "none"))")
                return body
            }
            if message.size != body.count || message.bodyHash != fingerprint(body) {
                world.problem("seed \(seed) epoch \(epoch): the body of \(envelopeID) differs from the one submitted")
            }
        }
        return body
    }
}
