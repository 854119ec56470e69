import SMXStore

/// Seeds for the content store's fuzz targets: real blobs, segments, hints and journals,
/// and blobs whose zstd chunks are garbage behind valid checksums.
extension FuzzSeeds {
    /// The blob seeds' content id.
    static let blobContentID = ContentID(0x0000_00C0_FFEE_0042)

    /// A blob target input: the blob, then its header checksum seed (``FuzzHarness/frameSeed(_:)``).
    static func blobInput(_ blob: [UInt8]) -> [UInt8] {
        blob + littleEndian(segmentNumber)
    }

    static func blobDecoder() -> [Seed] {
        var seeds: [Seed] = []
        func add(_ name: String, _ blob: [UInt8]) { seeds.append(Seed(name: name, bytes: blobInput(blob))) }
        let id = blobContentID
        add("blob-empty", BlobAssembler.encode([], contentID: id, seed: segmentNumber))
        add("blob-raw-40", BlobAssembler.encode(BlobAssembler.text(40), contentID: id, seed: segmentNumber))
        add("blob-text-zstd", BlobAssembler.encode(BlobAssembler.text(10_000), contentID: id, chunkSize: 4096, seed: segmentNumber))
        add("blob-noise-raw", BlobAssembler.encode(BlobAssembler.noise(3000), contentID: id, chunkSize: 1024, seed: segmentNumber))
        add("blob-hint-never", BlobAssembler.encode(BlobAssembler.text(700), contentID: id, chunkSize: 256, hint: .never, seed: segmentNumber))
        add("blob-chunk-size-1", BlobAssembler.encode(Array("one byte a chunk".utf8), contentID: id, chunkSize: 1, seed: segmentNumber))
        for variant in zstdVariants() {
            add("blob-zstd-\(variant.name)", variant.blob)
        }
        return seeds
    }

    /// Blobs of one zstd chunk (or a few) whose frames are damaged, odd or hand-made, every
    /// checksum but the body's valid: what reaches the decompressor. Shared with the unit
    /// tests.
    public static func zstdVariants(seed: UInt64 = segmentNumber) -> [(name: String, blob: [UInt8], decodes: Bool)] {
        let id = blobContentID
        let body = BlobAssembler.text(3000, seed: 9)
        let bodySum = Checksum.xxh3(body)
        let real = BlobAssembler.encode(body, contentID: id, chunkSize: 4096, seed: seed)
        guard let (_, realChunks) = BlobAssembler.parse(real, seed: seed), realChunks.first?.encoding == .zstd else {
            preconditionFailure("text did not compress")
        }
        let frame = realChunks[0].payload
        func one(_ payload: [UInt8], raw: Int = body.count, content: [UInt8]? = nil) -> [UInt8] {
            let content = content ?? body
            return BlobAssembler.blob(
                contentID: id, chunkSize: 4096, chunks: [BlobAssembler.Chunk(encoding: .zstd, payload: payload, rawLength: raw)],
                rawLength: UInt64(raw), bodyChecksum: content.count == raw ? Checksum.xxh3(content) : bodySum, seed: seed
            )
        }
        var variants: [(String, [UInt8], Bool)] = [("real", one(frame), true)]
        // Single-byte changes in the frame header, the first block header, the middle and the end.
        for position in [4, 5, 6, 7, 9, frame.count / 2, frame.count - 1] {
            var mutated = frame
            mutated[position] ^= 0x5A
            variants.append(("mutated-\(position)", one(mutated), false))
        }
        var zeroedTail = frame
        for i in (frame.count * 3 / 4)..<frame.count { zeroedTail[i] = 0 }
        variants.append(("zeroed-tail", one(zeroedTail), false))
        variants.append(("truncated-half", one(Array(frame.prefix(frame.count / 2))), false))
        variants.append(("truncated-header", one(Array(frame.prefix(5))), false))
        variants.append(("empty-payload", one([]), false))
        variants.append(("magic-only", one(ZstdFrame.magic), false))

        let a = [UInt8](repeating: 0x41, count: 3000)
        let rle = ZstdFrame.frame(contentSize: 3000, blocks: [.rle(0x41, count: 3000)])
        variants.append(("rle-block", one(rle, content: a), true))
        let mixedContent = Array(body[..<1000]) + [UInt8](repeating: 0x41, count: 2000)
        let rawAndRLE = ZstdFrame.frame(contentSize: 3000, blocks: [.raw(Array(body[..<1000])), .rle(0x41, count: 2000)])
        variants.append(("raw-and-rle-blocks", one(rawAndRLE, content: mixedContent), true))
        variants.append(("unknown-size", one(ZstdFrame.frame(contentSize: nil, blocks: [.rle(0x41, count: 3000)]), content: a), true))
        variants.append(("announces-more", one(ZstdFrame.frame(contentSize: 3001, blocks: [.rle(0x41, count: 3001)]), content: a), false))
        variants.append(("announces-less", one(ZstdFrame.frame(contentSize: 2999, blocks: [.rle(0x41, count: 3000)]), content: a), false))
        variants.append(("announces-huge", one(ZstdFrame.frame(contentSize: 1 << 40, blocks: [.rle(0x41, count: 3000)]), content: a), false))
        variants.append(("unknown-size-too-long", one(ZstdFrame.frame(contentSize: nil, blocks: [.rle(0x41, count: 3010)]), content: a), false))
        variants.append(("unknown-size-too-short", one(ZstdFrame.frame(contentSize: nil, blocks: [.rle(0x41, count: 2990)]), content: a), false))
        variants.append(("raw-block-short", one(ZstdFrame.frame(contentSize: 3000, blocks: [.raw(Array(body[..<100]))]), content: a), false))
        let longBlock = ZstdFrame.frame(contentSize: 3000, blocks: [.raw(Array(body[..<500]))])
        variants.append(("block-past-end", one(Array(longBlock.dropLast(400)), content: a), false))
        variants.append(("no-last-block", one(ZstdFrame.frame(contentSize: 3000, blocks: [.rle(0x41, count: 3000)], lastFlag: false), content: a), false))
        variants.append(("reserved-block", one(ZstdFrame.frame(contentSize: 3000, blocks: [.typed(3, [1, 2, 3])]), content: a), false))
        variants.append(("compressed-garbage", one(ZstdFrame.frame(contentSize: 3000, blocks: [.typed(2, BlobAssembler.noise(64))]), content: a), false))
        variants.append(("bad-content-checksum", one(ZstdFrame.frame(contentSize: 3000, blocks: [.rle(0x41, count: 3000)], checksumFlag: true, checksum: 0xDEAD_BEEF), content: a), false))
        variants.append(("skippable-only", one(ZstdFrame.skippable(Array(body[..<16]))), false))
        variants.append(("skippable-then-frame", one(ZstdFrame.skippable([1, 2, 3]) + rle, content: a), false))
        variants.append(("frame-then-skippable", one(rle + ZstdFrame.skippable([1, 2, 3], variant: 15), content: a), true))
        let halves = ZstdFrame.frame(contentSize: nil, blocks: [.rle(0x41, count: 1500)])
        variants.append(("two-frames", one(halves + halves, content: a), true))
        variants.append(("frame-then-junk", one(rle + [0x28, 0xB5], content: a), false))
        // A valid frame of other content: only the body checksum notices.
        let other = ZstdFrame.frame(contentSize: 3000, blocks: [.rle(0x42, count: 3000)])
        variants.append(("other-content", one(other, content: a), false))
        // Two chunks, the second a zstd frame that expands past its chunk.
        let twoChunks = BlobAssembler.blob(
            contentID: id, chunkSize: 2048,
            chunks: [
                BlobAssembler.Chunk(encoding: .zstd, payload: ZstdFrame.frame(contentSize: 2048, blocks: [.rle(0x41, count: 2048)]), rawLength: 2048),
                BlobAssembler.Chunk(encoding: .zstd, payload: ZstdFrame.frame(contentSize: nil, blocks: [.rle(0x41, count: 2048)]), rawLength: 952),
            ],
            rawLength: 3000, bodyChecksum: Checksum.xxh3(a), seed: seed
        )
        variants.append(("second-chunk-overflows", twoChunks, false))
        return variants.map { (name: $0.0, blob: $0.1, decodes: $0.2) }
    }

    static func contentSegment() -> [Seed] {
        let n = segmentNumber
        let raw = BlobAssembler.encode(BlobAssembler.text(40), contentID: ContentID(1), commitBatch: 1, seed: n)
        let text = BlobAssembler.encode(BlobAssembler.text(9000), contentID: ContentID(2), chunkSize: 4096, commitBatch: 1, seed: n)
        let empty = BlobAssembler.encode([], contentID: ContentID(3), commitBatch: 2, seed: n)
        let noise = BlobAssembler.encode(BlobAssembler.noise(500), contentID: ContentID(4), chunkSize: 128, commitBatch: 2, seed: n)
        let sealed = BlobAssembler.segment(number: n, blobs: [raw, text, empty, noise], sealBatch: 2)
        let open = BlobAssembler.segment(number: n, blobs: [raw, text, noise], sealBatch: nil)
        var damaged = open.bytes
        damaged[open.offsets[1] + 20] ^= 0x01
        var chunkDamage = open.bytes
        chunkDamage[open.offsets[2] + BlobFormat.headerSize + 40] ^= 0x80
        let recycled = BlobAssembler.segment(
            number: n,
            blobs: [raw, BlobAssembler.encode(BlobAssembler.text(100), contentID: ContentID(9), seed: n - 1), noise],
            sealBatch: 3
        )
        let garbage = zstdVariants(seed: n).first { $0.name == "mutated-\(9)" }!.blob
        let zstd = BlobAssembler.segment(number: n, blobs: [raw, garbage, empty], sealBatch: 4)
        var afterSeal = BlobAssembler.segment(number: n, blobs: [raw], sealBatch: 1).bytes
        afterSeal += noise
        return [
            Seed(name: "segment-sealed", bytes: sealed.bytes),
            Seed(name: "segment-open-zeros", bytes: open.bytes + [UInt8](repeating: 0, count: 512)),
            Seed(name: "segment-damaged-middle", bytes: damaged),
            Seed(name: "segment-chunk-damage", bytes: chunkDamage),
            Seed(name: "segment-recycled-blob", bytes: recycled.bytes),
            Seed(name: "segment-torn-tail", bytes: Array(open.bytes.prefix(open.offsets[2] + 200))),
            Seed(name: "segment-zstd-garbage", bytes: zstd.bytes),
            Seed(name: "segment-after-seal", bytes: afterSeal),
            Seed(name: "segment-header-only", bytes: Array(sealed.bytes.prefix(FormatConstants.fileHeaderSize))),
        ]
    }

    /// One hint entry: content id, offset, raw length, stored length, body checksum, commit batch.
    public typealias HintEntry = (id: UInt64, offset: UInt64, raw: UInt64, stored: UInt64, checksum: UInt64, batch: UInt64)

    /// Hint file bytes written by hand from the layout in `SegmentHint.swift` (the type
    /// has no public initialiser; decoding these gives the value, and encoding that must
    /// give these bytes back).
    public static func hintBytes(segment: UInt64, sealOffset: UInt64, sealBatch: UInt64, entries: [HintEntry]) -> [UInt8] {
        var w = ByteWriter(capacity: 128)
        w.raw(FileHeader(kind: .contentSegmentHint, queueID: queueID, segmentNumber: segment, createdMicros: 1_700_000_000_000_000).encode())
        w.u64(sealOffset)
        w.u64(sealBatch)
        w.u32(UInt32(entries.count))
        w.u32(0)
        for e in entries {
            for value in [e.id, e.offset, e.raw, e.stored, e.checksum, e.batch] { w.u64(value) }
        }
        w.u64(Checksum.xxh3(w.bytes[FormatConstants.fileHeaderSize...], seed: segment))
        return w.bytes
    }

    /// Valid hint files: none, one and three entries, and large values.
    public static func sampleHints() -> [(name: String, bytes: [UInt8])] {
        func entry(_ id: UInt64, _ offset: UInt64, _ raw: UInt64, _ stored: UInt64) -> HintEntry {
            (id, offset, raw, stored, 0x1111 &* id, id)
        }
        let three = [entry(1, 64, 40, 64), entry(2, 192, 9000, 1200), entry(3, 1456, 0, 0)]
        return [
            ("empty", hintBytes(segment: segmentNumber, sealOffset: 64, sealBatch: 0, entries: [])),
            ("one", hintBytes(segment: segmentNumber, sealOffset: 192, sealBatch: 1, entries: [entry(1, 64, 40, 64)])),
            ("three", hintBytes(segment: 12, sealOffset: 1520, sealBatch: 3, entries: three)),
            ("large", hintBytes(segment: 1 << 40, sealOffset: 1 << 30, sealBatch: .max,
                                entries: [entry(5, 4096, 1 << 20, 1 << 20), entry(.max, 1 << 29, 65536, 65560)])),
        ]
    }

    static func segmentHint() -> [Seed] {
        sampleHints().map { Seed(name: "hint-\($0.name)", bytes: $0.bytes) }
    }

    /// A release journal of `generation` holding one record per element of `records`.
    public static func journal(generation: UInt64, records: [[UInt64]], firstSequence: UInt64 = 1) -> [UInt8] {
        var bytes = FileHeader(
            kind: .contentReleaseJournal, queueID: queueID, segmentNumber: generation, createdMicros: 1_700_000_000_000_000
        ).encode()
        for (i, ids) in records.enumerated() {
            ReleaseJournal.appendRecord(
                to: &bytes, ids: ids.map(ContentID.init)[...], sequence: firstSequence + UInt64(i), generation: generation
            )
        }
        return bytes
    }

    static func releaseJournal() -> [Seed] {
        let records: [[UInt64]] = [[1], [2, 3, 4], [], [0xFFFF_FFFF_FFFF_FFFF, 5]]
        let full = journal(generation: 3, records: records)
        let three = journal(generation: 3, records: Array(records.prefix(3)))
        var damaged = full
        damaged[three.count - 20] ^= 0x04
        return [
            Seed(name: "journal-header-only", bytes: journal(generation: 1, records: [])),
            Seed(name: "journal-records", bytes: full),
            Seed(name: "journal-zeros-tail", bytes: full + [UInt8](repeating: 0, count: 64)),
            Seed(name: "journal-torn-tail", bytes: Array(full.prefix(full.count - 9))),
            Seed(name: "journal-damaged-middle", bytes: damaged),
            Seed(name: "journal-sequence-back", bytes: journal(generation: 3, records: [[1]], firstSequence: 9)
                + Array(journal(generation: 3, records: [[2]], firstSequence: 4).dropFirst(FormatConstants.fileHeaderSize))),
            Seed(name: "journal-generation-large", bytes: journal(generation: 1 << 33, records: [[7, 8]])),
        ]
    }
}
