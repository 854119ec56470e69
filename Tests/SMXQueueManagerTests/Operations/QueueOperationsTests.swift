import Synchronization
import Testing
import SMXQueueManager
import SMXStore
import SMXTestSupport

@Suite struct QueueOperationsTests {
    static let far = QueueStores.t0 + 86_400_000_000

    final class Changes: Sendable {
        let results = Mutex<[QueueOperationResult]>([])
    }

    /// A fixture with operations over it that record every change they report.
    struct Setup {
        let f: BounceFixture
        let operations: QueueOperations
        let reported = Changes()

        init(seed: UInt64) throws {
            f = try BounceFixture(SimulatedFileSystem(seed: seed))
            let reported = self.reported
            operations = QueueOperations(
                deferredQueue: f.stores.deferred, contentStore: f.stores.content, incomingLog: f.stores.log,
                logger: QueueStores.quietLogger, onChange: { result in reported.results.withLock { $0.append(result) } }
            )
        }

        /// Deferred (0, 1), held (2) and failed (3) recipients of one envelope.
        func mixed() async throws -> DeferredTransaction {
            try await f.queue([
                .init(address: "a@example.com", status: .deferred, reply: BounceFixture.deferredReply, nextTry: QueueOperationsTests.far),
                .init(address: "b@example.com", status: .deferred, reply: BounceFixture.deferredReply, nextTry: QueueOperationsTests.far),
                .init(address: "c@example.com", status: .held, reply: BounceFixture.deferredReply),
                .init(address: "d@example.com"),
            ])
        }

        func statuses(_ id: EnvelopeID) throws -> [DeferredRecipient.Status] {
            try f.recipients(of: id).map(\.status)
        }
    }

    @Test func holdAndReleaseByEnvelopeAndRecipient() async throws {
        let s = try Setup(seed: 20)
        defer { s.f.stores.close() }
        let t = try await s.mixed()
        let missing = EnvelopeID(12345)

        let held = try await s.operations.hold(.envelopes([t.envelopeID, missing]))
        #expect(held.changed == [RecipientID(t.envelopeID, 0), RecipientID(t.envelopeID, 1)])
        #expect(held.unchanged == [RecipientID(t.envelopeID, 2), RecipientID(t.envelopeID, 3)])
        #expect(held.envelopesNotFound == [missing])
        #expect(held.txid != nil)
        #expect(try s.statuses(t.envelopeID) == [.held, .held, .held, .failed])
        #expect(s.f.deferredProblems() == [])

        let now = Timestamp(microsecondsSinceEpoch: QueueStores.t0 + 10_000_000)
        let gone = RecipientID(t.envelopeID, 9)
        let released = try await s.operations.release(.recipients([RecipientID(t.envelopeID, 2), gone]), now: now)
        #expect(released.changed == [RecipientID(t.envelopeID, 2)])
        #expect(released.recipientsNotFound == [gone])
        let recipients = try s.f.recipients(of: t.envelopeID)
        #expect(recipients.map(\.status) == [.held, .held, .deferred, .failed])
        #expect(recipients[2].nextTry == now.microsecondsSinceEpoch)
        #expect(s.f.deferredProblems() == [])

        // The manager hears of each change, after its commit.
        #expect(s.reported.results.withLock { $0 } == [held, released])
    }

    @Test func requeueMakesDeferredRecipientsDueNow() async throws {
        let s = try Setup(seed: 21)
        defer { s.f.stores.close() }
        let t = try await s.mixed()
        let now = Timestamp(microsecondsSinceEpoch: QueueStores.t0 + 10_000_000)
        let result = try await s.operations.requeue(.envelopes([t.envelopeID]), now: now)
        #expect(result.changed == [RecipientID(t.envelopeID, 0), RecipientID(t.envelopeID, 1)])
        #expect(result.unchanged == [RecipientID(t.envelopeID, 2), RecipientID(t.envelopeID, 3)])
        let reader = try s.f.stores.deferred.reader()
        defer { reader.close() }
        let due = try reader.due(now: now.microsecondsSinceEpoch, limit: 10).map(\.id)
        #expect(due.contains(RecipientID(t.envelopeID, 0)) && due.contains(RecipientID(t.envelopeID, 1)))
        #expect(s.f.deferredProblems() == [])
        // Again at the same time: nothing left to change.
        #expect(try await s.operations.requeue(.envelopes([t.envelopeID]), now: now).changed.isEmpty)
    }

    @Test func deleteRemovesWithoutNotificationAndReleasesTheBodyWithTheLastRecipient() async throws {
        let s = try Setup(seed: 22)
        defer { s.f.stores.close() }
        let t = try await s.mixed()
        let first = try await s.operations.delete(.recipients([RecipientID(t.envelopeID, 0), RecipientID(t.envelopeID, 3)]))
        #expect(first.changed == [RecipientID(t.envelopeID, 0), RecipientID(t.envelopeID, 3)])
        #expect(first.releasedBodies.isEmpty)
        #expect(s.f.stores.content.contains(t.content.id))
        #expect(try s.f.recipients(of: t.envelopeID).map(\.address) == ["b@example.com", "c@example.com"])

        let rest = try await s.operations.delete(.recipients([RecipientID(t.envelopeID, 1), RecipientID(t.envelopeID, 2)]))
        #expect(rest.changed.count == 2)
        #expect(rest.releasedBodies == [t.content.id])
        #expect(!s.f.stores.content.contains(t.content.id))
        #expect(try s.f.transaction(t.envelopeID) == nil)
        #expect(s.f.deferredProblems() == [])

        // The deleted failure is never reported.
        #expect(try await s.f.pass.run(now: BounceFixture.now).sent.isEmpty)
    }

    @Test func deleteByEnvelopeTakesEveryRecipientAndTheBody() async throws {
        let s = try Setup(seed: 23)
        defer { s.f.stores.close() }
        let t = try await s.mixed()
        let other = try await s.mixed()
        let result = try await s.operations.delete(.envelopes([t.envelopeID]))
        #expect(result.changed == (0..<4).map { RecipientID(t.envelopeID, $0) })
        #expect(result.releasedBodies == [t.content.id])
        #expect(try s.f.transaction(t.envelopeID) == nil)
        #expect(try s.f.recipients(of: other.envelopeID).count == 4)
        #expect(s.f.stores.content.contains(other.content.id))
        #expect(s.f.deferredProblems() == [])
    }

    @Test func aBodyStillReferencedByTheIncomingLogIsKept() async throws {
        let s = try Setup(seed: 24)
        defer { s.f.stores.close() }
        // One recipient moved to the deferred queue, the other still pending in the incoming log.
        let message = try s.f.receiver.begin(sender: "alice@example.net")
        try message.addRecipient("a@example.com")
        try message.addRecipient("b@example.com")
        try await message.appendBody(BounceFixture.message())
        let accepted = try await message.commit()
        let t = accepted.transaction
        try await s.f.stores.deferred.apply(.add(
            DeferredTransaction(envelopeID: t.envelopeID, sender: t.sender, content: t.content, arrivalMicros: t.arrivalMicros, recipientCount: 2),
            [DeferredRecipient(id: RecipientID(t.envelopeID, 0), address: "a@example.com", destination: "example.com", nextTry: Self.far)]
        ))
        try await s.f.stores.log.commit(.outcome(t.envelopeID, recipient: 0, .movedToDeferred, reply: "451 later"))

        let result = try await s.operations.delete(.envelopes([t.envelopeID]))
        #expect(result.changed == [RecipientID(t.envelopeID, 0)])
        #expect(result.releasedBodies.isEmpty)
        #expect(s.f.stores.content.contains(t.content.id))
    }

    @Test func bounceFailsRecipientsSoThatTheSenderIsTold() async throws {
        let s = try Setup(seed: 25)
        defer { s.f.stores.close() }
        let t = try await s.mixed()
        let now = Timestamp(microsecondsSinceEpoch: QueueStores.t0 + 120_000_000)
        // After recipient 3's own failure report is due, so one notification covers all four.
        let result = try await s.operations.bounce(.envelopes([t.envelopeID]), now: now)
        #expect(result.changed == (0..<3).map { RecipientID(t.envelopeID, $0) })
        #expect(result.unchanged == [RecipientID(t.envelopeID, 3)])
        let recipients = try s.f.recipients(of: t.envelopeID)
        #expect(recipients.map(\.status) == [.failed, .failed, .failed, .failed])
        #expect(recipients[0].lastReply == DeliveryReply(code: 0, text: "5.0.0 bounced by the administrator"))
        #expect(recipients[0].nextTry == now.microsecondsSinceEpoch)
        #expect(s.f.deferredProblems() == [])

        let report = try await s.f.pass.run(now: now)
        #expect(report.sent.count == 1)
        let text = try #require(try s.f.notifications().first?.text)
        #expect(text.occurrences(of: "Final-Recipient:") == 4)
        #expect(text.contains("Final-Recipient: rfc822; a@example.com\r\nAction: failed\r\nStatus: 5.0.0\r\nDiagnostic-Code: smtp; 5.0.0 bounced by the administrator"))
        #expect(try s.f.transaction(t.envelopeID) == nil)
        #expect(!s.f.stores.content.contains(t.content.id))
    }

    @Test func nothingFoundCommitsNothingAndTellsNobody() async throws {
        let s = try Setup(seed: 26)
        defer { s.f.stores.close() }
        let result = try await s.operations.hold(.recipients([RecipientID(EnvelopeID(7), 0)]))
        #expect(result.changed.isEmpty)
        #expect(result.recipientsNotFound == [RecipientID(EnvelopeID(7), 0)])
        #expect(result.txid == nil)
        #expect(s.reported.results.withLock { $0 }.isEmpty)
    }

    @Test func statisticsCountEachQueueAndState() async throws {
        let s = try Setup(seed: 27)
        defer { s.f.stores.close() }
        let empty = try QueueStatistics.read(incomingLog: s.f.stores.log, deferredQueue: s.f.stores.deferred, now: BounceFixture.now)
        #expect(empty == QueueStatistics())
        _ = try await s.mixed()
        _ = try await s.mixed()
        let message = try s.f.receiver.begin(sender: "alice@example.net")
        try message.addRecipient("x@example.com")
        try message.addRecipient("y@example.com")
        try await message.appendBody(BounceFixture.message())
        let accepted = try await message.commit()
        try await s.f.stores.log.commit(.outcome(accepted.envelopeID, recipient: 0, .delivered, reply: "250 ok"))

        let statistics = try QueueStatistics.read(incomingLog: s.f.stores.log, deferredQueue: s.f.stores.deferred, now: BounceFixture.now)
        #expect(statistics.incomingOpenTransactions == 1)
        #expect(statistics.incomingPendingRecipients == 1)
        #expect(statistics.deferredEnvelopes == 2)
        #expect(statistics.deferredRecipients == 4)
        #expect(statistics.heldRecipients == 2)
        #expect(statistics.failedRecipients == 2)
        #expect(statistics.oldestArrivalMicros == QueueStores.t0)
        #expect(statistics.oldestAgeMicros == BounceFixture.now.microsecondsSinceEpoch - QueueStores.t0)
    }
}
