import Testing
import SMXStore
import SMXTestSupport

@Suite struct LogRecordTests {
    @Test func everyRecordKindRoundTrips() throws {
        var rng = SplitMix64(seed: 11)
        for i in 0..<500 {
            let t = TransactionGenerator.transaction(id: EnvelopeID(UInt64(i)), rng: &rng, maxRecipients: 8)
            var carried = t
            carried.recipients[0].state = .delivered
            let records: [LogRecord] = [
                .transaction(t),
                .carriedForward(carried),
                .outcome(t.envelopeID, recipient: rng.below(8), .movedToDeferred, reply: "451 4.3.0 try later ✉"),
                .closed(t.envelopeID, .completed),
                .seal,
            ]
            for record in records {
                let payload = record.encodePayload()
                #expect(try LogRecord.decode(type: record.type.rawValue, payload: payload) == record)
            }
        }
    }

    @Test func everyTruncationOfAPayloadIsACorruptionError() {
        var rng = SplitMix64(seed: 12)
        let t = TransactionGenerator.transaction(id: EnvelopeID(5), rng: &rng)
        let payload = LogRecord.transaction(t).encodePayload()
        for cut in 0..<payload.count {
            #expect(throws: StoreError.self) {
                try LogRecord.decode(type: LogRecordType.transaction.rawValue, payload: Array(payload.prefix(cut)))
            }
        }
        #expect(throws: StoreError.self) {
            try LogRecord.decode(type: LogRecordType.transaction.rawValue, payload: payload + [0])
        }
    }

    @Test func garbageNeverTraps() {
        var rng = SplitMix64(seed: 13)
        for _ in 0..<5000 {
            let type = UInt8(rng.below(8))
            var bytes = rng.bytes(rng.below(120))
            if !bytes.isEmpty && rng.coin() { bytes[0] = 1 }
            _ = try? LogRecord.decode(type: type, payload: bytes)
        }
    }
}
