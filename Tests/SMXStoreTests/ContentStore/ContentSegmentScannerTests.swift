import Testing
import SMXStore
import SMXTestSupport

@Suite struct ContentSegmentScannerTests {
    static let number: UInt64 = 21

    private func blob(_ id: UInt64, _ body: [UInt8], chunkSize: Int = 4096, seed: UInt64 = number) -> [UInt8] {
        BlobAssembler.encode(body, contentID: ContentID(id), chunkSize: chunkSize, commitBatch: id, seed: seed)
    }

    private var blobs: [[UInt8]] {
        [blob(1, BlobAssembler.text(40)), blob(2, BlobAssembler.text(9000)), blob(3, []), blob(4, BlobAssembler.noise(700), chunkSize: 256)]
    }

    /// ``ContentSegmentScan/Damage`` has no public initialiser.
    private struct Span: Equatable {
        var start: Int
        var end: Int
        var problem: BlobProblem
    }

    private func spans(_ scan: ContentSegmentScan) -> [Span] {
        scan.damage.map { Span(start: $0.start, end: $0.end, problem: $0.problem) }
    }

    private func scan(_ bytes: [UInt8], verifyChunks: Bool = true) -> ContentSegmentScan {
        bytes.withUnsafeBytes { ContentSegmentScan.scan($0, seed: Self.number, verifyChunks: verifyChunks) }
    }

    @Test func blobsThenSeal() {
        let segment = BlobAssembler.segment(number: Self.number, blobs: blobs, sealBatch: 4)
        let result = scan(segment.bytes)
        #expect(result.blobs.map(\.offset) == segment.offsets)
        #expect(result.blobs.map(\.header.contentID.rawValue) == [1, 2, 3, 4])
        #expect(result.blobs.allSatisfy { $0.problem == nil })
        #expect(result.damage.isEmpty)
        #expect(result.sealOffset == segment.bytes.count - 64 && result.sealBatch == 4)
        #expect(result.dataEnd == segment.bytes.count)
        #expect(scan(segment.bytes, verifyChunks: false) == result)
        // Nothing after the seal is read.
        let trailing = segment.bytes + blob(5, BlobAssembler.text(100)) + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        #expect(scan(trailing) == result)
    }

    @Test func damageInTheMiddleIsReportedAndTheScanResynchronises() {
        let segment = BlobAssembler.segment(number: Self.number, blobs: blobs, sealBatch: 4)
        let offsets = segment.offsets
        for (byte, problem) in [(0, BlobProblem.badMagic), (17, .headerChecksumMismatch), (60, .headerChecksumMismatch)] {
            var damaged = segment.bytes
            damaged[offsets[1] + byte] ^= 0x10
            let result = scan(damaged)
            #expect(result.blobs.map(\.offset) == [offsets[0], offsets[2], offsets[3]])
            #expect(spans(result) == [Span(start: offsets[1], end: offsets[2], problem: problem)])
            #expect(result.sealOffset == segment.bytes.count - 64)
        }
        // Junk that is not a multiple of 8 long between two blobs: the next aligned header is found.
        var junk = Array(segment.bytes[..<offsets[1]]) + [UInt8](repeating: 0xA5, count: 13)
        junk += [UInt8](repeating: 0, count: 3)
        let next = junk.count
        junk += Array(segment.bytes[offsets[1]...])
        // The rest was built at other offsets, but headers do not depend on their place.
        let result = scan(junk)
        #expect(spans(result) == [Span(start: offsets[1], end: next, problem: .badMagic)])
        #expect(result.blobs.count == 4 && result.blobs[1].offset == next)
    }

    @Test func damageInsideAChunkIsTheBlobsProblem() {
        let segment = BlobAssembler.segment(number: Self.number, blobs: blobs, sealBatch: 4)
        var damaged = segment.bytes
        // Blob 4: chunks of 256 raw noise bytes; chunk 1's payload.
        damaged[segment.offsets[3] + 64 + 280 + 24 + 5] ^= 0x01
        let checked = scan(damaged)
        #expect(checked.damage.isEmpty && checked.blobs.count == 4)
        #expect(checked.blobs[3].problem == .chunkChecksumMismatch(index: 1))
        #expect(scan(damaged, verifyChunks: false).blobs[3].problem == nil)
    }

    @Test func zerosAfterTheDataEndTheScanQuietly() {
        let segment = BlobAssembler.segment(number: Self.number, blobs: Array(blobs.prefix(2)), sealBatch: nil)
        let preallocated = segment.bytes + [UInt8](repeating: 0, count: 8192)
        let result = scan(preallocated)
        #expect(result.blobs.map(\.offset) == segment.offsets)
        #expect(result.damage.isEmpty && result.sealOffset == nil && result.sealBatch == nil)
        #expect(result.dataEnd == segment.bytes.count)
        // A fresh slot: header and zeros.
        let empty = scan(BlobAssembler.segment(number: Self.number, blobs: [], sealBatch: nil).bytes + [UInt8](repeating: 0, count: 4096))
        #expect(empty.blobs.isEmpty && empty.damage.isEmpty && empty.dataEnd == 1024)
        // Zeros and then a blob: the zeros are damage (a hole where a blob was).
        var hole = BlobAssembler.segment(number: Self.number, blobs: blobs, sealBatch: nil).bytes
        let offsets = BlobAssembler.segment(number: Self.number, blobs: blobs, sealBatch: nil).offsets
        for i in offsets[1]..<offsets[2] { hole[i] = 0 }
        #expect(spans(scan(hole)) == [Span(start: offsets[1], end: offsets[2], problem: .allZeros)])
    }

    @Test func aBlobOfAnotherSeedIsDamage() {
        let stale = blob(9, BlobAssembler.text(500), seed: Self.number - 1)
        let segment = BlobAssembler.segment(number: Self.number, blobs: [blobs[0], stale, blobs[1]], sealBatch: 7)
        let result = scan(segment.bytes)
        #expect(result.blobs.map(\.header.contentID.rawValue) == [1, 2])
        #expect(spans(result) == [Span(start: segment.offsets[1], end: segment.offsets[2], problem: .headerChecksumMismatch)])
        #expect(result.sealBatch == 7)
        // The whole segment of an earlier life: nothing but damage, no seal.
        let old = segment.bytes.withUnsafeBytes { ContentSegmentScan.scan($0, seed: Self.number + 1, verifyChunks: true) }
        #expect(old.blobs.isEmpty && old.sealOffset == nil && old.dataEnd == 1024)
        #expect(old.damage.map(\.start) == [1024] && old.damage[0].end == segment.bytes.count)
    }

    @Test func aTornLastBlobIsTruncatedDamage() {
        let segment = BlobAssembler.segment(number: Self.number, blobs: Array(blobs.prefix(3)), sealBatch: nil)
        let torn = Array(segment.bytes.prefix(segment.offsets[1] + 300))
        let result = scan(torn)
        #expect(result.blobs.map(\.offset) == [segment.offsets[0]])
        #expect(result.damage.count == 1 && result.damage.first?.start == segment.offsets[1] && result.damage.first?.problem == .truncated)
        // To the last non-zero byte, rounded up to 8 within the file.
        #expect(result.damage.first.map { $0.end > segment.offsets[1] + 64 && $0.end <= torn.count } == true)
        #expect(result.dataEnd == segment.offsets[1])
    }

    /// Every cut copy of a segment: no trap, the blobs before the cut, and the fuzz
    /// target's contracts.
    @Test func truncatedCopiesNeverTrap() {
        let segment = BlobAssembler.segment(
            number: Self.number, blobs: [blobs[0], blobs[2], blob(5, BlobAssembler.text(2000), chunkSize: 512)], sealBatch: 2
        )
        let full = scan(segment.bytes)
        for cut in 0...segment.bytes.count {
            let part = Array(segment.bytes.prefix(cut))
            let result = scan(part)
            let complete = full.blobs.filter { $0.offset + $0.header.extent <= cut }
            #expect(Array(result.blobs.prefix(complete.count)) == complete, "cut at \(cut)")
            #expect(result.dataEnd <= max(cut, 64))
            FuzzHarness.contentSegment(part)
        }
    }

    @Test func fuzzSeedsKeepTheContracts() {
        for (target, seeds) in FuzzSeeds.all() where target == "FuzzContentSegment" {
            for seed in seeds { FuzzHarness.contentSegment(seed.bytes) }
        }
    }
}
