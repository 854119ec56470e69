import SMXQueueManager
import SMXStore
import SMXTestSupport

/// A queue on the simulated file layer with messages received through a `Receiver` and
/// recipients moved to the deferred queue the way the queue manager moves them (deferred
/// commit first, then the incoming log closes the transaction), plus a `NotificationPass`
/// over it. Messages arrive at `QueueStores.t0`.
struct BounceFixture {
    static let configuration = NotificationConfiguration(reportingMTA: "mx1.example.org")
    /// One hour after arrival: failures due, no delay warning owed yet.
    static let now = Timestamp(microsecondsSinceEpoch: QueueStores.t0 + 3_600_000_000)
    /// Five hours after arrival: past the four-hour warning time.
    static let late = Timestamp(microsecondsSinceEpoch: QueueStores.t0 + 5 * 3_600_000_000)
    static let failedReply = DeliveryReply(code: 550, text: "5.1.1 <bob@example.com>: no such user")
    static let deferredReply = DeliveryReply(code: 451, text: "4.4.1 mx.example.com: connection timed out")

    static func policy() throws -> RetryPolicy {
        try RetryPolicy(rules: [RetryRule(.any, schedule: .eximDefault, lifetime: .days(4), warnAfter: .hours(4))], fuzz: 0)
    }

    static func message(_ subject: String = "Lunch") -> [UInt8] {
        Array("From: Alice <alice@example.net>\r\nSubject: \(subject)\r\nMessage-ID: <\(subject)@example.net>\r\n\r\nThe body text of \(subject).\r\n".utf8)
    }

    /// A recipient to queue: where it ends up in the deferred queue.
    struct Planned {
        var address: String
        var notify: NotifyFlags = []
        var orcpt: String?
        var status: DeferredRecipient.Status = .failed
        var reply: DeliveryReply? = BounceFixture.failedReply
        /// When the failure report is due (failed) or the next try (deferred).
        var nextTry: UInt64 = QueueStores.t0 + 60_000_000
    }

    let stores: QueueStores
    let receiver: Receiver
    let pass: NotificationPass

    init(_ fileSystem: SimulatedFileSystem, configuration: NotificationConfiguration = BounceFixture.configuration, envelopeIDs: EnvelopeIDSource? = nil) throws {
        stores = try QueueStores(fileSystem)
        receiver = Receiver(
            log: stores.log, contentStore: stores.content,
            envelopeIDs: envelopeIDs ?? EnvelopeIDSource(after: nil, clockMicros: QueueStores.t0), clock: { QueueStores.t0 }
        )
        pass = NotificationPass(
            deferredQueue: stores.deferred, contentStore: stores.content, receiver: receiver, configuration: configuration,
            retryPolicy: try Self.policy(), logger: QueueStores.quietLogger
        )
    }

    /// Receives a message and moves `planned` (all of its recipients) to the deferred queue.
    @discardableResult
    func queue(
        sender: String = "alice@example.net", mail: MailParameters = MailParameters(), body: [UInt8] = BounceFixture.message(),
        _ planned: [Planned]
    ) async throws -> DeferredTransaction {
        let message = try receiver.begin(sender: sender, parameters: mail)
        for p in planned { try message.addRecipient(p.address, parameters: RecipientParameters(notify: p.notify, originalRecipient: p.orcpt)) }
        try await message.appendBody(body)
        let accepted = try await message.commit()
        return try await move(accepted.transaction, planned)
    }

    /// Moves an incoming transaction's recipients to the deferred queue as `planned` says,
    /// then closes the transaction (rule 3).
    @discardableResult
    func move(_ t: IncomingTransaction, _ planned: [Planned]) async throws -> DeferredTransaction {
        let envelope = DeferredTransaction(
            envelopeID: t.envelopeID, sender: t.sender, mail: t.mail, content: t.content, arrivalMicros: t.arrivalMicros,
            recipientCount: UInt32(t.recipients.count)
        )
        let recipients = planned.enumerated().map { index, p in
            DeferredRecipient(
                id: RecipientID(t.envelopeID, UInt32(index)), address: t.recipients[index].address, notify: t.recipients[index].notify,
                originalRecipient: t.recipients[index].originalRecipient, destination: Self.domain(of: t.recipients[index].address),
                status: p.status, attempts: 1, firstFailureMicros: QueueStores.t0, lastAttemptMicros: QueueStores.t0 + 1_000_000,
                lastReply: p.reply, nextTry: p.status == .held ? nil : p.nextTry
            )
        }
        try await stores.deferred.apply(.add(envelope, recipients))
        try await stores.log.commit(.closed(t.envelopeID, .movedToDeferred))
        return envelope
    }

    static func domain(of address: String) -> String {
        address.split(separator: "@").last.map { $0.lowercased() } ?? "invalid"
    }

    /// The notifications waiting in the incoming log (open null-sender transactions).
    func notifications() throws -> [(transaction: IncomingTransaction, text: String)] {
        try stores.log.openTransactions().filter { $0.sender.isEmpty }.map { t in
            (t, String(decoding: try stores.body(t.content.id), as: UTF8.self))
        }
    }

    func recipients(of id: EnvelopeID) throws -> [DeferredRecipient] {
        let reader = try stores.deferred.reader()
        defer { reader.close() }
        return try reader.recipients(of: id)
    }

    func transaction(_ id: EnvelopeID) throws -> DeferredTransaction? {
        let reader = try stores.deferred.reader()
        defer { reader.close() }
        return try reader.transaction(id)
    }

    /// Problems `verify()` of the deferred queue finds.
    func deferredProblems() -> [String] {
        let verification = stores.deferred.verify()
        return verification.allProblems
    }
}

extension String {
    /// How many times `needle` occurs.
    func occurrences(of needle: String) -> Int {
        var count = 0
        var rest = self[...]
        while let range = rest.range(of: needle) {
            count += 1
            rest = rest[range.upperBound...]
        }
        return count
    }
}
