import Testing
import SMXStore
import SMXTestSupport

@Suite struct SegmentHintTests {
    private let queueID = FuzzSeeds.queueID

    private func decode(_ bytes: [UInt8]) throws -> SegmentHint {
        try SegmentHint.decode(bytes, queueID: queueID, path: "segment-0001.hint")
    }

    private func isRejected(_ bytes: [UInt8]) -> Bool {
        do {
            _ = try decode(bytes)
            return false
        } catch let error as StoreError {
            return error.code == .corrupted || error.code == .unsupportedVersion
        } catch {
            return false
        }
    }

    @Test(arguments: FuzzSeeds.sampleHints().map(\.name))
    func roundTrips(name: String) throws {
        let bytes = try #require(FuzzSeeds.sampleHints().first { $0.name == name }).bytes
        let hint = try decode(bytes)
        #expect(bytes.count == 64 + 32 + 48 * hint.entries.count)
        #expect(hint.encode(queueID: queueID, createdMicros: 1_700_000_000_000_000) == bytes)
        #expect(try decode(hint.encode(queueID: queueID, createdMicros: 5)) == hint)
    }

    @Test func theHintOfASegmentMatchesItsScan() throws {
        let segment = BlobAssembler.segment(
            number: 12,
            blobs: [
                BlobAssembler.encode(BlobAssembler.text(40), contentID: ContentID(1), commitBatch: 1, seed: 12),
                BlobAssembler.encode(BlobAssembler.text(9000), contentID: ContentID(2), chunkSize: 4096, commitBatch: 2, seed: 12),
            ],
            sealBatch: 3
        )
        let scan = segment.bytes.withUnsafeBytes { ContentSegmentScan.scan($0, seed: 12, verifyChunks: true) }
        let entries = scan.blobs.map { b in
            (b.header.contentID.rawValue, UInt64(b.offset), b.header.rawLength, b.header.storedLength, b.header.bodyChecksum, b.header.commitBatch)
        }
        let bytes = FuzzSeeds.hintBytes(segment: 12, sealOffset: UInt64(scan.sealOffset ?? 0), sealBatch: scan.sealBatch ?? 0, entries: entries)
        let hint = try decode(bytes)
        #expect(hint.segmentNumber == 12 && hint.sealOffset == UInt64(segment.bytes.count - 64) && hint.sealBatch == 3)
        #expect(hint.entries.map(\.offset) == segment.offsets.map(UInt64.init))
        #expect(hint.entries.map(\.contentID) == [ContentID(1), ContentID(2)])
    }

    @Test(arguments: FuzzSeeds.sampleHints().map(\.name))
    func everySingleByteMutationIsRejected(name: String) throws {
        let bytes = try #require(FuzzSeeds.sampleHints().first { $0.name == name }).bytes
        for i in bytes.indices {
            for flip: UInt8 in [0x01, 0x80] {
                var damaged = bytes
                damaged[i] ^= flip
                #expect(isRejected(damaged), "byte \(i) ^ \(flip) accepted")
            }
        }
        for cut in 0..<bytes.count { #expect(isRejected(Array(bytes.prefix(cut))), "cut at \(cut)") }
        #expect(isRejected(bytes + [0, 0, 0, 0, 0, 0, 0, 0]))
        #expect(throws: StoreError.self) { try SegmentHint.decode(bytes, queueID: QueueID(bytes: Array(repeating: 1, count: 16))) }
    }

    @Test func aSegmentIsNotAHint() {
        let segment = BlobAssembler.segment(number: 7, blobs: [], sealBatch: 1).bytes
        #expect(isRejected(segment))
    }

    /// Entries that cannot describe a segment, with valid checksums: rejected, never a trap.
    @Test func entriesOutOfPlaceAreRejected() {
        typealias E = FuzzSeeds.HintEntry
        func hint(seal: UInt64 = 1 << 20, _ entries: [E]) -> [UInt8] {
            FuzzSeeds.hintBytes(segment: 3, sealOffset: seal, sealBatch: 1, entries: entries)
        }
        let good: E = (1, 64, 10, 64, 0, 1)
        #expect(!isRejected(hint([good])))
        #expect(isRejected(hint([(0, 64, 10, 64, 0, 1)])))                       // content id 0
        #expect(isRejected(hint([(1, 56, 10, 64, 0, 1)])))                       // inside the file header
        #expect(isRejected(hint([(1, 68, 10, 64, 0, 1)])))                       // unaligned
        #expect(isRejected(hint([(1, 64, 10, 60, 0, 1)])))                       // unaligned length
        #expect(isRejected(hint([good, (2, 128, 10, 64, 0, 1)])))                // overlaps the first
        #expect(isRejected(hint([(2, 256, 10, 64, 0, 1), good])))                // out of order
        #expect(isRejected(hint(seal: 128, [good])))                             // past the seal
        #expect(isRejected(hint(seal: 196, [good])))                             // seal unaligned
        #expect(isRejected(hint(seal: 1 << 40, [good])))                         // seal too far
        #expect(isRejected(hint([(1, 64, 10, UInt64(Int32.max) + 1, 0, 1)])))    // stored length too large
        #expect(isRejected(hint([(1, UInt64.max - 7, 10, 64, 0, 1)])))           // offset near 2^64 (was a trap)
        #expect(isRejected(hint([(1, UInt64.max - 63, 10, 0, 0, 1)])))
        #expect(isRejected(hint(seal: .max - 7, [])))
    }

    @Test func fuzzRegressionsStayFixed() throws {
        for (target, seeds) in FuzzSeeds.all() where target == "FuzzSegmentHint" {
            for seed in seeds { FuzzHarness.segmentHint(seed.bytes) }
        }
    }
}
