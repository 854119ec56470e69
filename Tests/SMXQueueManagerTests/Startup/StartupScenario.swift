import Testing
import SMXQueueManager
import SMXStore
import SMXTestSupport

/// A queue as a crash leaves it, built through the stores the way the queue manager writes
/// them (rule 3: the deferred queue first, then the incoming log's outcome), for the
/// startup tests:
///
/// | envelope | where | state before startup | what startup must do |
/// |---|---|---|---|
/// | A | incoming | recipient 0 delivered, 1 pending | move 1 (due now), count 0 as delivered |
/// | B | incoming + deferred | 0 failed (deferred copy failed), 1 moved (deferred copy), 2 pending | add only 2; keep 0 failed and 1's next try |
/// | C | incoming | every recipient delivered, close lost | close as completed, queue nothing |
/// | D | incoming | its one recipient moved, then delivered from the deferred queue | add nothing (it was delivered) |
/// | E | incoming | body never made durable | discard, report |
/// | F | deferred | body fine | keep |
/// | G | deferred | body missing | drop, report missing |
/// | H | deferred | record's checksum differs from the body's | drop, report |
/// | I | deferred | large body damaged on disk | drop, report damaged, quarantine |
///
/// Plus one body no envelope refers to (received, never committed): released.
struct StartupScenario {
    static let now: UInt64 = QueueStores.t0 + 3_600_000_000
    static let failedReportAt: UInt64 = QueueStores.t0 + 60_000_000
    static let movedNextTry: UInt64 = QueueStores.t0 + 7_200_000_000

    var a: AcceptedMessage
    var b: AcceptedMessage
    var c: AcceptedMessage
    var d: AcceptedMessage
    var e: EnvelopeID
    var f: DeferredTransaction
    var g: DeferredTransaction
    var h: DeferredTransaction
    var i: DeferredTransaction
    var garbage: ContentID
    /// Everything durable, with I's body damaged.
    var image: SimulatedImage

    static func build(seed: UInt64) async throws -> StartupScenario {
        let stores = try QueueStores(SimulatedFileSystem(seed: seed))
        let receiver = stores.receiver()
        func body(_ n: UInt64, _ size: Int = 3_000) -> [UInt8] { MailBodyGenerator.body(size: size, seed: seed &+ n) }

        let a = try await stores.accept(receiver, recipients: ["a0@one.example", "a1@two.example"], body: body(1))
        try await stores.log.commit(.outcome(a.envelopeID, recipient: 0, .delivered, reply: "250 ok"))

        let b = try await stores.accept(receiver, recipients: ["b0@one.example", "b1@Two.Example", "b2@three.example"], body: body(2, 20_000))
        let bEnvelope = Self.deferredEnvelope(b.transaction)
        try await stores.deferred.apply(.add(bEnvelope, [
            Self.deferredRecipient(b.transaction, 0, destination: "one.example", status: .failed, nextTry: failedReportAt,
                                   reply: DeliveryReply(code: 550, text: "5.1.1 no such user")),
        ]))
        try await stores.log.commit(.outcome(b.envelopeID, recipient: 0, .failedPermanently, reply: "550 5.1.1 no such user"))
        try await stores.deferred.apply(.add(bEnvelope, [
            Self.deferredRecipient(b.transaction, 1, destination: "two.example", status: .deferred, nextTry: movedNextTry,
                                   reply: DeliveryReply(code: 451, text: "4.4.1 try later")),
        ]))
        try await stores.log.commit(.outcome(b.envelopeID, recipient: 1, .movedToDeferred, reply: "451 4.4.1 try later"))

        let c = try await stores.accept(receiver, recipients: ["c0@one.example", "c1@one.example"], body: body(3))
        try await stores.log.commit([
            .outcome(c.envelopeID, recipient: 0, .delivered, reply: "250 ok"),
            .outcome(c.envelopeID, recipient: 1, .delivered, reply: "250 ok"),
        ])

        let d = try await stores.accept(receiver, recipients: ["d0@four.example"], body: body(4))
        try await stores.deferred.apply(.add(Self.deferredEnvelope(d.transaction), [
            Self.deferredRecipient(d.transaction, 0, destination: "four.example", status: .deferred, nextTry: movedNextTry, reply: nil),
        ]))
        try await stores.log.commit(.outcome(d.envelopeID, recipient: 0, .movedToDeferred, reply: "451 later"))
        try await stores.deferred.apply(.remove(RecipientID(d.envelopeID, 0), .delivered))

        // E: the envelope is durable, its body never was.
        let e = receiver.envelopeIDs.next()
        try await stores.log.commit(.transaction(IncomingTransaction(
            envelopeID: e, arrivalMicros: QueueStores.t0, sender: "e@example.org",
            content: ContentReference(id: ContentID(999_999), size: 10, checksum: 10),
            recipients: [Recipient(address: "e0@one.example")]
        )))

        func deferredOnly(_ n: UInt64, content: ContentReference) async throws -> DeferredTransaction {
            let id = receiver.envelopeIDs.next()
            let envelope = DeferredTransaction(
                envelopeID: id, sender: "old\(n)@example.org", content: content,
                arrivalMicros: QueueStores.t0 - 86_400_000_000, recipientCount: 2
            )
            try await stores.deferred.apply(.add(envelope, (0..<2).map { index in
                DeferredRecipient(id: RecipientID(id, UInt32(index)), address: "old\(index)@five.example", destination: "five.example",
                                  attempts: 3, nextTry: QueueStores.t0 + UInt64(index) * 1_000_000)
            }))
            let reader = try stores.deferred.reader()
            defer { reader.close() }
            return try #require(try reader.transaction(id))
        }
        let fBody = try await stores.content.store(body(5))
        let hBody = try await stores.content.store(body(6))
        let iBody = try await stores.content.store(body(7, 3 * QueueStores.largeBodyThreshold))
        let garbage = try await stores.content.store(body(8))
        try await stores.content.waitDurable([fBody, hBody, iBody, garbage])
        let f = try await deferredOnly(5, content: fBody.reference)
        let g = try await deferredOnly(6, content: ContentReference(id: ContentID(888_888), size: 5, checksum: 5))
        var hReference = hBody.reference
        hReference.checksum &+= 1
        let h = try await deferredOnly(7, content: hReference)
        let i = try await deferredOnly(8, content: iBody.reference)
        let iBlob = try #require(stores.content.inspect().first { $0.id == iBody.id })

        let crashed = stores.crash(seed: seed &+ 1)
        // Damage the middle of I's chunks on disk (as media corruption would).
        crashed.overwriteDurably(iBlob.path, at: iBlob.offset + iBlob.extent / 2, with: Array(repeating: 0xA5, count: 64))
        return StartupScenario(
            a: a, b: b, c: c, d: d, e: e, f: f, g: g, h: h, i: i, garbage: garbage.id, image: crashed.snapshot()
        )
    }

    static func deferredEnvelope(_ t: IncomingTransaction) -> DeferredTransaction {
        DeferredTransaction(
            envelopeID: t.envelopeID, sender: t.sender, mail: t.mail, content: t.content,
            arrivalMicros: t.arrivalMicros, recipientCount: UInt32(t.recipients.count)
        )
    }

    static func deferredRecipient(
        _ t: IncomingTransaction, _ index: Int, destination: String, status: DeferredRecipient.Status, nextTry: UInt64, reply: DeliveryReply?
    ) -> DeferredRecipient {
        let r = t.recipients[index]
        return DeferredRecipient(
            id: RecipientID(t.envelopeID, UInt32(index)), address: r.address, notify: r.notify, originalRecipient: r.originalRecipient,
            destination: destination, status: status, attempts: 1, firstFailureMicros: QueueStores.t0,
            lastAttemptMicros: QueueStores.t0, lastReply: reply, nextTry: nextTry
        )
    }

    /// A file system holding the scenario, everything durable.
    func fileSystem(seed: UInt64) -> SimulatedFileSystem {
        SimulatedFileSystem.restore(image, crash: .dropAllUnsynced, seed: seed)
    }
}

/// What the stores hold, for comparing the outcome of two startups.
struct QueueState: Equatable, CustomStringConvertible {
    var transactions: [DeferredTransaction]
    var recipients: [DeferredRecipient]
    var nextTry: [NextTryKey]
    var open: [IncomingTransaction]
    var live: Set<ContentID>

    init(_ stores: QueueStores) throws {
        let reader = try stores.deferred.reader()
        defer { reader.close() }
        transactions = try reader.transactions()
        recipients = try transactions.flatMap { try reader.recipients(of: $0.envelopeID) }
        nextTry = try reader.keys(from: .min, limit: .max)
        open = stores.log.openTransactions()
        live = Set(stores.content.liveIDs())
    }

    var description: String {
        "\(transactions.count) envelopes \(transactions.map(\.envelopeID)), \(recipients.count) recipients, \(nextTry.count) next-try keys, \(open.count) open, live bodies \(live.sorted())"
    }
}

/// The checks that hold after every startup: each store's invariants, the cache a complete
/// copy of the next-try index, and the reference counts exactly the deferred queue's
/// envelopes, with every other body released.
func startupInvariantProblems(_ stores: QueueStores, _ result: QueueStartup.Result) throws -> [String] {
    var problems: [String] = []
    let verification = stores.deferred.verify()
    if !verification.isClean { problems.append("deferred queue: \(verification.allProblems.prefix(3))") }
    let content = stores.content.verify()
    if !content.isClean { problems.append("content store: \(content.problems.prefix(3))") }
    do { try result.nextTryCache.verify() } catch { problems.append("next-try cache: \(error)") }
    let state = try QueueState(stores)
    if result.nextTryCache.keys != state.nextTry { problems.append("next-try cache \(result.nextTryCache.count) keys, index \(state.nextTry.count)") }
    if !state.open.isEmpty { problems.append("\(state.open.count) incoming transactions still open") }
    var expected: [ContentID: Int] = [:]
    for transaction in state.transactions { expected[transaction.content.id, default: 0] += 1 }
    if result.references != expected { problems.append("references \(result.references), deferred queue says \(expected)") }
    if state.live != Set(expected.keys) { problems.append("live bodies \(state.live.sorted()), referenced \(expected.keys.sorted())") }
    for transaction in state.transactions where stores.content.validate(transaction.content) != .valid {
        problems.append("envelope \(transaction.envelopeID) kept with body \(stores.content.validate(transaction.content))")
    }
    return problems
}
