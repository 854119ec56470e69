import Synchronization
import Testing
import SMXQueueManager
import SMXStore
import SMXTestSupport

/// The receiving side against real stores on the simulated file layer: what a commit
/// acknowledges survives a power loss with its body; an aborted message leaves nothing; a
/// commit that fails is not acknowledged and leaves nothing a restart would deliver.
@Suite struct ReceiverTests {
    @Test func acknowledgedMessagesSurviveAPowerLossWithTheirBodies() async throws {
        let stores = try QueueStores(SimulatedFileSystem(seed: 1))
        let accepted = Mutex<[EnvelopeID]>([])
        let receiver = stores.receiver { message in accepted.withLock { $0.append(message.envelopeID) } }
        // Sizes on both sides of the large-body threshold, received concurrently.
        let sizes = [0, 1, 900, 5_000, QueueStores.largeBodyThreshold, QueueStores.largeBodyThreshold + 1, 70_000, 3_000, 250]
        let messages = try await withThrowingTaskGroup(of: (AcceptedMessage, [UInt8]).self) { group in
            for (n, size) in sizes.enumerated() {
                group.addTask {
                    let body = MailBodyGenerator.body(size: size, seed: UInt64(n))
                    let recipients = (0...(n % 3)).map { "r\($0)@d\(n).example" }
                    return (try await stores.accept(receiver, recipients: recipients, body: body), body)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(accepted.withLock { $0 }) == Set(messages.map(\.0.envelopeID)))
        #expect(Set(messages.map(\.0.envelopeID)).count == sizes.count)

        let reopened = try QueueStores(stores.crash(seed: 2))
        defer { reopened.close() }
        let open = Dictionary(uniqueKeysWithValues: reopened.log.openTransactions().map { ($0.envelopeID, $0) })
        #expect(open.count == sizes.count)
        for (message, body) in messages {
            let transaction = try #require(open[message.envelopeID])
            #expect(transaction == message.transaction)
            #expect(transaction.recipients.allSatisfy { $0.state == .pending })
            #expect(reopened.content.validate(transaction.content) == .valid)
            #expect(try reopened.body(transaction.content.id) == body)
        }
        #expect(Set(reopened.content.liveIDs()) == Set(messages.map(\.0.transaction.content.id)))
        #expect(reopened.content.verify().isClean)
    }

    @Test func anAbortedMessageLeavesNothing() async throws {
        let stores = try QueueStores(SimulatedFileSystem(seed: 3))
        let receiver = stores.receiver()
        let kept = try await stores.accept(receiver, recipients: ["a@x.example"], body: MailBodyGenerator.body(size: 2_000, seed: 1))
        // A large body spills to its own file as it streams; RSET mid-body.
        let large = try receiver.begin(sender: "s@example.org")
        try large.addRecipient("b@y.example")
        try await large.appendBody(MailBodyGenerator.body(size: QueueStores.largeBodyThreshold * 3, seed: 2))
        #expect(try stores.temporaryFiles().count == 1)
        large.abort()
        large.abort()
        #expect(large.state == .aborted)
        #expect(try stores.temporaryFiles().isEmpty)
        // A small body held in memory; abort after the last byte, before commit.
        let small = try receiver.begin(sender: "s@example.org")
        try small.addRecipient("c@z.example")
        try await small.appendBody(MailBodyGenerator.body(size: 500, seed: 3))
        small.abort()
        // An aborted message takes no more calls.
        await #expect(throws: ReceiveError.self) { try await small.commit() }
        await #expect(throws: ReceiveError.self) { try await small.appendBody([1]) }
        #expect(throws: ReceiveError.self) { try small.addRecipient("d@z.example") }

        #expect(stores.log.openTransactions().map(\.envelopeID) == [kept.envelopeID])
        #expect(stores.content.liveIDs() == [kept.transaction.content.id])
        let reopened = try QueueStores(stores.crash(mode: .keepSome, seed: 4))
        defer { reopened.close() }
        #expect(reopened.log.openTransactions().map(\.envelopeID) == [kept.envelopeID])
        #expect(reopened.content.liveIDs() == [kept.transaction.content.id])
        #expect(try reopened.temporaryFiles().isEmpty)
    }

    @Test func aCommitWhoseLogSyncFailsIsNotAcknowledged() async throws {
        let fs = SimulatedFileSystem(seed: 5)
        let stores = try QueueStores(fs)
        let acknowledged = Atomic<Int>(0)
        let receiver = stores.receiver { _ in acknowledged.add(1, ordering: .relaxed) }
        let kept = try await stores.accept(receiver, recipients: ["a@x.example"], body: MailBodyGenerator.body(size: 3_000, seed: 1))
        // Every log sync fails, not only the next one: the log's preparer thread may be
        // syncing the segment it makes ahead of time, and a one-shot rule would fail that.
        fs.injectFault(FaultRule(kinds: [.sync, .fullSync], errno: EIO_, times: nil) { $0.path.hasPrefix("/q/ibdb/") })
        let message = try receiver.begin(sender: "s@example.org")
        try message.addRecipient("b@y.example")
        try await message.appendBody(MailBodyGenerator.body(size: 4_000, seed: 2))
        do {
            _ = try await message.commit()
            Issue.record("a commit whose log sync failed returned")
        } catch {
            guard case .storage = error else { throw error }
        }
        #expect(message.state == .aborted)
        #expect(acknowledged.load(ordering: .relaxed) == 1)
        // The body reached its store. It is released unless the poisoned log still lists
        // the record (the log adds a commit to its open set before its sync, and keeps it
        // when the sync fails): rule 2 keeps it then, and startup releases it.
        let stray = Set(stores.content.liveIDs()).subtracting([kept.transaction.content.id])
        #expect(stray.isEmpty || (stray.count == 1 && stores.log.transaction(message.envelopeID) != nil))
        fs.removeAllFaults()

        // After the restart only the first message is there, and nothing else is delivered.
        let reopened = try QueueStores(stores.crash(seed: 6))
        defer { reopened.close() }
        let result = try await QueueStartup(log: reopened.log, contentStore: reopened.content, deferredQueue: reopened.deferred).run(now: QueueStores.t0)
        let reader = try reopened.deferred.reader()
        defer { reader.close() }
        #expect(try reader.transactions().map(\.envelopeID) == [kept.envelopeID])
        #expect(reopened.content.liveIDs() == [kept.transaction.content.id])
        #expect(result.references == [kept.transaction.content.id: 1])
    }

    @Test func aCommitWhoseBodySyncFailsIsNotAcknowledgedAndItsRecordIsClosed() async throws {
        let fs = SimulatedFileSystem(seed: 7)
        let stores = try QueueStores(fs)
        let acknowledged = Atomic<Int>(0)
        let receiver = stores.receiver { _ in acknowledged.add(1, ordering: .relaxed) }
        // Every segment sync fails, not only the next one: the store's preparer thread may
        // be syncing the segment it makes ahead of time, and a one-shot rule would fail that
        // sync instead of the body's.
        fs.injectFault(FaultRule(kinds: [.sync, .fullSync], errno: EIO_, times: nil) { $0.path.hasPrefix("/q/cdb/segment-") })
        let message = try receiver.begin(sender: "s@example.org")
        try message.addRecipient("b@y.example")
        try await message.appendBody(MailBodyGenerator.body(size: 4_000, seed: 2))
        await #expect(throws: ReceiveError.self) { try await message.commit() }
        #expect(message.state == .aborted)
        #expect(acknowledged.load(ordering: .relaxed) == 0)
        // The log's record went in (its own sync worked): the receiver closed it again, so
        // no live envelope refers to a body that is not durable.
        #expect(stores.log.openTransactionCount == 0)
        fs.removeAllFaults()
        let crashed = stores.crash(seed: 8)
        let records = try IncomingLog.replay(fileSystem: crashed, directories: ["/q/ibdb"], queueID: QueueStores.queueID).records.map(\.record)
        #expect(records.contains { if case .transaction(let t) = $0 { t.envelopeID == message.envelopeID } else { false } })
        #expect(records.contains(.closed(message.envelopeID, .discarded)))
        let reopened = try QueueStores(crashed)
        defer { reopened.close() }
        #expect(reopened.log.openTransactions().isEmpty)
    }

    @Test func admissionRefusesAndSlowsDownAtOnceWithoutIO() async throws {
        let fs = SimulatedFileSystem(seed: 9)
        let stores = try QueueStores(fs)
        defer { stores.close() }
        // The syncs the calls below could cause. Not the preparer threads' (`smx-ibdb-prep-N`,
        // `smx-cdb-prep`): they make segment files ahead of time whenever they get to it.
        let callSyncs = Mutex(0)
        let syncThreads = Mutex<Set<String>>([])
        fs.setOperationHook { op in
            guard op.kind.isSync else { return }
            let thread = currentThreadName()
            syncThreads.withLock { _ = $0.insert(thread) }
            if !thread.contains("-prep") { callSyncs.withLock { $0 += 1 } }
        }
        defer { fs.setOperationHook(nil) }
        let policy = SwitchablePolicy()
        let receiver = stores.receiver(admission: policy)
        let underWay = try receiver.begin(sender: "s@example.org")
        try underWay.addRecipient("a@x.example")
        try await underWay.appendBody(MailBodyGenerator.body(size: 1_000, seed: 1))
        let alsoUnderWay = try receiver.begin(sender: "s@example.org")
        try alsoUnderWay.addRecipient("b@x.example")
        try await alsoUnderWay.appendBody(MailBodyGenerator.body(size: 1_000, seed: 2))

        // Slow down: no new transaction; the ones under way still commit.
        policy.set(.slowDown("busy"))
        let before = callSyncs.withLock { $0 }
        do {
            _ = try receiver.begin(sender: "s@example.org")
            Issue.record("begin was admitted while slowing down")
        } catch {
            guard case .slowDown(let reason) = error, reason == "busy", error.isTemporary else { throw error }
        }
        #expect(callSyncs.withLock { $0 } == before)
        _ = try await underWay.commit()
        // The names are read: the commit synced on the incoming log's own thread.
        #expect(syncThreads.withLock { $0 }.contains("smx-ibdb-0"))
        #expect(callSyncs.withLock { $0 } > before)

        // Refuse: no new transaction and no commit; the refused body is released.
        policy.set(.refuse("full"))
        let clock = ContinuousClock()
        let started = clock.now
        let syncs = callSyncs.withLock { $0 }
        do {
            _ = try await alsoUnderWay.commit()
            Issue.record("a commit was admitted while refusing")
        } catch {
            guard case .refused(let reason) = error, reason == "full", error.isTemporary else { throw error }
        }
        #expect(throws: ReceiveError.self) { try receiver.begin(sender: "s@example.org") }
        #expect(callSyncs.withLock { $0 } == syncs)
        #expect(clock.now - started < .seconds(1))
        #expect(alsoUnderWay.state == .aborted)
        #expect(stores.log.openTransactionCount == 1)
        #expect(stores.content.liveIDs().count == 1)
    }

    @Test func openTransactionThresholdsFollowTheIncomingLog() async throws {
        let stores = try QueueStores(SimulatedFileSystem(seed: 10))
        defer { stores.close() }
        let policy = try OpenTransactionThresholds(log: stores.log, slowDownAt: 2, refuseAt: 3)
        let receiver = stores.receiver(admission: policy)
        let first = try await stores.accept(receiver, recipients: ["a@x.example"], body: [1, 2, 3])
        let pending = try receiver.begin(sender: "s@example.org")
        try pending.addRecipient("p@x.example")
        let late = try receiver.begin(sender: "s@example.org")
        try late.addRecipient("q@x.example")
        try await stores.accept(receiver, recipients: ["b@x.example"], body: [4])
        #expect(policy.admission() == .slowDown("incoming queue busy: 2 open transactions, slowing down at 2"))
        #expect(throws: ReceiveError.self) { try receiver.begin(sender: "s@example.org") }
        // Begun before the slow-down: still commits.
        _ = try await pending.commit()
        guard case .refuse = policy.admission() else {
            Issue.record("three open transactions should refuse, not \(policy.admission())")
            return
        }
        await #expect(throws: ReceiveError.self) { try await late.commit() }
        // Delivery closes a transaction: back to slowing down, then to accepting.
        try await stores.log.commit(.closed(first.envelopeID, .completed))
        guard case .slowDown = policy.admission() else {
            Issue.record("two open transactions should slow down, not \(policy.admission())")
            return
        }
        try await stores.log.commit(.closed(pending.envelopeID, .completed))
        #expect(policy.admission() == .accept)
        #expect(throws: ReceiverConfigurationError.self) { try OpenTransactionThresholds(slowDownAt: 5, refuseAt: 4) { 0 } }
        #expect(throws: ReceiverConfigurationError.self) { try OpenTransactionThresholds(slowDownAt: 0, refuseAt: 4) { 0 } }
    }

    @Test func limitsAndMissingRecipientsAreTypedErrors() async throws {
        let stores = try QueueStores(SimulatedFileSystem(seed: 11))
        defer { stores.close() }
        let receiver = stores.receiver(configuration: try ReceiverConfiguration(maxRecipients: 2, maxMessageBytes: 10_000))

        let empty = try receiver.begin(sender: "")
        await #expect(throws: ReceiveError.self) { try await empty.appendBody([1]) }
        #expect(empty.state == .recipients)
        do {
            _ = try await empty.commit()
            Issue.record("a commit without recipients returned")
        } catch {
            guard case .noRecipients = error, !error.isTemporary else { throw error }
        }
        #expect(empty.state == .aborted)

        let many = try receiver.begin(sender: "s@example.org")
        try many.addRecipient("a@x.example")
        try many.addRecipient("b@x.example")
        do {
            try many.addRecipient("c@x.example")
            Issue.record("a third recipient was taken")
        } catch {
            guard case .tooManyRecipients(limit: 2) = error, error.isTemporary else { throw error }
        }
        #expect(many.recipients.count == 2)
        #expect(throws: ReceiveError.self) { try many.addRecipient("") }
        #expect(throws: ReceiveError.self) { try many.addRecipient(String(repeating: "x", count: 1_100) + "@x.example") }

        // The body limit is checked as bytes arrive: the excess is never stored.
        try await many.appendBody(MailBodyGenerator.body(size: 9_000, seed: 1))
        do {
            try await many.appendBody(MailBodyGenerator.body(size: 1_001, seed: 2))
            Issue.record("a body past the limit was taken")
        } catch {
            guard case .messageTooLarge(limit: 10_000) = error, !error.isTemporary else { throw error }
        }
        #expect(many.state == .aborted)

        #expect(throws: ReceiveError.self) { try receiver.begin(sender: "s@example.org", parameters: MailParameters(size: 10_001)) }
        #expect(throws: ReceiveError.self) { try receiver.begin(sender: String(repeating: "s", count: 1_025)) }
        #expect(throws: ReceiveError.self) {
            try receiver.begin(sender: "s@example.org", parameters: MailParameters(envelopeID: String(repeating: "e", count: 256)))
        }
        #expect(throws: ReceiverConfigurationError.self) { try ReceiverConfiguration(maxRecipients: 0, maxMessageBytes: 1) }
        #expect(throws: ReceiverConfigurationError.self) { try ReceiverConfiguration(maxRecipients: 1, maxMessageBytes: 0) }

        // Exactly at the limits works, and an empty body is a body.
        let full = try receiver.begin(sender: "s@example.org", parameters: MailParameters(size: 10_000))
        try full.addRecipient("a@x.example")
        try await full.appendBody(MailBodyGenerator.body(size: 10_000, seed: 3))
        let accepted = try await full.commit()
        #expect(accepted.transaction.content.size == 10_000)
        await #expect(throws: ReceiveError.self) { try await full.commit() }
        full.abort()
        #expect(full.state == .committed)
        let bare = try receiver.begin(sender: "s@example.org")
        try bare.addRecipient("a@x.example")
        #expect(try await bare.commit().transaction.content.size == 0)
        #expect(stores.content.liveIDs().count == 2)
    }

    @Test func envelopeIDsAreUniqueAndPastTheStoresAndTheClock() {
        let source = EnvelopeIDSource(after: EnvelopeID(1_000), clockMicros: 10)
        #expect(source.next() == EnvelopeID(1_001))
        #expect(source.next() == EnvelopeID(1_002))
        let clocked = EnvelopeIDSource(after: EnvelopeID(5), clockMicros: 1_000)
        #expect(clocked.next() == EnvelopeID(16_000))
        #expect(EnvelopeIDSource(after: nil, clockMicros: 0).next() == EnvelopeID(1))
    }
}

/// An admission policy a test switches by hand.
final class SwitchablePolicy: AdmissionPolicy {
    private let current = Mutex<Admission>(.accept)
    func set(_ admission: Admission) { current.withLock { $0 = admission } }
    func admission() -> Admission { current.withLock { $0 } }
}

/// EIO, without importing Glibc into every test file.
let EIO_: Int32 = 5
