import SMXStore

/// Seed inputs for the fuzz targets, made with the real encoders (`LogRecord.encodePayload`,
/// `RecordFrame.append`, `FileHeader.encode`; the content store's, in
/// `FuzzSeeds+ContentStore.swift`, with `BlobEncoder`, `SegmentHint.encode` and
/// `ReleaseJournal.appendRecord`) and fixed values, so they are the same bytes on every run. `FuzzTests/Corpus/<Target>/` holds them as files; regenerate those with
/// `SMX_WRITE_FUZZ_CORPUS=1 swift test --filter FuzzRegression`.
public enum FuzzSeeds {
    public struct Seed: Sendable {
        public var name: String
        public var bytes: [UInt8]
    }

    /// Target name (as in `FuzzTests/Package.swift`) to its seeds.
    public static func all() -> [(target: String, seeds: [Seed])] {
        [
            ("FuzzRecordDecoder", recordDecoder()),
            ("FuzzSegmentReader", segmentReader()),
            ("FuzzFileHeader", fileHeader()),
            ("FuzzBlobDecoder", blobDecoder()),
            ("FuzzContentSegment", contentSegment()),
            ("FuzzSegmentHint", segmentHint()),
            ("FuzzReleaseJournal", releaseJournal()),
            ("FuzzBTreePage", btreePage()),
            ("FuzzBTreeFile", btreeFile()),
            ("FuzzBTreeJournal", btreeJournal()),
            ("FuzzDeferredRecord", deferredRecord()),
            ("FuzzXText", xtext()),
            ("FuzzStatusReply", statusReply()),
        ]
    }

    /// The harness function for a target name.
    public static func harness(for target: String) -> (([UInt8]) -> Void)? {
        switch target {
        case "FuzzRecordDecoder": FuzzHarness.recordDecoder
        case "FuzzSegmentReader": FuzzHarness.segmentReader
        case "FuzzFileHeader": FuzzHarness.fileHeader
        case "FuzzBlobDecoder": FuzzHarness.blobDecoder
        case "FuzzContentSegment": FuzzHarness.contentSegment
        case "FuzzSegmentHint": FuzzHarness.segmentHint
        case "FuzzReleaseJournal": FuzzHarness.releaseJournal
        case "FuzzBTreePage": FuzzHarness.btreePage
        case "FuzzBTreeFile": FuzzHarness.btreeFile
        case "FuzzBTreeJournal": FuzzHarness.btreeJournal
        case "FuzzDeferredRecord": FuzzHarness.deferredRecord
        case "FuzzXText": FuzzHarness.xtext
        case "FuzzStatusReply": FuzzHarness.statusReply
        default: nil
        }
    }

    public static let segmentNumber: UInt64 = 7
    public static let queueID = QueueID(bytes: Array(0x10..<0x20))

    public static func sampleRecords() -> [(name: String, record: LogRecord)] {
        let full = IncomingTransaction(
            envelopeID: EnvelopeID(0x0123_4567_89AB),
            arrivalMicros: 1_700_000_000_000_000,
            sender: "alice@example.org",
            mail: MailParameters(size: 12_345, body: .eightBitMIME, ret: .headers, envelopeID: "QQ314159", smtpUTF8: true),
            content: ContentReference(id: ContentID(42), size: 12_000, checksum: 0xDEAD_BEEF_CAFE_F00D),
            recipients: [
                Recipient(address: "bob@example.com", notify: [.success, .failure], originalRecipient: "rfc822;bob@example.com"),
                Recipient(address: "carol@exämple.net", notify: .never, state: .delivered),
                Recipient(address: "dave@example.net", state: .movedToDeferred),
            ]
        )
        let minimal = IncomingTransaction(
            envelopeID: EnvelopeID(1),
            arrivalMicros: 0,
            sender: "",
            content: ContentReference(id: ContentID(1), size: 0, checksum: 0),
            recipients: [Recipient(address: "x@y")]
        )
        var carried = full
        carried.recipients[0].state = .failedPermanently
        return [
            ("transaction", .transaction(full)),
            ("transaction-minimal", .transaction(minimal)),
            ("carried-forward", .carriedForward(carried)),
            ("outcome", .outcome(EnvelopeID(0x0123_4567_89AB), recipient: 2, .failedPermanently, reply: "550 5.1.1 no such user")),
            ("closed", .closed(EnvelopeID(0x0123_4567_89AB), .movedToDeferred)),
            ("seal", .seal),
        ]
    }

    static func recordDecoder() -> [Seed] {
        var seeds: [Seed] = []
        for (i, (name, record)) in sampleRecords().enumerated() {
            let payload = record.encodePayload()
            seeds.append(Seed(name: "record-\(name)", bytes: [record.type.rawValue] + payload))
            var frame: [UInt8] = []
            RecordFrame.append(
                to: &frame,
                type: record.type.rawValue,
                flags: i % 2 == 0 ? RecordFrame.flagBatchEnd : 0,
                sequence: UInt64(100 + i),
                payload: payload,
                seed: segmentNumber
            )
            seeds.append(Seed(name: "frame-\(name)", bytes: frame + littleEndian(segmentNumber)))
        }
        seeds.append(Seed(name: "frame-zeros", bytes: [UInt8](repeating: 0, count: 32)))
        return seeds
    }

    static func segmentHeader(segment: UInt64 = segmentNumber) -> [UInt8] {
        FileHeader(
            kind: .incomingLogSegment,
            queueID: queueID,
            segmentNumber: segment,
            baseSequence: 100,
            createdMicros: 1_700_000_000_000_000
        ).encode()
    }

    /// A small real segment: one write batch per record, sealed when `sealed`.
    static func segment(sealed: Bool, recordNames: Set<String>? = nil) -> (bytes: [UInt8], recordOffsets: [Int]) {
        var bytes = segmentHeader()
        var offsets: [Int] = []
        var sequence: UInt64 = 100
        for (name, record) in sampleRecords() where record != .seal && (recordNames?.contains(name) ?? true) {
            offsets.append(bytes.count)
            RecordFrame.append(
                to: &bytes, type: record.type.rawValue, flags: RecordFrame.flagBatchEnd,
                sequence: sequence, payload: record.encodePayload(), seed: segmentNumber
            )
            sequence += 1
        }
        if sealed {
            offsets.append(bytes.count)
            RecordFrame.append(
                to: &bytes, type: LogRecordType.seal.rawValue, flags: RecordFrame.flagBatchEnd,
                sequence: sequence, payload: LogRecord.seal.encodePayload(), seed: segmentNumber
            )
        }
        return (bytes, offsets)
    }

    static func segmentReader() -> [Seed] {
        let small = ["transaction-minimal", "outcome", "closed"]
        let sealed = segment(sealed: true).bytes
        let open = segment(sealed: false, recordNames: Set(small))
        // Preallocated: zeros after the last record.
        let preallocated = open.bytes + [UInt8](repeating: 0, count: 128)
        // Torn tail: the last frame cut in the middle of its payload.
        let torn = Array(open.bytes.prefix(open.recordOffsets.last! + 30))
        // Damage in the middle: a flipped byte in the second record, valid records after.
        var damaged = open.bytes
        damaged[open.recordOffsets[1] + 26] ^= 0x40
        // A record of a recycled file's earlier life (other seed) among new ones.
        var stale = segmentHeader()
        RecordFrame.append(to: &stale, type: LogRecordType.closed.rawValue, flags: 1, sequence: 5,
                           payload: LogRecord.closed(EnvelopeID(9), .completed).encodePayload(), seed: segmentNumber)
        RecordFrame.append(to: &stale, type: LogRecordType.closed.rawValue, flags: 1, sequence: 6,
                           payload: LogRecord.closed(EnvelopeID(10), .discarded).encodePayload(), seed: segmentNumber - 1)
        RecordFrame.append(to: &stale, type: LogRecordType.seal.rawValue, flags: 1, sequence: 7,
                           payload: LogRecord.seal.encodePayload(), seed: segmentNumber)
        return [
            Seed(name: "segment-sealed", bytes: sealed),
            Seed(name: "segment-open", bytes: open.bytes),
            Seed(name: "segment-preallocated", bytes: preallocated),
            Seed(name: "segment-torn-tail", bytes: torn),
            Seed(name: "segment-damaged-middle", bytes: damaged),
            Seed(name: "segment-stale-record", bytes: stale),
            Seed(name: "segment-header-only", bytes: segmentHeader()),
        ]
    }

    static func fileHeader() -> [Seed] {
        var seeds: [Seed] = []
        for kind in FileKind.allCases {
            let header = FileHeader(
                kind: kind,
                queueID: queueID,
                segmentNumber: UInt64(kind.rawValue) * 1000 + 1,
                baseSequence: UInt64(kind.rawValue) << 20,
                createdMicros: 1_700_000_000_000_000 + UInt64(kind.rawValue),
                flags: kind == .deferredQueue ? 0x8000_0001 : 0
            )
            seeds.append(Seed(name: "header-kind-\(kind.rawValue)", bytes: header.encode()))
        }
        seeds.append(Seed(name: "header-with-records", bytes: segment(sealed: true, recordNames: ["closed"]).bytes))
        return seeds
    }

    static func littleEndian(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> UInt64(8 * $0)) }
    }
}
