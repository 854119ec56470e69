import Testing
import SMXStore
import SMXTestSupport

/// ``DeferredQueueReader/transactions(after:limit:)``: every envelope once, in id order,
/// paged, from one committed state.
@Suite struct DeferredQueueTransactionsTests {
    @Test func pagesThroughEveryEnvelopeInIDOrder() async throws {
        let (_, queue) = try DeferredQueueTests.open()
        defer { queue.close() }
        let ids: [UInt64] = [7, 3, 250, 1, 42, 99, 5]
        for id in ids {
            try await queue.apply(.add(DeferredQueueTests.envelope(id), [DeferredQueueTests.recipient(id, 0)]))
        }
        let reader = try queue.reader()
        defer { reader.close() }
        #expect(try reader.transactions().map(\.envelopeID.rawValue) == ids.sorted())
        var paged: [UInt64] = []
        var after: EnvelopeID?
        while true {
            let page = try reader.transactions(after: after, limit: 3)
            paged += page.map(\.envelopeID.rawValue)
            guard page.count == 3, let last = page.last else { break }
            after = last.envelopeID
        }
        #expect(paged == ids.sorted())
        #expect(try reader.transactions(after: EnvelopeID(250)).isEmpty)
        #expect(try reader.transactions(after: EnvelopeID(.max)).isEmpty)
        #expect(try reader.transactions(limit: 0).isEmpty)
        #expect(try reader.transactions(after: EnvelopeID(5), limit: 2).map(\.envelopeID.rawValue) == [7, 42])
        #expect(try reader.transactions(after: EnvelopeID(1)).first == reader.transaction(EnvelopeID(3)))
    }

    @Test func aReaderSeesItsOwnCommitOnly() async throws {
        let (_, queue) = try DeferredQueueTests.open()
        defer { queue.close() }
        try await queue.apply(.add(DeferredQueueTests.envelope(1), [DeferredQueueTests.recipient(1, 0)]))
        let reader = try queue.reader()
        defer { reader.close() }
        try await queue.apply(.add(DeferredQueueTests.envelope(2), [DeferredQueueTests.recipient(2, 0)]))
        try await queue.apply(.deleteEnvelope(EnvelopeID(1)))
        #expect(try reader.transactions().map(\.envelopeID.rawValue) == [1])
        let fresh = try queue.reader()
        defer { fresh.close() }
        #expect(try fresh.transactions().map(\.envelopeID.rawValue) == [2])
    }
}
