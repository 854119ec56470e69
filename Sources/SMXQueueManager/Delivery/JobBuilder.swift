/// Splits the resolved recipients of one envelope into ``DeliveryJob``s: one group per
/// delivery class and next hop, each cut into jobs of at most ``recipientsPerJob``
/// recipients, and numbers the jobs.
///
/// Deterministic whatever the input order: recipients are taken in recipient-id order
/// (RCPT TO order); groups come in the order of their first recipient; within a group the
/// first jobs are full and the last takes the rest (101 recipients, 100 per job: 100 and 1).
public struct JobBuilder: Sendable {
    /// RFC 5321 §4.5.3.1.8: a server must accept at least 100 recipients per transaction.
    public static let defaultRecipientsPerJob = 100

    public let recipientsPerJob: Int
    /// The id the next job gets.
    public private(set) var nextID: DeliveryJob.ID

    /// Throws ``DeliveryConfigurationError/invalidLimit(_:)`` when `recipientsPerJob` is
    /// below 1.
    public init(recipientsPerJob: Int = defaultRecipientsPerJob, firstID: DeliveryJob.ID = DeliveryJob.ID(1)) throws(DeliveryConfigurationError) {
        guard recipientsPerJob >= 1 else { throw .invalidLimit("recipients per job must be at least 1") }
        self.recipientsPerJob = recipientsPerJob
        self.nextID = firstID
    }

    /// The jobs for `recipients` of `envelope` (none when there are no recipients).
    public mutating func jobs(for envelope: DeliveryEnvelope, recipients: [ResolvedRecipient]) -> [DeliveryJob] {
        struct Destination: Hashable {
            var deliveryClass: DeliveryClass
            var nextHop: NextHop
        }
        var order: [Destination] = []
        var groups: [Destination: [JobRecipient]] = [:]
        for resolved in recipients.sorted(by: { $0.recipient.id < $1.recipient.id }) {
            let destination = Destination(deliveryClass: resolved.deliveryClass, nextHop: resolved.nextHop)
            if groups[destination] == nil { order.append(destination) }
            groups[destination, default: []].append(resolved.recipient)
        }
        return order.flatMap { destination in
            jobs(for: envelope, deliveryClass: destination.deliveryClass, nextHop: destination.nextHop, recipients: groups[destination] ?? [])
        }
    }

    /// The jobs for recipients of `envelope` that share one delivery class and next hop
    /// (the queue manager's dispatch, which lists them per destination): the same jobs
    /// ``jobs(for:recipients:)`` makes for them, without grouping.
    public mutating func jobs(
        for envelope: DeliveryEnvelope, deliveryClass: DeliveryClass, nextHop: NextHop, recipients: [JobRecipient]
    ) -> [DeliveryJob] {
        var sorted = recipients
        if !sorted.indices.dropFirst().allSatisfy({ sorted[$0 - 1].id < sorted[$0].id }) { sorted.sort { $0.id < $1.id } }
        var jobs: [DeliveryJob] = []
        for start in stride(from: 0, to: sorted.count, by: recipientsPerJob) {
            let chunk = start == 0 && sorted.count <= recipientsPerJob ? sorted : Array(sorted[start..<min(start + recipientsPerJob, sorted.count)])
            jobs.append(DeliveryJob(id: nextID, envelope: envelope, deliveryClass: deliveryClass, nextHop: nextHop, recipients: chunk))
            nextID = DeliveryJob.ID(nextID.rawValue &+ 1)
        }
        return jobs
    }
}
