import Testing
import SMXStore
import SMXTestSupport

/// Damage that is not a crash: bit rot in sealed segments, in the newest segment, in file
/// headers, hints, the release journal and large body files; and readers of every shape.
@Suite struct ContentStoreCorruptionTests {
    typealias Acked = ContentStoreFaultTests.Acked

    static let directory = "/q/cdb"

    static func configuration() -> ContentStore.Configuration {
        var c = ContentStoreTests.configuration()
        c.quarantineDirectory = "/q/corrupt"
        return c
    }

    /// A closed store of `count` bodies of 15 000 raw bytes (stored raw: about ten per
    /// segment), each acknowledged in a commit batch of its own, so segments 0 and 1 are
    /// sealed (with hints) and the newest is active. Returns every blob as inspected
    /// before the close, in segment and offset order.
    static func populated(count: Int = 25) async throws -> (SimulatedFileSystem, [Acked], [BlobInfo]) {
        let fs = SimulatedFileSystem()
        let store = try ContentStore.open(fileSystem: fs, configuration: configuration())
        var acked: [Acked] = []
        for i in 0..<count {
            acked.append(try await ContentStoreFaultTests.ack(store, size: 15_000, seed: UInt64(i), hint: .never))
        }
        let infos = store.inspect()
        store.close()
        #expect(Set(infos.compactMap(\.segmentNumber)).count >= 3)
        return (fs, acked, infos)
    }

    /// The blobs of the `rank`-th segment (by number), in offset order.
    static func segment(_ infos: [BlobInfo], rank: Int) -> [BlobInfo] {
        let numbers = Set(infos.compactMap(\.segmentNumber)).sorted()
        return infos.filter { $0.segmentNumber == numbers[rank] }.sorted { $0.offset < $1.offset }
    }

    static func hintPath(of segmentPath: String) -> String {
        String(segmentPath.dropLast(".cdb".count)) + ".hint"
    }

    /// Flips the bits of `count` bytes at `offset`, durably.
    static func flip(_ fs: SimulatedFileSystem, _ path: String, at offset: Int, count: Int = 2) {
        let bytes = fs.currentContents(path)!
        fs.overwriteDurably(path, at: offset, with: bytes[offset..<(offset + count)].map { $0 ^ 0xA5 })
    }

    static func open(_ fs: any FileSystem, reporter: CollectingCorruptionReporter? = nil) throws -> ContentStore {
        try ContentStore.open(fileSystem: fs, configuration: configuration(), reporter: reporter)
    }

    static func readError(_ store: ContentStore, _ id: ContentID) -> StoreError? {
        do {
            _ = try store.read(id)
            return nil
        } catch {
            return error as? StoreError
        }
    }

    static func expectReadable(_ store: ContentStore, _ acked: [Acked], except excluded: Set<ContentID> = []) throws {
        for (content, body) in acked where !excluded.contains(content.id) {
            #expect(try store.read(content.id) == body, "content \(content.id)")
        }
    }

    // MARK: - Chunks and blob headers in sealed segments

    @Test func aDamagedChunkInASealedSegmentIsReportedForThatBodyOnly() async throws {
        let (fs, acked, infos) = try await Self.populated()
        let victims = Self.segment(infos, rank: 0)
        let victim = victims[victims.count / 2]
        // Chunk 0's payload (the body is stored raw, in one chunk).
        Self.flip(fs, victim.path, at: victim.offset + 64 + 24 + 100)
        let damaged = Array(fs.currentContents(victim.path)![victim.offset..<(victim.offset + victim.extent)])
        // Without its hint the segment is scanned, chunks and all.
        try fs.removeFile(Self.hintPath(of: victim.path))
        try fs.syncDirectory(Self.directory)

        let reporter = CollectingCorruptionReporter()
        let store = try Self.open(fs, reporter: reporter)
        defer { store.close() }
        #expect(store.recovery.damagedBodies == [victim.id])
        #expect(store.recovery.tornTails.isEmpty)
        #expect(store.recovery.corruption.count == 1)
        let entry = try #require(store.recovery.corruption.first)
        #expect(entry.path == victim.path)
        #expect(entry.segmentNumber == victim.segmentNumber)
        #expect(entry.offset == victim.offset)
        #expect(entry.length == victim.extent)
        #expect(entry.reason.contains("\(victim.id)"))
        #expect(reporter.reports == store.recovery.corruption)
        let copy = try #require(entry.quarantinedTo)
        #expect(copy.hasPrefix("/q/corrupt/"))
        #expect(fs.currentContents(copy) == damaged)

        // The body stays indexed; reading it fails, naming it, the chunk's offset and the file.
        #expect(store.contains(victim.id))
        let error = Self.readError(store, victim.id)
        #expect(error?.code == .corrupted, "\(String(describing: error))")
        #expect(error?.path == victim.path)
        #expect(error?.message.contains("\(victim.id)") == true)
        #expect(error?.message.contains("offset \(victim.offset + 64)") == true, "\(String(describing: error))")
        try Self.expectReadable(store, acked, except: [victim.id])

        let verification = store.verify()
        #expect(verification.problems.count == 1, "\(verification.problems)")
        #expect(verification.problems.first?.id == victim.id)
        #expect(verification.problems.first?.path == victim.path)
        #expect(verification.problems.first?.offset == victim.offset)
        let reference = try #require(acked.first { $0.content.id == victim.id }).content.reference
        guard case .damaged = store.validate(reference) else {
            Issue.record("validate of a damaged body says \(store.validate(reference))")
            return
        }

        // An operator's quarantine copies the blob too.
        let kept = try store.quarantine(victim.id, reason: "operator")
        #expect(fs.currentContents(kept) == damaged)
        #expect(fs.currentContents(String(kept.dropLast(".bin".count)) + ".txt") != nil)
    }

    @Test func withItsHintADamagedChunkIsFoundByReadsAndVerifyNotAtOpen() async throws {
        let (fs, acked, infos) = try await Self.populated()
        let victim = Self.segment(infos, rank: 1)[2]
        Self.flip(fs, victim.path, at: victim.offset + 64 + 24 + 5000)
        let reporter = CollectingCorruptionReporter()
        let store = try Self.open(fs, reporter: reporter)
        defer { store.close() }
        // A hint spares opening from reading bodies: nothing to report yet.
        #expect(store.recovery.segmentsFromHints == 2)
        #expect(reporter.reports.isEmpty)
        let error = Self.readError(store, victim.id)
        #expect(error?.code == .corrupted && error?.path == victim.path, "\(String(describing: error))")
        #expect(error?.message.contains("\(victim.id)") == true)
        #expect(store.verify().problems.map(\.id) == [victim.id])
        try Self.expectReadable(store, acked, except: [victim.id])
    }

    @Test func aDamagedBlobHeaderInASealedSegmentIsCorruptionAndItsNeighboursStay() async throws {
        let (fs, acked, infos) = try await Self.populated()
        let blobs = Self.segment(infos, rank: 0)
        let victim = blobs[blobs.count / 2]
        Self.flip(fs, victim.path, at: victim.offset + 16)  // raw length
        let damaged = Array(fs.currentContents(victim.path)![victim.offset..<(victim.offset + victim.extent)])
        try fs.removeFile(Self.hintPath(of: victim.path))
        try fs.syncDirectory(Self.directory)

        let reporter = CollectingCorruptionReporter()
        let store = try Self.open(fs, reporter: reporter)
        defer { store.close() }
        #expect(store.recovery.tornTails.isEmpty, "damage in a sealed segment is never a torn tail")
        #expect(store.recovery.corruption.count == 1)
        let entry = try #require(store.recovery.corruption.first)
        #expect(entry.path == victim.path && entry.segmentNumber == victim.segmentNumber)
        #expect(entry.offset == victim.offset)
        // The scan resynchronises at the next blob: exactly the victim's bytes are damage.
        #expect(entry.length == victim.extent)
        #expect(entry.quarantinedTo.flatMap { fs.currentContents($0) } == damaged)
        #expect(reporter.reports == store.recovery.corruption)
        #expect(!store.contains(victim.id))
        #expect(Self.readError(store, victim.id)?.code == .notFound)
        try Self.expectReadable(store, acked, except: [victim.id])
        #expect(store.verify().isClean, "\(store.verify().problems)")
    }

    @Test func withItsHintADamagedBlobHeaderFailsReadsOfThatBodyOnly() async throws {
        let (fs, acked, infos) = try await Self.populated()
        let victim = Self.segment(infos, rank: 0)[3]
        Self.flip(fs, victim.path, at: victim.offset + 20)
        let store = try Self.open(fs)
        defer { store.close() }
        let error = Self.readError(store, victim.id)
        #expect(error?.code == .corrupted && error?.path == victim.path, "\(String(describing: error))")
        #expect(error?.message.contains("\(victim.id) at offset \(victim.offset)") == true, "\(String(describing: error))")
        #expect(store.verify().problems.map(\.id) == [victim.id])
        try Self.expectReadable(store, acked, except: [victim.id])
    }

    // MARK: - The newest segment

    /// A clean close seals the active segment (a seal in a batch of its own, synced), so
    /// damage to its last blob found at the next open cannot be the torn tail of an
    /// unfinished write: it is corruption, reported with its place, and the body stays
    /// indexed (reads fail naming it) while every other body reads back.
    @Test func damageToTheLastBlobAfterACleanCloseIsCorruption() async throws {
        let (fs, acked, infos) = try await Self.populated()
        let active = Self.segment(infos, rank: 2)
        #expect(active.count >= 2)
        let victim = active.last!
        Self.flip(fs, victim.path, at: victim.offset + 64 + 24 + 10)

        let reporter = CollectingCorruptionReporter()
        let store = try Self.open(fs, reporter: reporter)
        defer { store.close() }
        #expect(store.recovery.tornTails.isEmpty)
        #expect(store.recovery.damagedBodies == [victim.id])
        #expect(store.recovery.corruption.map(\.offset) == [victim.offset])
        #expect(reporter.reports.map(\.path) == [victim.path])
        #expect(store.contains(victim.id))
        #expect(throws: StoreError.self) { try store.read(victim.id) }
        try Self.expectReadable(store, acked, except: [victim.id])
        #expect(store.verify().problems.map(\.id) == [victim.id])
        // New bodies go to another segment.
        let fresh = try await ContentStoreFaultTests.ack(store, size: 15_000, seed: 500, hint: .never)
        #expect(store.inspect().first { $0.id == fresh.content.id }?.path != victim.path)
    }

    /// The other side of the rule: damage in the active segment before the end of an older
    /// batch's blob is corruption, and later blobs (newer batches) are kept.
    @Test func damageBeforeTheNewestBatchOfTheActiveSegmentIsCorruption() async throws {
        let (fs, acked, infos) = try await Self.populated()
        let active = Self.segment(infos, rank: 2)
        #expect(active.count >= 3)
        let victim = active[active.count - 2]
        Self.flip(fs, victim.path, at: victim.offset + 64 + 24 + 10)

        let store = try Self.open(fs)
        defer { store.close() }
        #expect(store.recovery.tornTails.isEmpty)
        #expect(store.recovery.damagedBodies == [victim.id])
        #expect(store.recovery.corruption.map(\.offset) == [victim.offset])
        #expect(Self.readError(store, victim.id)?.code == .corrupted)
        try Self.expectReadable(store, acked, except: [victim.id])
    }

    // MARK: - File headers, hints, the release journal

    /// One damaged copy of a segment's file header costs nothing: the other copy is read
    /// and the damaged one rewritten from it.
    @Test func oneDamagedFileHeaderCopyIsRepairedFromTheOther() async throws {
        let (fs, acked, infos) = try await Self.populated()
        let segmentPath = Self.segment(infos, rank: 0)[0].path
        let original = Array(fs.currentContents(segmentPath)![0..<64])
        Self.flip(fs, segmentPath, at: 24)
        let store = try Self.open(fs)
        defer { store.close() }
        #expect(store.recovery.damagedSegments == 0 && store.recovery.corruption.isEmpty)
        try Self.expectReadable(store, acked)
        #expect(Array(fs.currentContents(segmentPath)![0..<64]) == original)
    }

    @Test func aDamagedSegmentFileHeaderLeavesTheSegmentAloneAndWritesGoElsewhere() async throws {
        let (fs, acked, infos) = try await Self.populated()
        let lost = Self.segment(infos, rank: 0)
        let segmentPath = lost[0].path
        Self.flip(fs, segmentPath, at: 24)
        Self.flip(fs, segmentPath, at: BlobFormat.segmentHeaderCopyOffset + 24)
        let before = fs.currentContents(segmentPath)

        let reporter = CollectingCorruptionReporter()
        let store = try Self.open(fs, reporter: reporter)
        #expect(store.recovery.damagedSegments == 1)
        #expect(store.recovery.corruption.count == 1)
        #expect(store.recovery.corruption.first?.path == segmentPath)
        #expect(store.recovery.corruption.first?.offset == 0)
        #expect(reporter.reports.count == 1)
        let lostIDs = Set(lost.map(\.id))
        for id in lostIDs { #expect(!store.contains(id)) }
        try Self.expectReadable(store, acked, except: lostIDs)
        // Enough new bodies for new segments: none goes to the damaged slot.
        var more: [Acked] = []
        for i in 0..<25 {
            more.append(try await ContentStoreFaultTests.ack(store, size: 15_000, seed: UInt64(300 + i), hint: .never))
        }
        #expect(store.inspect().allSatisfy { $0.path != segmentPath })
        try Self.expectReadable(store, more)
        #expect(store.verify().isClean, "\(store.verify().problems)")
        store.close()
        #expect(fs.currentContents(segmentPath) == before, "a damaged segment is left for smx-fsck")

        let again = try Self.open(fs.crash(mode: .dropAllUnsynced, seed: 1))
        defer { again.close() }
        #expect(again.recovery.damagedSegments == 1)
        try Self.expectReadable(again, acked + more, except: lostIDs)
    }

    @Test func aDamagedHintIsIgnoredAndItsSegmentScanned() async throws {
        let (fs, acked, infos) = try await Self.populated()
        let segmentPath = Self.segment(infos, rank: 0)[0].path
        let hint = Self.hintPath(of: segmentPath)
        #expect(fs.currentContents(hint) != nil)
        Self.flip(fs, hint, at: 64 + 24 + 8)  // the first entry's offset

        let reporter = CollectingCorruptionReporter()
        let store = try Self.open(fs, reporter: reporter)
        defer { store.close() }
        #expect(reporter.reports.isEmpty, "a hint is an optimisation: its damage is not corruption")
        #expect(store.recovery.corruption.isEmpty)
        #expect(store.recovery.segmentsScanned >= 2)
        #expect(store.recovery.segmentsFromHints == 1)
        try Self.expectReadable(store, acked)
        #expect(store.verify().isClean)
    }

    @Test func aDamagedReleaseJournalStopsAtTheDamageAndLosesNoLiveBody() async throws {
        let fs = SimulatedFileSystem()
        let store = try Self.open(fs)
        var acked: [Acked] = []
        for i in 0..<20 { acked.append(try await ContentStoreFaultTests.ack(store, size: 5000, seed: UInt64(i))) }
        let journalPath = Self.directory + "/" + ReleaseJournal.fileName
        let queueID = Self.configuration().queueID
        /// The durable journal's contents once it holds `count` marks.
        func durableMarks(_ count: Int) async -> ReleaseJournal.Contents? {
            var contents: ReleaseJournal.Contents?
            _ = await eventually {
                contents = fs.durableContents(journalPath).flatMap { try? ReleaseJournal.decode($0, queueID: queueID) }
                return contents?.ids.count == count
            }
            return contents
        }
        let groups = [0..<4, 4..<8, 8..<10]
        var ends: [Int] = []
        var marks = 0
        for group in groups {
            for i in group { #expect(try store.release(acked[i].content.id)) }
            marks += group.count
            let contents = await durableMarks(marks)
            #expect(contents?.ids.count == marks)
            ends.append(contents?.end ?? 0)
        }
        store.close()
        // Damage the second record.
        Self.flip(fs, journalPath, at: ends[0] + 4)

        let reopened = try Self.open(fs)
        #expect(reopened.recovery.journalStoppedAt?.hasPrefix("offset \(ends[0]):") == true,
                "\(String(describing: reopened.recovery.journalStoppedAt))")
        #expect(reopened.recovery.releaseMarks == 4)
        for i in 0..<4 { #expect(!reopened.contains(acked[i].content.id)) }
        // Marks after the damage are lost: those bodies come back as garbage (rule 2).
        for i in 4..<10 { #expect(reopened.contains(acked[i].content.id)) }
        try Self.expectReadable(reopened, Array(acked[10...]))
        #expect(reopened.verify().isClean)
        // The recount's garbage collection releases them again, and one more goes.
        #expect(try reopened.releaseAll(except: Set(acked[11...].map(\.content.id))) == 7)
        _ = await eventually { (try? fs.durableContents(journalPath).map { try ReleaseJournal.decode($0, queueID: queueID) })??.ids.count == 11 }
        reopened.close()

        let third = try Self.open(fs.crash(mode: .dropAllUnsynced, seed: 2))
        defer { third.close() }
        for i in 0..<11 { #expect(!third.contains(acked[i].content.id), "body \(i) released") }
        try Self.expectReadable(third, Array(acked[11...]))
        #expect(third.verify().isClean)
    }

    // MARK: - Large body files

    @Test func aDamagedChunkInALargeBodyFileFailsReadsNamingTheFile() async throws {
        let fs = SimulatedFileSystem()
        let store = try Self.open(fs)
        let small = try await ContentStoreFaultTests.ack(store, size: 4000, seed: 1)
        let large = try await ContentStoreFaultTests.ack(store, size: 120_000, seed: 2, hint: .never)
        #expect(large.content.isLargeFile)
        let path = Self.directory + "/large-\(large.content.id).blob"
        // Chunk 1's payload: file header, blob header, then chunk 0's frame (16 KiB raw).
        let chunk1 = 64 + 64 + (24 + 16 * 1024)
        Self.flip(fs, path, at: chunk1 + 24 + 7)
        let error = Self.readError(store, large.content.id)
        #expect(error?.code == .corrupted && error?.path == path, "\(String(describing: error))")
        #expect(error?.message.contains("\(large.content.id) at offset \(chunk1)") == true, "\(String(describing: error))")
        #expect(store.verify().problems.map(\.path) == [path])
        #expect(try store.read(small.content.id) == small.body)
        // The first chunk still streams: damage is found where it is.
        let reader = try store.openReader(large.content.id)
        #expect(try reader.readChunk() == Array(large.body[0..<(16 * 1024)]))
        #expect(throws: StoreError.self) { try reader.readChunk() }
        reader.close()
        store.close()

        let reopened = try Self.open(fs)
        defer { reopened.close() }
        #expect(reopened.contains(large.content.id), "opening reads only a large file's headers")
        #expect(Self.readError(reopened, large.content.id)?.code == .corrupted)
        #expect(reopened.verify().problems.map(\.id) == [large.content.id])
    }

    @Test func aLargeBodyFileWithADamagedBlobHeaderIsReportedAtOpenAndNotIndexed() async throws {
        let fs = SimulatedFileSystem()
        let store = try Self.open(fs)
        let small = try await ContentStoreFaultTests.ack(store, size: 4000, seed: 1)
        let good = try await ContentStoreFaultTests.ack(store, size: 70_000, seed: 2)
        let bad = try await ContentStoreFaultTests.ack(store, size: 90_000, seed: 3)
        store.close()
        let path = Self.directory + "/large-\(bad.content.id).blob"
        Self.flip(fs, path, at: 64 + 16)
        let before = fs.currentContents(path)

        let reporter = CollectingCorruptionReporter()
        let reopened = try Self.open(fs, reporter: reporter)
        defer { reopened.close() }
        #expect(reopened.recovery.corruption.count == 1)
        let entry = try #require(reopened.recovery.corruption.first)
        #expect(entry.path == path && entry.offset == 0)
        #expect(reporter.reports == reopened.recovery.corruption)
        #expect(entry.quarantinedTo.flatMap { fs.currentContents($0) } == Array(before![0..<entry.length]))
        #expect(reopened.recovery.largeBodies == 1)
        #expect(!reopened.contains(bad.content.id))
        #expect(try reopened.read(good.content.id) == good.body)
        #expect(try reopened.read(small.content.id) == small.body)
        #expect(fs.currentContents(path) == before, "left alone")
        #expect(reopened.verify().isClean)
    }

    // MARK: - Readers of every shape

    @Test func everyWayOfReadingGivesTheSameBytes() async throws {
        var configuration = Self.configuration()
        configuration.chunkSize = 4096
        let store = try ContentStore.open(fileSystem: SimulatedFileSystem(), configuration: configuration)
        defer { store.close() }
        let chunk = configuration.chunkSize
        var bodies: [Acked] = []
        for (i, size) in [0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk + 17, 60_000].enumerated() {
            for hint in [CompressionHint.automatic, .never] {
                bodies.append(try await ContentStoreFaultTests.ack(store, size: size, seed: UInt64(i), hint: hint))
            }
        }
        #expect(bodies.last!.content.isLargeFile)
        var rng = SplitMix64(seed: 17)
        for (content, body) in bodies {
            for maxCount in [1, 3, 17, 4096, chunk + 5] {
                let reader = try store.openReader(content.id)
                var out: [UInt8] = []
                while true {
                    let piece = try reader.read(maxCount: maxCount)
                    if piece.isEmpty { break }
                    #expect(piece.count <= maxCount)
                    out += piece
                }
                reader.close()
                #expect(out == body, "size \(body.count), maxCount \(maxCount)")
            }
            let reader = try store.openReader(content.id)
            var chunks: [UInt8] = []
            while let piece = try reader.readChunk() {
                #expect(!piece.isEmpty && piece.count <= chunk)
                chunks += piece
            }
            #expect(try reader.readChunk() == nil)
            reader.close()
            #expect(chunks == body, "size \(body.count), readChunk")
            #expect(try store.read(content.id) == body)
            for _ in 0..<20 {
                let lower = rng.below(body.count + 2)
                let upper = lower + rng.below(body.count + 2)
                let clampedLower = min(lower, body.count)
                let expected = Array(body[clampedLower..<max(clampedLower, min(upper, body.count))])
                #expect(try store.read(content.id, range: UInt64(lower)..<UInt64(upper)) == expected,
                        "size \(body.count), range \(lower)..<\(upper)")
            }
        }
    }
}
