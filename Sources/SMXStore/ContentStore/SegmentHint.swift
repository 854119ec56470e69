/// The index of a sealed content segment, kept beside it in `segment-NNNN.hint` so opening
/// a store reads one small file per segment instead of every body (Bitcask's hint files).
/// A hint is an optimisation only: when it is missing, damaged or names another segment
/// number (the slot was recycled since), the segment is scanned instead.
///
/// ```
/// file header (64 bytes, kind 6 "content segment hint", segment number = the segment's)
/// offset size field (from the end of the file header)
///      0    8 seal offset     u64 LE, where the segment's seal is
///      8    8 seal batch      u64 LE, the seal's commit batch
///     16    4 entry count     u32 LE
///     20    4 reserved        0
///     24 48*n entries         content id, offset, raw length, stored length,
///                             body checksum, commit batch: u64 LE each
///   24+48n  8 checksum        XXH3-64 of the bytes from offset 0 to here, seeded with the
///                             segment number
/// ```
public struct SegmentHint: Equatable, Sendable {
    public struct Entry: Equatable, Sendable {
        public var contentID: ContentID
        public var offset: UInt64
        public var rawLength: UInt64
        public var storedLength: UInt64
        public var bodyChecksum: UInt64
        public var commitBatch: UInt64
    }

    public static let entrySize = 48

    public var segmentNumber: UInt64
    public var sealOffset: UInt64
    public var sealBatch: UInt64
    public var entries: [Entry]

    public func encode(queueID: QueueID, createdMicros: UInt64) -> [UInt8] {
        let header = FileHeader(
            kind: .contentSegmentHint, queueID: queueID, segmentNumber: segmentNumber, createdMicros: createdMicros
        )
        var w = ByteWriter(capacity: FormatConstants.fileHeaderSize + 32 + entries.count * Self.entrySize)
        w.raw(header.encode())
        w.u64(sealOffset)
        w.u64(sealBatch)
        w.u32(UInt32(entries.count))
        w.u32(0)
        for e in entries {
            w.u64(e.contentID.rawValue)
            w.u64(e.offset)
            w.u64(e.rawLength)
            w.u64(e.storedLength)
            w.u64(e.bodyChecksum)
            w.u64(e.commitBatch)
        }
        w.u64(Checksum.xxh3(w.bytes[FormatConstants.fileHeaderSize...], seed: segmentNumber))
        return w.bytes
    }

    /// Decodes and verifies a hint file's bytes; the file header must be a hint of
    /// `queueID`. Throws ``StoreError/Code/corrupted`` on any mismatch.
    public static func decode(_ bytes: [UInt8], queueID: QueueID, path: String? = nil) throws -> SegmentHint {
        let header = try FileHeader.decode(bytes, path: path)
        guard header.kind == .contentSegmentHint, header.queueID == queueID else {
            throw StoreError(.corrupted, "not a segment hint of this queue (\(header.kind))", path: path)
        }
        let body = bytes[FormatConstants.fileHeaderSize...]
        guard body.count >= 32 else { throw StoreError(.corrupted, "segment hint cut short", path: path) }
        var r = ByteReader(body, context: "segment hint")
        let sealOffset = try r.u64()
        let sealBatch = try r.u64()
        let count = Int(try r.u32())
        _ = try r.u32()
        guard body.count == 32 + count * entrySize else {
            throw StoreError(.corrupted, "segment hint of \(body.count) bytes for \(count) entries", path: path)
        }
        let stored = LittleEndian.u64Array(bytes, bytes.count - 8)
        let computed = Checksum.xxh3(bytes[FormatConstants.fileHeaderSize..<(bytes.count - 8)], seed: header.segmentNumber)
        guard stored == computed else { throw StoreError(.corrupted, "segment hint checksum mismatch", path: path) }
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        var end = UInt64(FormatConstants.fileHeaderSize)
        for i in 0..<count {
            let entry = Entry(
                contentID: ContentID(try r.u64()),
                offset: try r.u64(),
                rawLength: try r.u64(),
                storedLength: try r.u64(),
                bodyChecksum: try r.u64(),
                commitBatch: try r.u64()
            )
            // Blobs lie in order, aligned, without overlap, before the seal.
            let align = UInt64(FormatConstants.recordAlignment)
            guard entry.contentID.rawValue != 0, entry.offset >= end, entry.offset % align == 0,
                  entry.storedLength % align == 0, entry.storedLength <= UInt64(Int32.max),
                  entry.offset <= UInt64(Int32.max),
                  entry.offset + UInt64(BlobFormat.headerSize) + entry.storedLength <= sealOffset
            else {
                throw StoreError(.corrupted, "segment hint entry \(i) out of place", path: path)
            }
            end = entry.offset + UInt64(BlobFormat.headerSize) + entry.storedLength
            entries.append(entry)
        }
        guard sealOffset >= end, sealOffset % UInt64(FormatConstants.recordAlignment) == 0,
              sealOffset <= UInt64(Int32.max) else {
            throw StoreError(.corrupted, "segment hint seal offset \(sealOffset) out of place", path: path)
        }
        return SegmentHint(segmentNumber: header.segmentNumber, sealOffset: sealOffset, sealBatch: sealBatch, entries: entries)
    }
}

extension LittleEndian {
    static func u64Array(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        bytes.withUnsafeBytes { u64($0, offset) }
    }
}
