import Testing
import SMXStore
import SMXTestSupport

/// The deferred queue's operations one at a time: what each change does to records,
/// indexes and counters, argument checks, reads, and the next-try source.
@Suite struct DeferredQueueTests {
    static let t0: UInt64 = 1_700_000_000_000_000

    static func open() throws -> (SimulatedFileSystem, DeferredQueue) {
        let fs = SimulatedFileSystem()
        return (fs, try DeferredQueue.open(fileSystem: fs, queue: "/q", queueID: DeferredQueueModelTests.queueID))
    }

    static func envelope(_ id: UInt64, recipients: UInt32 = 3) -> DeferredTransaction {
        DeferredTransaction(
            envelopeID: EnvelopeID(id), sender: "s@example.org",
            content: ContentReference(id: ContentID(100 + id), size: 10, checksum: 1),
            arrivalMicros: t0, recipientCount: recipients
        )
    }

    static func recipient(_ envelope: UInt64, _ index: UInt32, _ destination: String = "a.example", next: UInt64? = t0 + 60_000_000) -> DeferredRecipient {
        DeferredRecipient(
            id: RecipientID(EnvelopeID(envelope), index), address: "r\(index)@\(destination)",
            destination: destination, status: next == nil ? .held : .deferred, nextTry: next
        )
    }

    @Test func addRescheduleAndRemoveKeepIndexesAndCounters() async throws {
        let (_, queue) = try Self.open()
        defer { queue.close() }
        let result = try await queue.apply(.add(Self.envelope(1), [Self.recipient(1, 0), Self.recipient(1, 2, "b.example")]))
        #expect(result.recipients == 2)
        var reader = try queue.reader()
        #expect(try reader.transaction(EnvelopeID(1))?.deferred == 2)
        #expect(try reader.keys(from: .min, limit: 10).count == 2)
        #expect(try reader.recipients(destination: "b.example") == [RecipientID(EnvelopeID(1), 2)])
        reader.close()

        let attempt = DeliveryAttempt(atMicros: Self.t0 + 1, reply: DeliveryReply(code: 451, text: "later"), outcome: .retry(nextTry: Self.t0 + 900_000_000))
        try await queue.apply(.recordAttempt(RecipientID(EnvelopeID(1), 0), attempt))
        reader = try queue.reader()
        let rescheduled = try #require(try reader.recipient(RecipientID(EnvelopeID(1), 0)))
        #expect(rescheduled.attempts == 1 && rescheduled.firstFailureMicros == Self.t0 + 1 && rescheduled.lastReply?.code == 451)
        #expect(try reader.keys(from: .min, limit: 10).map(\.nextTry) == [Self.t0 + 60_000_000, Self.t0 + 900_000_000])
        #expect(try reader.due(now: Self.t0 + 60_000_000, limit: 10).map(\.id) == [RecipientID(EnvelopeID(1), 2)])
        reader.close()
        #expect(queue.verify().isClean)

        let first = try await queue.apply(.remove(RecipientID(EnvelopeID(1), 0), .delivered))
        #expect(first == DeferredQueueChangeResult(recipients: 1))
        let last = try await queue.apply(.remove(RecipientID(EnvelopeID(1), 2), .bounced))
        #expect(last.releasedContent == ContentReference(id: ContentID(101), size: 10, checksum: 1))
        reader = try queue.reader()
        #expect(try reader.counts() == DeferredQueueCounts(transactions: 0, recipients: 0, scheduled: 0, held: 0))
        reader.close()
        #expect(queue.verify().isClean)
    }

    @Test func holdReleaseAndRequeueByDestination() async throws {
        let (_, queue) = try Self.open()
        defer { queue.close() }
        try await queue.apply([
            .add(Self.envelope(1), [Self.recipient(1, 0, "a.example"), Self.recipient(1, 1, "b.example")]),
            .add(Self.envelope(2), [Self.recipient(2, 0, "a.example"), Self.recipient(2, 1, "a.example", next: nil)]),
        ])
        #expect(try await queue.apply(.hold(.destination("a.example"))).recipients == 2)
        var reader = try queue.reader()
        #expect(try reader.held().count == 3)
        #expect(try reader.keys(from: .min, limit: 10).count == 1)
        #expect(try reader.transaction(EnvelopeID(2))?.held == 2)
        reader.close()
        #expect(try await queue.apply(.release(.envelope(EnvelopeID(2)), nextTry: Self.t0)).recipients == 2)
        #expect(try await queue.apply(.requeue(.destination("b.example"), nextTry: Self.t0)).recipients == 1)
        reader = try queue.reader()
        #expect(try reader.held() == [RecipientID(EnvelopeID(1), 0)])
        #expect(try reader.due(now: Self.t0, limit: 10).count == 3)
        reader.close()
        #expect(queue.verify().isClean)
        // A replayed add leaves what is queued alone.
        #expect(try await queue.apply(.add(Self.envelope(1), [Self.recipient(1, 0)])).recipients == 0)
        let deleted = try await queue.apply(.deleteEnvelope(EnvelopeID(1)))
        #expect(deleted.recipients == 2 && deleted.releasedContent?.id == ContentID(101))
        #expect(queue.verify().isClean)
        // The queue is a next-try source.
        #expect(try queue.keys(from: .min, limit: 5).count == 2)
    }

    @Test func badArgumentsAreRefusedBeforeAnythingIsQueued() async throws {
        let (_, queue) = try Self.open()
        defer { queue.close() }
        let bad: [DeferredQueueChange] = [
            .add(Self.envelope(1), []),
            .add(Self.envelope(1), [Self.recipient(2, 0)]),
            .add(Self.envelope(1, recipients: 1), [Self.recipient(1, 1)]),
            .add(Self.envelope(1), [Self.recipient(1, 0), Self.recipient(1, 0)]),
            .add(Self.envelope(1), [Self.recipient(1, 0, "UPPER.example")]),
            .hold(.destination("")),
            .recordAttempt(RecipientID(EnvelopeID(1), 0), DeliveryAttempt(atMicros: 0, reply: DeliveryReply(code: 99, text: ""), outcome: .retry(nextTry: 0))),
        ]
        for change in bad {
            await #expect(throws: StoreError.self) { try await queue.apply([.add(Self.envelope(9), [Self.recipient(9, 0)]), change]) }
        }
        let reader = try queue.reader()
        #expect(try reader.counts().transactions == 0)
        reader.close()
    }

    @Test func nextTryCacheRefillsFromTheQueue() async throws {
        let (_, queue) = try Self.open()
        defer { queue.close() }
        var changes: [DeferredQueueChange] = []
        for e in UInt64(1)...40 {
            changes.append(.add(Self.envelope(e, recipients: 2), [Self.recipient(e, 0, next: Self.t0 + e * 1000), Self.recipient(e, 1, next: Self.t0 + (41 - e) * 1000)]))
        }
        try await queue.apply(changes)
        let cache = NextTryCache(capacity: 7)
        var popped: [NextTryKey] = []
        while true {
            let batch = try cache.popDue(now: .max, limit: 5, refillFrom: queue)
            if batch.isEmpty { break }
            popped += batch
        }
        let reader = try queue.reader()
        #expect(popped == (try reader.keys(from: .min, limit: 1000)))
        reader.close()
        #expect(popped.count == 80)
    }
}
