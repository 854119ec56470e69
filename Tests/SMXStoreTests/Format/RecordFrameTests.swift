import Testing
import SMXStore
import SMXTestSupport

@Suite struct RecordFrameTests {
    private func frame(_ payload: [UInt8], seq: UInt64 = 7, seed: UInt64 = 42, flags: UInt8 = 0) -> [UInt8] {
        var buffer: [UInt8] = []
        RecordFrame.append(to: &buffer, type: 3, flags: flags, sequence: seq, payload: payload, seed: seed)
        return buffer
    }

    private func decode(_ bytes: [UInt8], seed: UInt64 = 42) -> RecordFrame.Decoded {
        bytes.withUnsafeBytes { RecordFrame.decode($0, at: 0, seed: seed) }
    }

    @Test func roundTripsAndPadsToEightBytes() {
        for length in [0, 1, 7, 8, 9, 300, 4096] {
            let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 31) }
            let bytes = frame(payload, flags: RecordFrame.flagBatchEnd)
            #expect(bytes.count % 8 == 0)
            #expect(bytes.count == RecordFrame.size(payloadCount: length))
            guard case .record(let h) = decode(bytes) else {
                Issue.record("length \(length) did not decode")
                continue
            }
            #expect(h.type == 3 && h.sequence == 7 && h.length == length && h.isBatchEnd)
            #expect(Array(bytes[h.payloadOffset..<(h.payloadOffset + h.length)]) == payload)
            #expect(h.nextOffset == bytes.count)
        }
    }

    @Test func everySingleBitFlipIsDetected() {
        let bytes = frame(Array("a transaction record".utf8))
        for bit in 0..<(bytes.count * 8) {
            var damaged = bytes
            damaged[bit / 8] ^= 1 << UInt8(bit % 8)
            let decoded = decode(damaged)
            if case .record(let h) = decoded {
                // Only a flip in the zero padding after the payload leaves the frame valid.
                #expect(bit / 8 >= 24 + h.length, "flip at bit \(bit) went unnoticed")
            }
        }
    }

    @Test func aRecordFromAnotherSegmentLifeDoesNotVerify() {
        let bytes = frame([1, 2, 3], seed: 5)
        #expect(decode(bytes, seed: 6) == .damaged(.checksumMismatch))
        #expect(decode(bytes, seed: 5) != .damaged(.checksumMismatch))
    }

    @Test func zerosTruncationAndBadLengths() {
        #expect(decode([UInt8](repeating: 0, count: 64)) == .zeros)
        #expect(decode([UInt8](repeating: 0, count: 10)) == .damaged(.truncated))
        let bytes = frame([UInt8](repeating: 9, count: 100))
        #expect(decode(Array(bytes.prefix(60))) == .damaged(.truncated))
        var huge = bytes
        huge[8] = 0xFF; huge[9] = 0xFF; huge[10] = 0xFF; huge[11] = 0x7F
        #expect(decode(huge) == .damaged(.badLength(0x7FFF_FFFF)))
        var reserved = bytes
        reserved[14] = 1
        #expect(decode(reserved) == .damaged(.badHeader))
    }

    @Test func fileHeaderRoundTripsAndRejectsDamage() throws {
        let header = FileHeader(
            kind: .incomingLogSegment, queueID: QueueID(bytes: Array(0..<16)),
            segmentNumber: 99, baseSequence: 1234, createdMicros: 555
        )
        let bytes = header.encode()
        #expect(bytes.count == FormatConstants.fileHeaderSize)
        #expect(try FileHeader.decode(bytes) == header)
        for i in 0..<bytes.count {
            var damaged = bytes
            damaged[i] ^= 0x10
            #expect(throws: StoreError.self) { try FileHeader.decode(damaged) }
        }
        #expect(throws: StoreError.self) { try FileHeader.decode(Array(bytes.prefix(63))) }
    }

    @Test func varintsAndTheReaderBounds() throws {
        var w = ByteWriter()
        let values: [UInt64] = [0, 1, 127, 128, 300, 1 << 35, UInt64.max]
        for v in values { w.varint(v) }
        var r = ByteReader(w.bytes, context: "test")
        for v in values { #expect(try r.varint() == v) }
        try r.expectEnd()
        var overlong = ByteReader([UInt8](repeating: 0xFF, count: 11), context: "test")
        #expect(throws: StoreError.self) { try overlong.varint() }
        var tooBig = ByteReader([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02], context: "test")
        #expect(throws: StoreError.self) { try tooBig.varint() }
        var short = ByteReader([5, 1, 2], context: "test")
        #expect(throws: StoreError.self) { try short.lengthPrefixed("x") }
    }

    @Test func identifiersPrintFixedWidthAndParseBack() {
        var rng = SplitMix64(seed: 3)
        for _ in 0..<1000 {
            let id = EnvelopeID(rng.next())
            #expect(id.description.count == 13)
            #expect(EnvelopeID(id.description) == id)
            #expect(EnvelopeID(id.description.lowercased()) == id)
        }
        #expect(EnvelopeID(0).description == "0000000000000")
        #expect(EnvelopeID("ZZZZZZZZZZZZZ") == nil)
        #expect(EnvelopeID("00000000000I0") == nil)
        #expect(EnvelopeID(1) < EnvelopeID(2) && EnvelopeID(1).description < EnvelopeID(2).description)
    }
}
