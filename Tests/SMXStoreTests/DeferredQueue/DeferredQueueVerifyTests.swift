import Testing
import SMXStore
import SMXTestSupport

/// `DeferredQueue.verify()` finds each kind of schema damage and names the key; a change
/// that meets a damaged record fails its whole commit and writes nothing.
@Suite struct DeferredQueueVerifyTests {
    typealias Schema = DeferredQueueSchema

    /// A queue with two envelopes (one with a held recipient), damaged by `damage` through
    /// the B+tree file directly; returns verify()'s problems.
    static func problems(after damage: @escaping @Sendable (WriteTransaction) throws -> Void) async throws -> [String] {
        let (_, queue) = try DeferredQueueTests.open()
        defer { queue.close() }
        try await queue.apply([
            .add(DeferredQueueTests.envelope(1), [DeferredQueueTests.recipient(1, 0), DeferredQueueTests.recipient(1, 1, "b.example")]),
            .add(DeferredQueueTests.envelope(2), [DeferredQueueTests.recipient(2, 0, next: nil)]),
        ])
        #expect(queue.verify().isClean)
        try queue.file.write(damage)
        let verification = queue.verify()
        #expect(verification.file.isClean)
        return verification.problems
    }

    static let r10 = RecipientID(EnvelopeID(1), 0)
    static let r20 = RecipientID(EnvelopeID(2), 0)

    @Test func missingAndOrphanedIndexEntriesAreNamed() async throws {
        let key = try #require(DeferredQueueTests.recipient(1, 0).nextTryKey)
        var problems = try await Self.problems { txn in
            try txn.delete(Schema.nextTryKey(key), in: Schema.nextTry)
        }
        #expect(problems.count == 1 && problems[0].contains("\(key)") && problems[0].contains("missing"), "\(problems)")

        problems = try await Self.problems { txn in
            try txn.put(Schema.nextTryKey(NextTryKey(nextTry: 5, envelopeID: EnvelopeID(1), recipient: 0)), [], in: Schema.nextTry)
        }
        #expect(problems.count == 1 && problems[0].contains("orphaned"), "\(problems)")

        problems = try await Self.problems { txn in
            try txn.delete(Schema.destinationKey("b.example", RecipientID(EnvelopeID(1), 1)), in: Schema.destinations)
            try txn.put(Schema.destinationKey("c.example", RecipientID(EnvelopeID(1), 1)), [], in: Schema.destinations)
        }
        #expect(problems.count == 2 && problems.contains { $0.contains("c.example") && $0.contains("orphaned") }, "\(problems)")

        problems = try await Self.problems { txn in
            try txn.delete(Schema.holdKey(Self.r20), in: Schema.hold)
            try txn.put(Schema.holdKey(Self.r10), [], in: Schema.hold)
        }
        #expect(problems.count == 2 && problems.contains { $0.contains("\(Self.r20)") && $0.contains("missing") }, "\(problems)")

        problems = try await Self.problems { txn in
            try txn.put([1, 2, 3], [], in: Schema.hold)
            try txn.put(Schema.holdKey(Self.r20), [7], in: Schema.hold)
        }
        #expect(problems.count == 2 && problems.contains { $0.contains("wrong layout") } && problems.contains { $0.contains("1-byte value") }, "\(problems)")
    }

    @Test func recordDamageAndCounterDriftAreNamed() async throws {
        var problems = try await Self.problems { txn in
            try txn.put(Schema.recipientKey(Self.r10), [1, 9, 9], in: Schema.recipients)
        }
        #expect(problems.contains { $0.contains("recipient \(Self.r10)") }, "\(problems)")

        problems = try await Self.problems { txn in
            var t = try DeferredTransaction.decode(try #require(try txn.get(Schema.transactionKey(EnvelopeID(1)), in: Schema.transactions)))
            t.deferred += 1
            try txn.put(Schema.transactionKey(EnvelopeID(1)), t.encode(), in: Schema.transactions)
        }
        #expect(problems.count == 1 && problems[0].contains("transaction \(EnvelopeID(1))") && problems[0].contains("counters"), "\(problems)")

        problems = try await Self.problems { txn in
            try txn.delete(Schema.transactionKey(EnvelopeID(2)), in: Schema.transactions)
        }
        #expect(problems.count == 1 && problems[0].contains("does not exist"), "\(problems)")

        problems = try await Self.problems { txn in
            var r = try DeferredRecipient.decode(try #require(try txn.get(Schema.recipientKey(Self.r20), in: Schema.recipients)))
            r.id = RecipientID(EnvelopeID(2), 1)
            try txn.put(Schema.recipientKey(Self.r20), r.encode(), in: Schema.recipients)
        }
        #expect(problems.contains { $0.contains("names recipient") }, "\(problems)")
    }

    @Test func aChangeMeetingDamageFailsItsCommitAndWritesNothing() async throws {
        let (_, queue) = try DeferredQueueTests.open()
        defer { queue.close() }
        try await queue.apply(.add(DeferredQueueTests.envelope(1), [DeferredQueueTests.recipient(1, 0), DeferredQueueTests.recipient(1, 1)]))
        try queue.file.write { txn in try txn.put(Schema.recipientKey(Self.r10), [1], in: Schema.recipients) }
        let before = queue.file.committedTransaction
        do {
            try await queue.apply([.remove(RecipientID(EnvelopeID(1), 1), .delivered), .hold(.envelope(EnvelopeID(1)))])
            Issue.record("a change over a damaged record succeeded")
        } catch let error as StoreError {
            #expect(error.code == .corrupted && error.message.contains("\(Self.r10)"), "\(error)")
        }
        #expect(queue.file.committedTransaction == before)
        let reader = try queue.reader()
        #expect(try reader.recipient(RecipientID(EnvelopeID(1), 1)) != nil)
        reader.close()
    }
}
