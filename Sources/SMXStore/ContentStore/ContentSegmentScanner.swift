/// Reads a content segment's bytes without an index: every blob whose header verifies,
/// the seal if there is one, and every stretch of bytes that is neither (with why).
/// Used when a segment has no valid hint, by recovery for the segment being written at a
/// crash, and by the tools. Pure computation over a byte buffer, total over any input.
///
/// After damage it resynchronises at the next 8-byte aligned offset that starts with the
/// blob magic and carries a header that verifies with this segment's seed; checksums are
/// computed only where the magic matches, so a scan stays linear.
public struct ContentSegmentScan: Equatable, Sendable {
    public struct Blob: Equatable, Sendable {
        public var offset: Int
        public var header: BlobHeader
        /// A chunk that failed (header fine): only when chunks were checked.
        public var problem: BlobProblem?
    }

    public struct Damage: Equatable, Sendable {
        public var start: Int
        public var end: Int
        public var problem: BlobProblem
        public var length: Int { end - start }
    }

    public var blobs: [Blob] = []
    public var damage: [Damage] = []
    /// Offset of the seal, when the segment has one; nothing after it is read.
    public var sealOffset: Int?
    /// The seal's commit batch.
    public var sealBatch: UInt64?
    /// End of the last blob or seal that verified (the data start, or the buffer's end when
    /// it is shorter, when none did).
    public var dataEnd: Int

    /// Scans `p` (a whole segment file) from ``BlobFormat/segmentDataStart``. `verifyChunks`
    /// also checks every chunk's checksum and framing (not decompression).
    public static func scan(_ p: UnsafeRawBufferPointer, seed: UInt64, verifyChunks: Bool) -> ContentSegmentScan {
        var scan = ContentSegmentScan(dataEnd: min(BlobFormat.segmentDataStart, p.count))
        var offset = BlobFormat.segmentDataStart
        while offset <= p.count - BlobFormat.headerSize {
            switch BlobHeader.decode(p, at: offset, seed: seed) {
            case .success(let header) where header.kind == .seal:
                scan.sealOffset = offset
                scan.sealBatch = header.commitBatch
                scan.dataEnd = offset + BlobFormat.headerSize
                return scan
            case .success(let header) where UInt64(p.count - offset) >= UInt64(header.extent):
                let problem = verifyChunks ? Self.checkChunks(p, at: offset, header: header) : nil
                scan.blobs.append(Blob(offset: offset, header: header, problem: problem))
                offset += header.extent
                scan.dataEnd = offset
            case .success:
                let next = resynchronise(p, after: offset, seed: seed)
                scan.damage.append(Damage(start: offset, end: next ?? lastNonZeroEnd(p, from: offset), problem: .truncated))
                guard let next else { return scan }
                offset = next
            case .failure(let problem):
                let next = resynchronise(p, after: offset, seed: seed)
                if problem == .allZeros && next == nil { return scan }
                let end = next ?? lastNonZeroEnd(p, from: offset)
                if end > offset { scan.damage.append(Damage(start: offset, end: end, problem: problem)) }
                guard let next else { return scan }
                offset = next
            }
        }
        if offset < p.count, lastNonZeroEnd(p, from: offset) > offset {
            scan.damage.append(Damage(start: offset, end: p.count, problem: .truncated))
        }
        return scan
    }

    /// Checks every chunk frame of the blob at `offset` (checksum and framing), or returns
    /// the first problem.
    static func checkChunks(_ p: UnsafeRawBufferPointer, at offset: Int, header: BlobHeader) -> BlobProblem? {
        let end = offset + header.extent
        let window = UnsafeRawBufferPointer(rebasing: p[0..<end])
        var position = offset + BlobFormat.headerSize
        for index in 0..<Int(header.chunkCount) {
            switch ChunkFrame.decode(window, at: position, index: index, of: header) {
            case .failure(let problem): return problem
            case .success(let frame): position += frame.frameSize
            }
        }
        return position == end ? nil : .badHeader("chunks end at \(position - offset), header says \(header.extent)")
    }

    /// The next aligned offset after `offset` where a header verifies, or nil.
    static func resynchronise(_ p: UnsafeRawBufferPointer, after offset: Int, seed: UInt64) -> Int? {
        var position = offset + FormatConstants.recordAlignment
        let last = p.count - BlobFormat.headerSize
        while position <= last {
            if LittleEndian.u32(p, position) == BlobFormat.magicWord,
               case .success = BlobHeader.decode(p, at: position, seed: seed) {
                return position
            }
            position += FormatConstants.recordAlignment
        }
        return nil
    }

    /// End of the last non-zero byte at or after `offset`, rounded up to the alignment
    /// (`offset` itself when everything after it is zero).
    static func lastNonZeroEnd(_ p: UnsafeRawBufferPointer, from offset: Int) -> Int {
        var end = p.count
        while end > offset && p[end - 1] == 0 { end -= 1 }
        return end == offset ? offset : min(p.count, FormatConstants.aligned(end))
    }
}
