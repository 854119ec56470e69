import Testing
import SMXStore
import SMXTestSupport

@Suite struct SegmentScannerTests {
    /// A segment body (after the header): records with the given sequences, then zeros.
    private func body(_ sequences: [UInt64], seed: UInt64 = 9, total: Int = 4096, rng: inout SplitMix64) -> [UInt8] {
        var bytes: [UInt8] = []
        for (i, s) in sequences.enumerated() {
            RecordFrame.append(
                to: &bytes, type: 1, flags: i == sequences.count - 1 ? RecordFrame.flagBatchEnd : 0,
                sequence: s, payload: rng.bytes(rng.below(200)), seed: seed
            )
        }
        bytes += [UInt8](repeating: 0, count: total - 64 - bytes.count)
        return bytes
    }

    private func scanAll(_ bytes: [UInt8], seed: UInt64 = 9, chunk: Int? = nil, rng: inout SplitMix64) -> [SegmentScanner.Event] {
        var scanner = SegmentScanner(seed: seed, totalSize: 64 + bytes.count)
        var events: [SegmentScanner.Event] = []
        var i = 0
        while i < bytes.count {
            let n = chunk ?? (1 + rng.below(100))
            events += scanner.feed(bytes[i..<min(bytes.count, i + n)])
            i += n
        }
        return events + scanner.finish()
    }

    private func records(_ events: [SegmentScanner.Event]) -> [UInt64] {
        events.compactMap { if case .record(_, let h, _) = $0 { h.sequence } else { nil } }
    }

    private func gaps(_ events: [SegmentScanner.Event]) -> [SegmentScanner.Gap] {
        events.compactMap { if case .gap(let g) = $0 { g } else { nil } }
    }

    @Test func cleanSegmentIsRecordsThenOneZeroGap() {
        var rng = SplitMix64(seed: 1)
        let bytes = body(Array(1...10), rng: &rng)
        let events = scanAll(bytes, chunk: bytes.count, rng: &rng)
        #expect(records(events) == Array(1...10))
        let g = gaps(events)
        #expect(g.count == 1 && g[0].allZeros && g[0].end == 4096 && g[0].problem == nil)
    }

    @Test func oneByteAtATimeAndRandomChunksGiveTheSameEvents() {
        var rng = SplitMix64(seed: 2)
        for round in 0..<40 {
            var bytes = body(Array(1...UInt64(1 + rng.below(15))), rng: &rng)
            // Damage a few bytes somewhere, sometimes.
            if round % 2 == 1 {
                for _ in 0..<(1 + rng.below(3)) { bytes[rng.below(bytes.count / 2)] ^= UInt8(1 + rng.below(255)) }
            }
            let whole = scanAll(bytes, chunk: bytes.count, rng: &rng)
            #expect(scanAll(bytes, chunk: 1, rng: &rng) == whole, "round \(round), one byte at a time")
            #expect(scanAll(bytes, rng: &rng) == whole, "round \(round), random chunks")
            #expect(scanAll(bytes, chunk: 7, rng: &rng) == whole, "round \(round), odd chunks")
        }
    }

    @Test func damageInTheMiddleIsSteppedOverAndResynchronised() {
        var rng = SplitMix64(seed: 4)
        var bytes = body(Array(1...20), rng: &rng)
        let before = scanAll(bytes, chunk: bytes.count, rng: &rng)
        guard case .record(let offset, let h, _) = before[5] else { Issue.record("no record"); return }
        bytes[offset - 64 + 24] ^= 0xFF     // first payload byte of record 6 (or its padding)
        if h.length == 0 { bytes[offset - 64 + 9] ^= 0xFF }
        let events = scanAll(bytes, chunk: bytes.count, rng: &rng)
        var expected = Array(UInt64(1)...20)
        expected.remove(at: 5)
        #expect(records(events) == expected)
        let g = gaps(events)
        #expect(g.count == 2)
        #expect(g[0].start == offset && !g[0].allZeros && g[0].problem != nil)
    }

    @Test func staleFramesOfAnotherSeedNeverVerify() {
        var rng = SplitMix64(seed: 5)
        var bytes = body(Array(1...30), seed: 100, rng: &rng)
        // The segment's new life (seed 200) overwrites the start; stale frames stay behind.
        var fresh: [UInt8] = []
        for s in UInt64(31)...33 {
            RecordFrame.append(to: &fresh, type: 1, flags: 0, sequence: s, payload: rng.bytes(50), seed: 200)
        }
        bytes.replaceSubrange(0..<fresh.count, with: fresh)
        let events = scanAll(bytes, seed: 200, chunk: bytes.count, rng: &rng)
        #expect(records(events) == [31, 32, 33])
        #expect(gaps(events).count == 1 && !gaps(events)[0].allZeros)
    }

    @Test func forgedHeadersCannotMakeResynchronisationQuadratic() {
        // One 8-byte word repeated: read at any aligned offset it is a plausible header
        // (length 1 MiB, type 1, flags and reserved 0, a sequence above any seen) whose
        // checksum fails only after hashing the claimed megabyte. Without a budget the scan
        // would hash some 130 GB for these 2 MiB.
        let size = 2 << 20
        let claimed = UInt32((1 << 20) - 24)
        let word = withUnsafeBytes(of: claimed.littleEndian, Array.init) + [1, 0, 0, 0]
        let bytes = (0..<(size / 8)).flatMap { _ in word }
        let clock = ContinuousClock()
        var scanner = SegmentScanner(seed: 1, startOffset: 0, totalSize: size)
        var events: [SegmentScanner.Event] = []
        let elapsed = clock.measure {
            events = scanner.feed(bytes) + scanner.finish()
        }
        #expect(events.count == 1)
        #expect(elapsed < .seconds(10), "resynchronising over 2 MiB of forged headers took \(elapsed)")
    }

    @Test func arbitraryBytesNeverTrap() {
        var rng = SplitMix64(seed: 6)
        for _ in 0..<300 {
            let bytes = rng.bytes(rng.below(600))
            var scanner = SegmentScanner(seed: rng.next() % 4, startOffset: 0, totalSize: rng.coin() ? nil : bytes.count)
            _ = scanner.feed(bytes)
            _ = scanner.finish()
            _ = InspectedSegment.parse(bytes, path: "fuzz")
        }
    }
}
