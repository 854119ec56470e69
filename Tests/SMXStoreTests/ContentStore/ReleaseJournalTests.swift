import Testing
import SMXStore
import SMXTestSupport

@Suite struct ReleaseJournalTests {
    private let queueID = FuzzSeeds.queueID
    static let records: [[UInt64]] = [[1], [2, 3, 4], [], [0xFFFF_FFFF_FFFF_FFFF, 5], [6, 7, 8, 9, 10, 11]]

    private func decode(_ bytes: [UInt8]) throws -> ReleaseJournal.Contents {
        try ReleaseJournal.decode(bytes, queueID: queueID, path: "releases")
    }

    /// Start offset of each record of `journal(generation:records:)`.
    private func recordOffsets(_ records: [[UInt64]]) -> [Int] {
        var offsets: [Int] = []
        var offset = 64
        for ids in records {
            offsets.append(offset)
            offset += RecordFrame.size(payloadCount: 4 + 8 * ids.count)
        }
        return offsets
    }

    @Test func roundTrips() throws {
        let bytes = FuzzSeeds.journal(generation: 5, records: Self.records)
        let contents = try decode(bytes)
        #expect(contents.generation == 5)
        #expect(contents.ids == Self.records.flatMap { $0 }.map(ContentID.init))
        #expect(contents.end == bytes.count && contents.lastSequence == 5 && contents.stoppedAt == nil)
        let empty = try decode(FuzzSeeds.journal(generation: 1, records: []))
        #expect(empty.ids.isEmpty && empty.end == 64 && empty.lastSequence == 0 && empty.stoppedAt == nil)
        // A full record.
        var big = FuzzSeeds.journal(generation: 2, records: [])
        let many = (1...UInt64(ReleaseJournal.maxIDsPerRecord)).map(ContentID.init)
        ReleaseJournal.appendRecord(to: &big, ids: many[...], sequence: 1, generation: 2)
        #expect(try decode(big).ids == many)
    }

    /// A changed byte stops the reading at the start of its record and keeps every id
    /// before it; the file header's bytes reject the file. The 4 bytes of zero padding
    /// after each record are not covered by its checksum (the framing of docs/format/ibdb.md).
    @Test func everySingleByteMutationStopsAtItsRecord() throws {
        let bytes = FuzzSeeds.journal(generation: 5, records: Self.records)
        let offsets = recordOffsets(Self.records)
        for i in bytes.indices {
            var damaged = bytes
            damaged[i] ^= 0x08
            guard i >= 64 else {
                #expect(throws: StoreError.self) { try decode(damaged) }
                continue
            }
            let record = offsets.lastIndex { $0 <= i }!
            let payloadEnd = offsets[record] + 24 + 4 + 8 * Self.records[record].count
            let contents = try decode(damaged)
            if i >= payloadEnd {
                #expect(contents == (try decode(bytes)), "padding byte \(i)")
                continue
            }
            #expect(contents.stoppedAt?.offset == offsets[record], "byte \(i)")
            #expect(contents.end == offsets[record])
            #expect(contents.ids == Self.records.prefix(record).flatMap { $0 }.map(ContentID.init), "byte \(i)")
            #expect(contents.lastSequence == UInt64(record))
        }
    }

    @Test func aTornTailKeepsTheWholeRecords() throws {
        let bytes = FuzzSeeds.journal(generation: 5, records: Self.records)
        let offsets = recordOffsets(Self.records) + [bytes.count]
        for cut in 64...bytes.count {
            let contents = try decode(Array(bytes.prefix(cut)))
            // A record counts once its payload is there (the padding may be cut off).
            let whole = (0..<Self.records.count).filter { offsets[$0] + 24 + 4 + 8 * Self.records[$0].count <= cut }
            #expect(contents.ids == whole.flatMap { Self.records[$0] }.map(ContentID.init), "cut at \(cut)")
            let atBoundary = offsets.contains(cut) || whole.last.map { offsets[$0 + 1] > cut } == true
            #expect((contents.stoppedAt == nil) == atBoundary, "cut at \(cut)")
        }
    }

    @Test func zerosAfterTheRecordsEndTheJournal() throws {
        let bytes = FuzzSeeds.journal(generation: 5, records: Self.records)
        for zeros in [1, 7, 24, 25, 4096] {
            let contents = try decode(bytes + [UInt8](repeating: 0, count: zeros))
            #expect(contents.end == bytes.count && contents.stoppedAt == nil && contents.ids.count == 12)
        }
    }

    @Test func sequencesMustIncrease() throws {
        var bytes = FuzzSeeds.journal(generation: 5, records: [[1], [2]])
        let third = bytes.count
        ReleaseJournal.appendRecord(to: &bytes, ids: [ContentID(3)], sequence: 2, generation: 5)
        let contents = try decode(bytes)
        #expect(contents.ids == [ContentID(1), ContentID(2)])
        #expect(contents.stoppedAt?.offset == third && contents.end == third)
        // A record of another generation (a journal rewritten since) does not verify.
        var mixed = FuzzSeeds.journal(generation: 5, records: [[1]])
        ReleaseJournal.appendRecord(to: &mixed, ids: [ContentID(2)], sequence: 2, generation: 4)
        #expect(try decode(mixed).ids == [ContentID(1)])
    }

    @Test func otherFilesAreRejected() {
        let bytes = FuzzSeeds.journal(generation: 5, records: Self.records)
        #expect(throws: StoreError.self) { try ReleaseJournal.decode(bytes, queueID: QueueID(bytes: Array(repeating: 1, count: 16))) }
        let segment = BlobAssembler.segment(number: 5, blobs: [], sealBatch: 1).bytes
        #expect(throws: StoreError.self) { try decode(segment) }
        for cut in 0..<64 { #expect(throws: StoreError.self) { try decode(Array(bytes.prefix(cut))) } }
    }
}
