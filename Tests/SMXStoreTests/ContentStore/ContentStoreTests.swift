import Synchronization
import Testing
import SMXStore
import SMXTestSupport

@Suite struct ContentStoreTests {
    static let queueID = QueueID(bytes: Array(repeating: 9, count: 16))

    /// Small segments and a small large-body threshold so tests roll over, seal, recycle
    /// and spill quickly.
    static func configuration(directory: String = "/q/cdb", prepareSegmentsAhead: Bool = true) -> ContentStore.Configuration {
        var c = ContentStore.Configuration(queueID: queueID, directory: directory)
        c.prepareSegmentsAhead = prepareSegmentsAhead
        c.segmentSize = 160 * 1024
        c.largeBodyThreshold = 48 * 1024
        c.chunkSize = 16 * 1024
        c.maxBatchBytes = 64 * 1024
        c.maxPendingBytes = 256 * 1024
        c.journalRewriteBytes = 4096
        c.automaticCompaction = false
        return c
    }

    static func body(_ n: Int, seed: UInt64) -> [UInt8] {
        MailBodyGenerator.body(size: n, seed: seed)
    }

    static func open(_ fs: any FileSystem, _ c: ContentStore.Configuration = configuration(),
                     reporter: CollectingCorruptionReporter? = nil) throws -> ContentStore {
        try ContentStore.open(fileSystem: fs, configuration: c, reporter: reporter)
    }

    @Test func bodiesOfEverySizeReadBackAfterReopen() async throws {
        let fs = SimulatedFileSystem()
        let store = try Self.open(fs)
        var stored: [(StoredContent, [UInt8])] = []
        for (i, size) in [0, 1, 100, 16 * 1024, 16 * 1024 + 1, 40_000, 48 * 1024, 48 * 1024 + 1, 200_000].enumerated() {
            let body = Self.body(size, seed: UInt64(i))
            let content = try await store.store(body)
            #expect(content.reference.size == UInt64(size))
            #expect(content.reference.checksum == Checksum.xxh3(body))
            #expect(content.isLargeFile == (size > 48 * 1024))
            stored.append((content, body))
        }
        try await store.waitDurable(stored.map(\.0))
        for (content, body) in stored {
            #expect(try store.read(content.id) == body)
        }
        #expect(store.verify().isClean)
        store.close()

        let reopened = try Self.open(fs.crash(mode: .dropAllUnsynced, seed: 3))
        defer { reopened.close() }
        #expect(reopened.recovery.corruption.isEmpty)
        #expect(reopened.recovery.liveBodies == stored.count)
        for (content, body) in stored {
            #expect(try reopened.read(content.id) == body)
            #expect(reopened.validate(content.reference) == .valid)
        }
        #expect(reopened.verify().isClean)
    }

    @Test func writerTakesAnyPieceSizesAndReadersGiveIdenticalBytes() async throws {
        let store = try Self.open(SimulatedFileSystem())
        defer { store.close() }
        let body = Self.body(150_000, seed: 11)
        var rng = SplitMix64(seed: 5)
        let writer = try store.makeWriter()
        var position = 0
        while position < body.count {
            let n = min(body.count - position, 1 + rng.below(9000))
            try await writer.append(body[position..<(position + n)])
            position += n
        }
        let content = try await writer.finish()
        try await store.waitDurable(content)
        for pieceSize in [1, 7, 4096, 16 * 1024, 16 * 1024 + 3, 1 << 20] {
            let reader = try store.openReader(content.id)
            var out: [UInt8] = []
            while true {
                let piece = try reader.read(maxCount: pieceSize)
                if piece.isEmpty { break }
                #expect(piece.count <= pieceSize)
                out += piece
            }
            reader.close()
            #expect(out == body, "piece size \(pieceSize)")
        }
        for range in [0..<1, 5..<70_000, 16_384..<32_768, 149_999..<150_000, 100_000..<200_000] as [Range<UInt64>] {
            let upper = min(range.upperBound, UInt64(body.count))
            #expect(try store.read(content.id, range: range) == Array(body[Int(range.lowerBound)..<Int(upper)]))
        }
    }

    @Test func textIsCompressedAndCompressedBodiesAreNot() async throws {
        let store = try Self.open(SimulatedFileSystem())
        defer { store.close() }
        let text = Self.body(40_000, seed: 1)
        let packed = try await store.store(text)
        #expect(packed.storedBytes < text.count / 2)
        var gzipLike: [UInt8] = [0x1F, 0x8B] + Array(repeating: 0x41, count: 30_000)
        gzipLike[100] = 1
        let raw = try await store.store(gzipLike)
        #expect(raw.storedBytes > gzipLike.count)
        let never = try await store.store(text, hint: .never)
        #expect(never.storedBytes > text.count)
        try await store.waitDurable([packed, raw, never])
        #expect(try store.read(raw.id) == gzipLike)
        #expect(try store.read(never.id) == text)
    }

    /// Chunks under `minimumCompressedChunk` are stored raw, and the threshold is the
    /// store's setting: a 1 KiB text body is raw by default, compressed with the threshold
    /// off, and reads back either way.
    @Test func smallBodiesStayRawUnlessTheThresholdIsLowered() async throws {
        let text = Self.body(1024, seed: 3)
        let framed = BlobFormat.headerSize + BlobFormat.chunkFrameSize(storedCount: text.count)
        let byDefault = try Self.open(SimulatedFileSystem())
        defer { byDefault.close() }
        let raw = try await byDefault.store(text)
        #expect(raw.storedBytes == framed)
        let justBelow = try await byDefault.store(Self.body(BlobEncoder.defaultMinimumCompressedChunk - 1, seed: 4))
        #expect(justBelow.storedBytes == BlobFormat.headerSize + BlobFormat.chunkFrameSize(storedCount: BlobEncoder.defaultMinimumCompressedChunk - 1))
        let atThreshold = try await byDefault.store(Self.body(BlobEncoder.defaultMinimumCompressedChunk, seed: 4))
        #expect(atThreshold.storedBytes < BlobEncoder.defaultMinimumCompressedChunk * 3 / 4)
        try await byDefault.waitDurable([raw, justBelow, atThreshold])
        #expect(try byDefault.read(raw.id) == text)

        var c = Self.configuration()
        c.minimumCompressedChunk = 0
        let everyChunk = try Self.open(SimulatedFileSystem(), c)
        defer { everyChunk.close() }
        let packed = try await everyChunk.store(text)
        #expect(packed.storedBytes < framed * 3 / 4)
        try await everyChunk.waitDurable([packed])
        #expect(try everyChunk.read(packed.id) == text)
    }

    /// `prepareSegmentsAhead`: when the store has no free slot for its next segment, a
    /// helper thread makes that file ahead of time, zero-filled past the header area, and
    /// the flusher moves into it without creating anything; one left unused is a free slot
    /// at the next open, not damage.
    @Test func theNextSegmentIsPreparedAheadZeroFilledAndTakenWhenNeeded() async throws {
        let fs = SimulatedFileSystem()
        let c = Self.configuration()
        let slot0 = Mutex<[SimulatedOperationKind]>([])
        fs.setOperationHook { op in if op.path == "/q/cdb/segment-0000.cdb" { slot0.withLock { $0.append(op.kind) } } }
        let store = try Self.open(fs)
        // Nothing is free at open: slot 0 is prepared at once, and really written (a
        // preallocated file reads as zeros too): created, allocated, its zeros (one write
        // of 159 KiB), synced.
        #expect(await eventually { store.statistics.segmentsPrepared == 1 })
        fs.setOperationHook(nil)
        #expect(slot0.withLock { $0 } == [.create, .allocate, .write, .fullSync])
        let prepared = try #require(fs.currentContents("/q/cdb/segment-0000.cdb"))
        #expect(prepared.count == c.segmentSize)
        #expect(prepared.allSatisfy { $0 == 0 })
        #expect(store.verify().isClean)

        // The first body takes it, and the preparer starts on the slot after.
        var stored: [(StoredContent, [UInt8])] = []
        func add(_ seed: UInt64) async throws {
            let body = Self.body(20_000, seed: seed)
            stored.append((try await store.store(body, hint: .never), body))
        }
        try await add(1)
        try await store.waitDurable(stored.map(\.0))
        #expect(await eventually { store.statistics.segmentsPrepared == 2 })
        #expect(store.verify().isClean)
        // Past the first segment (8 raw bodies of 20 KB fill 160 KiB): the store moves into
        // the prepared slot; every segment file was made by the preparer.
        for seed in UInt64(2)...12 { try await add(seed) }
        try await store.waitDurable(stored.map(\.0))
        #expect(await eventually { store.statistics.segmentsPrepared == 3 })
        let statistics = store.statistics
        #expect(statistics.segmentsCreated == statistics.segmentsPrepared)
        #expect(statistics.segmentPreparationFailures == 0)
        #expect(store.inspect().compactMap(\.segmentNumber).count >= 2)
        #expect(store.verify().isClean)
        store.close()

        let reporter = CollectingCorruptionReporter()
        let reopened = try Self.open(fs.crash(mode: .dropAllUnsynced, seed: 2), reporter: reporter)
        defer { reopened.close() }
        #expect(reopened.recovery.corruption.isEmpty)
        #expect(reporter.reports.isEmpty)
        #expect(reopened.recovery.freeSlots == 1)
        for (content, body) in stored { #expect(try reopened.read(content.id) == body) }
        // A free slot is there: nothing more is prepared.
        #expect(reopened.statistics.segmentsPrepared == 0)
        #expect(reopened.verify().isClean)
    }

    /// With `prepareSegmentsAhead` off the flusher creates every segment file when needed.
    @Test func withoutPreparationTheFlusherCreatesEachSegment() async throws {
        let fs = SimulatedFileSystem()
        let store = try Self.open(fs, Self.configuration(prepareSegmentsAhead: false))
        defer { store.close() }
        var stored: [StoredContent] = []
        for seed in UInt64(1)...12 { stored.append(try await store.store(Self.body(20_000, seed: seed), hint: .never)) }
        try await store.waitDurable(stored)
        let statistics = store.statistics
        #expect(statistics.segmentsPrepared == 0)
        #expect(statistics.segmentsCreated == 2)
        #expect(try fs.listDirectory("/q/cdb").filter { $0.hasSuffix(".cdb") }.sorted() == ["segment-0000.cdb", "segment-0001.cdb"])
        #expect(store.verify().isClean)
    }

    @Test func releasedBodiesGoAwayAndTheirSegmentsAreReused() async throws {
        let fs = SimulatedFileSystem()
        // Without the preparer: it counts a segment when it finishes, which may be after
        // `before` below, and would blur the count of segments made for the second round.
        let store = try Self.open(fs, Self.configuration(prepareSegmentsAhead: false))
        var contents: [StoredContent] = []
        for i in 0..<40 {
            contents.append(try await store.store(Self.body(20_000 + i, seed: UInt64(i))))
        }
        contents.append(try await store.store(Self.body(100_000, seed: 99)))
        try await store.waitDurable(contents)
        let before = store.statistics
        #expect(before.segmentsCreated >= 2)
        for content in contents { #expect(try store.release(content.id)) }
        #expect(try store.release(contents[0].id) == false)
        #expect(throws: StoreError.self) { try store.read(contents[0].id) }
        // The flusher's housekeeping frees the emptied sealed segments...
        #expect(await eventually { store.statistics.segmentsRecycled >= 1 })
        // ...and more writes take them instead of new files.
        var more: [StoredContent] = []
        for i in 0..<40 {
            more.append(try await store.store(Self.body(20_000, seed: UInt64(500 + i))))
        }
        try await store.waitDurable(more)
        let after = store.statistics
        #expect(after.segmentsRecycled >= 1)
        #expect(after.segmentsCreated - before.segmentsCreated < 2)
        #expect(store.verify().isClean)
        store.close()
        #expect(fs.currentContents("/q/cdb/" + "large-\(contents.last!.id).blob") == nil)

        let reopened = try Self.open(fs.crash(mode: .dropAllUnsynced, seed: 1))
        defer { reopened.close() }
        for content in more { #expect(reopened.validate(content.reference) == .valid) }
        for content in contents { #expect(!reopened.contains(content.id)) }
        #expect(reopened.verify().isClean)
    }

    @Test func aBatchReleaseCountsWhatItKnewAndReachesTheJournal() async throws {
        let fs = SimulatedFileSystem()
        let store = try Self.open(fs)
        var contents: [StoredContent] = []
        for i in 0..<12 {
            contents.append(try await store.store(Self.body(3_000 + i, seed: UInt64(i))))
        }
        try await store.waitDurable(contents)
        let released = Array(contents.prefix(8))
        // Unknown ids and a repeat are skipped, not counted.
        let unknown = ContentID(0xFFFF_FFFF)
        #expect(try store.release(released.map(\.id) + [unknown, released[0].id]) == 8)
        #expect(try store.release(released.map(\.id)) == 0)
        #expect(try store.release([]) == 0)
        for content in released { #expect(!store.contains(content.id)) }
        for content in contents.dropFirst(8) { #expect(store.contains(content.id)) }
        #expect(store.verify().isClean)
        store.close()

        // The marks were journaled: a reopen does not bring the bodies back.
        let reopened = try Self.open(fs)
        defer { reopened.close() }
        for content in released { #expect(!reopened.contains(content.id)) }
        for content in contents.dropFirst(8) { #expect(reopened.validate(content.reference) == .valid) }
        #expect(reopened.verify().isClean)
    }

    /// Thirty 15 KB bodies (three segments or so), durable; all but every fourth are
    /// released, which leaves their segments about a quarter live. Returns the kept ones.
    static func storeThirtyAndReleaseThreeInFour(_ store: ContentStore) async throws -> [(StoredContent, [UInt8])] {
        var kept: [(StoredContent, [UInt8])] = []
        var all: [StoredContent] = []
        for i in 0..<30 {
            let body = Self.body(15_000, seed: UInt64(i))
            let content = try await store.store(body)
            all.append(content)
            if i % 4 == 0 { kept.append((content, body)) }
        }
        try await store.waitDurable(all)
        for content in all where !kept.contains(where: { $0.0.id == content.id }) {
            try store.release(content.id)
        }
        return kept
    }

    @Test func compactionMovesLiveBodiesAndKeepsTheirIDs() async throws {
        let fs = SimulatedFileSystem()
        let store = try Self.open(fs)
        let kept = try await Self.storeThirtyAndReleaseThreeInFour(store)
        let report = try await store.compact(limit: 10)
        #expect(report.segmentsCompacted >= 1)
        #expect(report.bodiesCopied >= 1)
        #expect(store.verify().isClean)
        for (content, body) in kept { #expect(try store.read(content.id) == body) }
        store.close()
        let reopened = try Self.open(fs.crash(mode: .dropAllUnsynced, seed: 2))
        defer { reopened.close() }
        for (content, body) in kept { #expect(try reopened.read(content.id) == body) }
        #expect(reopened.verify().isClean)
    }

    /// Background compaction leaves a mostly dead segment alone until it has been sealed
    /// for `compactionMinimumAge` (its bodies are usually about to die too), then moves
    /// its live bodies. The store's clock is the test's.
    @Test func backgroundCompactionWaitsForTheSegmentToAge() async throws {
        let clock = ManualMicros()
        var c = Self.configuration()
        c.automaticCompaction = true
        c.compactionMinimumAge = .seconds(60)
        c.monotonicClock = { clock.now }
        let store = try Self.open(SimulatedFileSystem(), c)
        defer { store.close() }
        let kept = try await Self.storeThirtyAndReleaseThreeInFour(store)
        // A write runs the flusher, which is what starts a background compaction; the
        // compaction, when it starts, is done by the time a later write is durable.
        func nudge(_ seed: UInt64) async throws {
            for k in 0..<3 {
                let extra = try await store.store(Self.body(100, seed: seed * 10 + UInt64(k)))
                try await store.waitDurable([extra])
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        clock.advance(by: 59_000_000)
        try await nudge(100)
        #expect(store.statistics.compactedSegments == 0)

        clock.advance(by: 1_000_000)
        try await nudge(101)
        let deadline = ContinuousClock.now + .seconds(30)
        while store.statistics.compactedSegments == 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(store.statistics.compactedSegments >= 1)
        #expect(store.verify().isClean)
        for (content, body) in kept { #expect(try store.read(content.id) == body) }
    }

    @Test func inspectionListsEveryBlobWithItsState() async throws {
        let store = try Self.open(SimulatedFileSystem())
        defer { store.close() }
        let a = try await store.store(Self.body(1000, seed: 1))
        let b = try await store.store(Self.body(2000, seed: 2))
        let c = try await store.store(Self.body(60_000, seed: 3))
        try await store.waitDurable([a, b, c])
        try store.release(b.id)
        let infos = store.inspect(verify: true)
        #expect(infos.first { $0.id == a.id }?.state == .live)
        #expect(infos.first { $0.id == b.id }?.state == .released)
        #expect(infos.first { $0.id == c.id }?.isLargeFile == true)
        #expect(infos.allSatisfy { $0.checked && $0.problem == nil })
    }

    @Test func readOnlyOpenSeesALiveStoreWithoutWriting() async throws {
        let fs = SimulatedFileSystem()
        let store = try Self.open(fs)
        defer { store.close() }
        let a = try await store.store(Self.body(5000, seed: 1))
        try await store.waitDurable(a)
        var c = Self.configuration()
        c.readOnly = true
        let ops = fs.operationCount
        let reader = try ContentStore.open(fileSystem: fs, configuration: c)
        defer { reader.close() }
        #expect(try reader.read(a.id) == Self.body(5000, seed: 1))
        #expect(throws: StoreError.self) { try reader.makeWriter() }
        _ = ops
    }

    @Test func aLogTransactionWhoseBodyNeverBecameDurableIsDiscarded() async throws {
        let fs = SimulatedFileSystem()
        let store = try Self.open(fs)
        var logConfiguration = IncomingLog.Configuration(queueID: Self.queueID, directories: ["/q/ibdb"])
        logConfiguration.segmentSize = 64 * 1024
        logConfiguration.maxBatchBytes = 16 * 1024
        logConfiguration.maxPendingBytes = 64 * 1024
        let log = try IncomingLog.open(fileSystem: fs, configuration: logConfiguration)
        let good = try await store.store(Self.body(3000, seed: 1))
        var rng = SplitMix64(seed: 1)
        var t1 = TransactionGenerator.transaction(id: EnvelopeID(1), rng: &rng)
        t1.content = good.reference
        _ = try await log.commit([.transaction(t1)], bodies: [good], in: store)
        // A transaction naming a body the store never made durable.
        var t2 = TransactionGenerator.transaction(id: EnvelopeID(2), rng: &rng)
        t2.content = ContentReference(id: ContentID(123), size: 10, checksum: 5)
        _ = try await log.commit(.transaction(t2))
        log.close()
        store.close()

        let image = fs.crash(mode: .dropAllUnsynced, seed: 4)
        let store2 = try Self.open(image)
        defer { store2.close() }
        let log2 = try IncomingLog.open(fileSystem: image, configuration: logConfiguration)
        defer { log2.close() }
        let discarded = try await log2.discardTransactionsWithoutBody(in: store2)
        #expect(discarded.map(\.envelopeID) == [EnvelopeID(2)])
        #expect(discarded.first?.finding == .missing)
        #expect(log2.openTransactions().map(\.envelopeID) == [EnvelopeID(1)])
    }
}

/// A monotonic microsecond clock the test moves by hand.
final class ManualMicros: Sendable {
    private let micros = Mutex<UInt64>(1_000_000)

    var now: UInt64 { micros.withLock { $0 } }

    func advance(by delta: UInt64) {
        micros.withLock { $0 += delta }
    }
}
