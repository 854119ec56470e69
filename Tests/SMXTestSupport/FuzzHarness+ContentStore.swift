import SMXStore

/// The content store's fuzz targets: blobs, content segments, segment hints and the
/// release journal. As in ``FuzzHarness``, every contract is a `precondition`.
///
/// Checksums stop a fuzzer at the first byte it changes, so each target decodes its input
/// twice: as given, and with every checksum it can find recomputed ("fixed up"). The
/// second pass is how mutations of lengths, counts, offsets and zstd frames reach the
/// checks behind the checksums.
extension FuzzHarness {
    public static func blobDecoder(_ input: UnsafeRawBufferPointer) {
        blobDecoder(Array(input.prefix(maxInput)))
    }

    public static func contentSegment(_ input: UnsafeRawBufferPointer) {
        contentSegment(Array(input.prefix(maxInput)))
    }

    public static func segmentHint(_ input: UnsafeRawBufferPointer) {
        segmentHint(Array(input.prefix(maxInput)))
    }

    public static func releaseJournal(_ input: UnsafeRawBufferPointer) {
        releaseJournal(Array(input.prefix(maxInput)))
    }

    /// Bodies larger than this are not re-encoded (a forged header may claim 64 KiB per
    /// 24 stored bytes; re-encoding hundreds of MiB per input would stall the fuzzer).
    static let reencodeLimit = 1 << 20

    // MARK: - Blobs

    /// `BlobDecoder.decode` of the blob at offset 0, its header checksum seeded with the
    /// last 8 bytes of the input (``frameSeed(_:)``; seed files append it), as given and
    /// fixed up; then `BlobHeader.decode` and `ChunkFrame.decode` at many offsets.
    public static func blobDecoder(_ data: [UInt8]) {
        let data = data.count > maxInput ? Array(data.prefix(maxInput)) : data
        let seed = frameSeed(data)
        checkBlob(data, seed: seed)
        let fixed = fixingBlobChecksums(data, seed: seed)
        if fixed != data { checkBlob(fixed, seed: seed) }
        checkHeadersAndChunks(fixed, seed: seed)
    }

    /// A decoded body has the header's length and checksum, verify-only agrees, and the
    /// body encodes (compressed and raw) into a blob that decodes to the same body.
    static func checkBlob(_ data: [UInt8], seed: UInt64) {
        let (decoded, verified, headerOnly) = data.withUnsafeBytes { p in
            (BlobDecoder.decode(p, at: 0, seed: seed),
             BlobDecoder.decode(p, at: 0, seed: seed, verifyOnly: true),
             BlobHeader.decode(p, at: 0, seed: seed))
        }
        switch (decoded, verified) {
        case (.failure(let problem), .failure(let again)):
            precondition(problem == again, "verify-only fails differently: \(problem) / \(again)")
            if case .failure(let headerProblem) = headerOnly {
                precondition(problem == headerProblem, "blob and header decode disagree: \(problem) / \(headerProblem)")
            }
        case (.success(let (header, body)), .success(let (header2, nothing))):
            precondition(header2 == header && nothing.isEmpty, "verify-only returned something else")
            precondition(headerOnly == .success(header), "the header decodes differently alone")
            precondition(header.kind == .body && header.contentID.rawValue != 0)
            precondition(header.extent <= data.count, "blob of \(header.extent) bytes in \(data.count)")
            precondition(UInt64(body.count) == header.rawLength, "body of \(body.count) bytes, header says \(header.rawLength)")
            precondition(Checksum.xxh3(body) == header.bodyChecksum, "body checksum differs from the header's")
            if body.count <= reencodeLimit { checkReencoding(body, like: header, seed: seed) }
        default:
            preconditionFailure("decode and verify-only disagree: \(decoded) / \(verified)")
        }
    }

    static func checkReencoding(_ body: [UInt8], like header: BlobHeader, seed: UInt64) {
        for level in [Int32(1), nil] {
            let blob = BlobAssembler.encode(
                body, contentID: header.contentID, chunkSize: Int(header.chunkSize),
                compressionLevel: level, commitBatch: header.commitBatch, seed: seed
            )
            guard case .success(let (h, again)) = blob.withUnsafeBytes({ BlobDecoder.decode($0, at: 0, seed: seed) }) else {
                preconditionFailure("a re-encoded body does not decode")
            }
            precondition(again == body, "re-encoding changed the body")
            precondition(blob.count == h.extent, "encoder wrote \(blob.count) bytes for a blob of \(h.extent)")
            precondition(
                h.contentID == header.contentID && h.rawLength == header.rawLength
                    && h.bodyChecksum == header.bodyChecksum && h.chunkCount == header.chunkCount
                    && h.chunkSize == header.chunkSize && h.commitBatch == header.commitBatch,
                "re-encoded header differs: \(h) / \(header)"
            )
            precondition(h.storedLength <= BlobFormat.maxStoredLength(rawLength: h.rawLength, chunkSize: Int(h.chunkSize)))
        }
    }

    /// `data` with the header checksum at 0 and the checksums of the chunk frames after it
    /// recomputed (the last 8 bytes, the seed, are left alone).
    static func fixingBlobChecksums(_ data: [UInt8], seed: UInt64) -> [UInt8] {
        let limit = data.count - 8
        guard limit >= BlobFormat.headerSize else { return data }
        var fixed = data
        BlobAssembler.rechecksumHeader(&fixed, at: 0, seed: seed)
        let (contentID, chunks) = fixed.withUnsafeBytes { (ContentID(LittleEndian.u64($0, 8)), Int(LittleEndian.u32($0, 40))) }
        var position = BlobFormat.headerSize
        for _ in 0..<min(chunks, 4096) {
            guard limit - position >= BlobFormat.chunkHeaderSize else { break }
            let stored = fixed.withUnsafeBytes { Int(LittleEndian.u32($0, position + 8)) }
            guard stored <= limit - position - BlobFormat.chunkHeaderSize else { break }
            BlobAssembler.rechecksumChunk(&fixed, at: position, contentID: contentID)
            position += BlobFormat.chunkFrameSize(storedCount: stored)
        }
        return fixed
    }

    /// Header and chunk decoding at out-of-range, unaligned and aligned offsets: typed
    /// results only, and whatever verifies re-encodes to the same bytes.
    static func checkHeadersAndChunks(_ data: [UInt8], seed: UInt64) {
        data.withUnsafeBytes { p in
            let size = BlobFormat.headerSize
            for offset in [-1, -8, Int.min, Int.max, p.count, p.count + 1, p.count - size + 1]
            where offset < 0 || offset > p.count || p.count - offset < size {
                precondition(BlobHeader.decode(p, at: offset, seed: seed) == .failure(.truncated), "offset \(offset)")
            }
            let offsets = Array(0..<min(p.count, 128)) + Array(stride(from: 128, to: p.count, by: 8).prefix(512))
            let atZero = BlobHeader.decode(p, at: 0, seed: seed)
            // The blob's own header when it verifies, else one made up from the input, so
            // chunk frames anywhere get a content id (their checksum seed) and a shape.
            let header: BlobHeader = if case .success(let h) = atZero, h.kind == .body, h.chunkCount > 0 { h } else {
                BlobHeader(
                    contentID: ContentID(seed), rawLength: 4 * UInt64(BlobFormat.maxChunkSize) - 1, storedLength: 0,
                    bodyChecksum: 0, chunkCount: 4, chunkSize: UInt32(BlobFormat.maxChunkSize), commitBatch: 0
                )
            }
            for offset in offsets {
                checkHeader(p, at: offset, seed: seed)
                checkChunkFrame(p, at: offset, header: header)
            }
            for index in [-1, Int(header.chunkCount), Int.max, Int.min] {
                guard case .failure(.badChunk(index, _)) = ChunkFrame.decode(p, at: 0, index: index, of: header) else {
                    preconditionFailure("chunk index \(index) of \(header.chunkCount) accepted")
                }
            }
        }
    }

    static func checkHeader(_ p: UnsafeRawBufferPointer, at offset: Int, seed: UInt64) {
        let size = BlobFormat.headerSize
        switch BlobHeader.decode(p, at: offset, seed: seed) {
        case .failure(.truncated):
            precondition(p.count - offset < size, "a whole header reported truncated")
        case .failure(.allZeros):
            precondition(p[offset..<(offset + size)].allSatisfy { $0 == 0 })
        case .failure:
            precondition(p.count - offset >= size)
        case .success(let h):
            precondition(h.encode(seed: seed).elementsEqual(p[offset..<(offset + size)]), "header does not re-encode to its bytes")
            switch h.kind {
            case .seal:
                precondition(h.contentID.rawValue == 0 && h.rawLength == 0 && h.storedLength == 0 && h.chunkCount == 0)
            case .body:
                precondition(h.chunkSize >= 1 && h.chunkSize <= UInt32(BlobFormat.maxChunkSize))
                precondition(UInt64(h.chunkCount) == BlobFormat.chunkCount(rawLength: h.rawLength, chunkSize: Int(h.chunkSize)))
                precondition(h.storedLength % UInt64(FormatConstants.recordAlignment) == 0)
                precondition(h.storedLength >= UInt64(h.chunkCount) * UInt64(BlobFormat.chunkHeaderSize))
                precondition(h.storedLength <= BlobFormat.maxStoredLength(rawLength: h.rawLength, chunkSize: Int(h.chunkSize)))
                precondition(h.extent > 0, "extent overflows")
                if h.chunkCount > 0 {
                    let last = h.rawLength(ofChunk: Int(h.chunkCount) - 1)
                    precondition(last >= 1 && last <= Int(h.chunkSize))
                    precondition(h.rawLength(ofChunk: Int(h.chunkCount)) == 0)
                }
            }
        }
    }

    static func checkChunkFrame(_ p: UnsafeRawBufferPointer, at offset: Int, header: BlobHeader) {
        let size = BlobFormat.chunkHeaderSize
        // The index the frame carries when the header has one of that number, so the
        // decoder gets past the index check.
        var index = 0
        if p.count - offset >= size {
            let carried = Int(LittleEndian.u32(p, offset + 20))
            if carried < Int(header.chunkCount) { index = carried }
        }
        switch ChunkFrame.decode(p, at: offset, index: index, of: header) {
        case .failure(.truncated):
            let stored = p.count - offset >= size ? Int(LittleEndian.u32(p, offset + 8)) : 0
            precondition(p.count - offset < size + stored, "a whole chunk frame reported truncated")
        case .failure:
            precondition(p.count - offset >= size)
        case .success(let frame):
            precondition(frame.index == index && frame.payloadOffset == offset + size)
            precondition(frame.storedLength <= BlobFormat.maxChunkSize && frame.payloadOffset + frame.storedLength <= p.count)
            precondition(frame.rawLength == header.rawLength(ofChunk: index) && frame.rawLength > 0)
            precondition(frame.encoding == .zstd || frame.storedLength == frame.rawLength)
            var again: [UInt8] = []
            ChunkFrame.append(
                to: &again,
                payload: UnsafeRawBufferPointer(rebasing: p[frame.payloadOffset..<(frame.payloadOffset + frame.storedLength)]),
                rawLength: frame.rawLength, encoding: frame.encoding, index: index, contentID: header.contentID
            )
            precondition(again.count == frame.frameSize)
            let end = min(p.count, offset + frame.frameSize)
            precondition(again[..<(end - offset)].elementsEqual(p[offset..<end]), "chunk frame does not re-encode to its bytes")
        }
    }

    // MARK: - Content segments

    /// `ContentSegmentScan.scan` with and without chunk checks, as given and with every
    /// blob header (and its chunks) re-checksummed; the seed is the segment-number field
    /// whether or not the file header verifies.
    public static func contentSegment(_ data: [UInt8]) {
        let data = data.count > maxInput ? Array(data.prefix(maxInput)) : data
        let seed: UInt64 = data.count >= 40 ? data.withUnsafeBytes { LittleEndian.u64($0, 32) } : 0
        checkSegmentScans(data, seed: seed)
        let fixed = fixingSegmentChecksums(data, seed: seed)
        if fixed != data { checkSegmentScans(fixed, seed: seed) }
    }

    static func checkSegmentScans(_ data: [UInt8], seed: UInt64) {
        data.withUnsafeBytes { p in
            let fast = ContentSegmentScan.scan(p, seed: seed, verifyChunks: false)
            let full = ContentSegmentScan.scan(p, seed: seed, verifyChunks: true)
            checkScan(fast, p, seed: seed, verifiedChunks: false)
            checkScan(full, p, seed: seed, verifiedChunks: true)
            precondition(fast.blobs.allSatisfy { $0.problem == nil }, "a chunk problem without chunk checks")
            var stripped = full
            for i in stripped.blobs.indices { stripped.blobs[i].problem = nil }
            precondition(stripped == fast, "chunk checks changed what the scan found")

            // A cut copy (a segment being written, or a short read) finds the same blobs
            // up to the cut and never traps.
            let cut = Int(Checksum.xxh3(p, seed: 0xC07) % UInt64(p.count + 1))
            let prefix = UnsafeRawBufferPointer(rebasing: p[..<cut])
            let partial = ContentSegmentScan.scan(prefix, seed: seed, verifyChunks: true)
            checkScan(partial, prefix, seed: seed, verifiedChunks: true)
            let before = full.blobs.filter { $0.offset + $0.header.extent <= cut }
            precondition(partial.blobs.prefix(before.count).elementsEqual(before), "a cut copy lost blobs before the cut")
        }
    }

    /// Blobs and damage tile part of the file in order without overlap, each blob's header
    /// verifies where it is said to be, no damage hides a verifying header, and the seal
    /// and data end are where the last verified thing ends.
    static func checkScan(_ scan: ContentSegmentScan, _ p: UnsafeRawBufferPointer, seed: UInt64, verifiedChunks: Bool) {
        let start = BlobFormat.segmentDataStart
        let align = FormatConstants.recordAlignment
        precondition(scan.dataEnd >= min(start, p.count), "data end \(scan.dataEnd)")
        precondition(scan.dataEnd <= max(p.count, 0), "data end \(scan.dataEnd) of \(p.count)")
        var spans = scan.blobs.map { (start: $0.offset, end: $0.offset + $0.header.extent) }
        spans += scan.damage.map { (start: $0.start, end: $0.end) }
        spans.sort { $0.start < $1.start }
        var cursor = start
        for span in spans {
            precondition(span.start >= cursor && span.end > span.start && span.end <= p.count,
                         "span \(span.start)..<\(span.end) after \(cursor) in \(p.count)")
            precondition(span.start % align == 0, "span at unaligned \(span.start)")
            cursor = span.end
        }
        precondition(scan.blobs.map(\.offset) == scan.blobs.map(\.offset).sorted())
        for blob in scan.blobs {
            precondition(BlobHeader.decode(p, at: blob.offset, seed: seed) == .success(blob.header),
                         "blob at \(blob.offset) does not re-decode")
            precondition(blob.header.kind == .body)
            if verifiedChunks {
                let decoded = BlobDecoder.decode(p, at: blob.offset, seed: seed, verifyOnly: true)
                switch (blob.problem, decoded) {
                case (nil, .success), (nil, .failure(.decompressionFailed)), (nil, .failure(.bodyChecksumMismatch)):
                    break
                case (let problem?, .failure(let again)):
                    if case .decompressionFailed = again { break }
                    precondition(problem == again, "scanner and decoder disagree on a chunk: \(problem) / \(again)")
                default:
                    preconditionFailure("scanner says \(String(describing: blob.problem)), decoder \(decoded)")
                }
            }
        }
        for damage in scan.damage {
            for q in stride(from: damage.start + align, to: min(damage.end, p.count - BlobFormat.headerSize + 1), by: align) {
                guard case .failure = BlobHeader.decode(p, at: q, seed: seed) else {
                    preconditionFailure("damage \(damage.start)..<\(damage.end) hides a header at \(q)")
                }
            }
        }
        let lastBlobEnd = scan.blobs.last.map { $0.offset + $0.header.extent } ?? min(start, p.count)
        if let seal = scan.sealOffset {
            precondition(seal >= cursor && seal % align == 0 && seal + BlobFormat.headerSize <= p.count)
            guard case .success(let h) = BlobHeader.decode(p, at: seal, seed: seed), h.kind == .seal,
                  h.commitBatch == scan.sealBatch else {
                preconditionFailure("the seal at \(seal) does not decode as a seal")
            }
            precondition(scan.dataEnd == seal + BlobFormat.headerSize, "data end \(scan.dataEnd) after a seal at \(seal)")
        } else {
            precondition(scan.sealBatch == nil && scan.dataEnd == lastBlobEnd, "data end \(scan.dataEnd), last blob ends at \(lastBlobEnd)")
        }
    }

    /// `data` with the checksum of every aligned header that starts with the blob magic
    /// recomputed, and the chunk checksums of each such blob.
    static func fixingSegmentChecksums(_ data: [UInt8], seed: UInt64) -> [UInt8] {
        var fixed = data
        var offset = FormatConstants.fileHeaderSize
        while offset + BlobFormat.headerSize <= fixed.count {
            if fixed.withUnsafeBytes({ LittleEndian.u32($0, offset) }) == BlobFormat.magicWord {
                BlobAssembler.rechecksumHeader(&fixed, at: offset, seed: seed)
                let (contentID, chunks) = fixed.withUnsafeBytes {
                    (ContentID(LittleEndian.u64($0, offset + 8)), Int(LittleEndian.u32($0, offset + 40)))
                }
                var position = offset + BlobFormat.headerSize
                for _ in 0..<min(chunks, 4096) {
                    guard fixed.count - position >= BlobFormat.chunkHeaderSize else { break }
                    let stored = fixed.withUnsafeBytes { Int(LittleEndian.u32($0, position + 8)) }
                    guard stored <= fixed.count - position - BlobFormat.chunkHeaderSize else { break }
                    BlobAssembler.rechecksumChunk(&fixed, at: position, contentID: contentID)
                    position += BlobFormat.chunkFrameSize(storedCount: stored)
                }
            }
            offset += FormatConstants.recordAlignment
        }
        return fixed
    }

    // MARK: - Segment hints

    /// `SegmentHint.decode` as given and with the file header and hint checksums
    /// recomputed; the queue id is the one in the input's header.
    public static func segmentHint(_ data: [UInt8]) {
        let data = data.count > maxInput ? Array(data.prefix(maxInput)) : data
        checkHint(data)
        let fixed = fixingIndexFileChecksums(data, frames: false)
        if fixed != data { checkHint(fixed) }
    }

    static func queueID(of data: [UInt8]) -> QueueID {
        data.count >= 32 ? QueueID(bytes: Array(data[16..<32])) : FuzzSeeds.queueID
    }

    /// A hint that decodes lists blobs in order before its seal, and encodes back to the
    /// same bytes but for the fields it does not keep (file header base sequence and
    /// flags, the reserved word, and the checksums over them).
    static func checkHint(_ data: [UInt8]) {
        let queueID = queueID(of: data)
        let hint: SegmentHint
        do {
            hint = try SegmentHint.decode(data, queueID: queueID, path: "fuzz")
        } catch let error as StoreError {
            precondition(error.code == .corrupted || error.code == .unsupportedVersion, "unexpected error \(error)")
            return
        } catch {
            preconditionFailure("SegmentHint.decode threw a non-StoreError: \(error)")
        }
        guard let header = try? FileHeader.decode(data) else { preconditionFailure("a hint without a valid file header") }
        precondition(header.kind == .contentSegmentHint && header.segmentNumber == hint.segmentNumber)
        var end = UInt64(FormatConstants.fileHeaderSize)
        for entry in hint.entries {
            precondition(entry.contentID.rawValue != 0 && entry.offset >= end && entry.offset % 8 == 0)
            end = entry.offset + UInt64(BlobFormat.headerSize) + entry.storedLength
        }
        precondition(hint.sealOffset >= end && hint.sealOffset % 8 == 0)
        let encoded = hint.encode(queueID: queueID, createdMicros: header.createdMicros)
        precondition(encoded.count == data.count, "hint encodes to \(encoded.count) bytes, decoded from \(data.count)")
        let body = FormatConstants.fileHeaderSize
        let notKept = [12..<16, 40..<48, 56..<64, (body + 20)..<(body + 24), (data.count - 8)..<data.count]
        for i in data.indices where encoded[i] != data[i] {
            precondition(notKept.contains { $0.contains(i) }, "hint re-encodes differently at byte \(i)")
        }
        precondition((try? SegmentHint.decode(encoded, queueID: queueID)) == hint, "re-encoded hint decodes differently")
    }

    // MARK: - Release journal

    /// `ReleaseJournal.decode` as given and with the file header and record checksums
    /// recomputed.
    public static func releaseJournal(_ data: [UInt8]) {
        let data = data.count > maxInput ? Array(data.prefix(maxInput)) : data
        checkJournal(data)
        let fixed = fixingIndexFileChecksums(data, frames: true)
        if fixed != data { checkJournal(fixed) }
    }

    /// A journal that decodes stops where its last good record ends, a cut copy yields a
    /// prefix of its ids, and the ids written into a fresh journal read back the same.
    static func checkJournal(_ data: [UInt8]) {
        let queueID = queueID(of: data)
        let contents: ReleaseJournal.Contents
        do {
            contents = try ReleaseJournal.decode(data, queueID: queueID, path: "fuzz")
        } catch let error as StoreError {
            precondition(error.code == .corrupted || error.code == .unsupportedVersion, "unexpected error \(error)")
            return
        } catch {
            preconditionFailure("ReleaseJournal.decode threw a non-StoreError: \(error)")
        }
        guard let header = try? FileHeader.decode(data) else { preconditionFailure("a journal without a valid file header") }
        precondition(contents.generation == header.segmentNumber)
        precondition(contents.end >= FormatConstants.fileHeaderSize && contents.end % 8 == 0)
        precondition(contents.end <= FormatConstants.aligned(data.count), "journal end \(contents.end) of \(data.count)")
        if let stopped = contents.stoppedAt {
            precondition(stopped.offset == contents.end, "stopped at \(stopped.offset), end \(contents.end)")
        }

        let cut = FormatConstants.fileHeaderSize + Int(Checksum.xxh3(data, seed: 0xC07) % UInt64(data.count - FormatConstants.fileHeaderSize + 1))
        guard let partial = try? ReleaseJournal.decode(Array(data[..<cut]), queueID: queueID) else {
            preconditionFailure("a cut journal does not decode")
        }
        precondition(contents.ids.starts(with: partial.ids), "a cut journal reads other ids")
        let upToEnd = try? ReleaseJournal.decode(Array(data[..<min(data.count, contents.end)]), queueID: queueID)
        precondition(upToEnd?.ids == contents.ids && upToEnd?.stoppedAt == nil, "the journal up to its end reads differently")

        var rewritten = Array(data[..<FormatConstants.fileHeaderSize])
        var sequence: UInt64 = 0
        var rest = contents.ids[...]
        while !rest.isEmpty {
            sequence += 1
            ReleaseJournal.appendRecord(
                to: &rewritten, ids: rest.prefix(ReleaseJournal.maxIDsPerRecord), sequence: sequence, generation: contents.generation
            )
            rest = rest.dropFirst(ReleaseJournal.maxIDsPerRecord)
        }
        guard let again = try? ReleaseJournal.decode(rewritten, queueID: queueID) else {
            preconditionFailure("a rewritten journal does not decode")
        }
        precondition(
            again.generation == contents.generation && again.ids == contents.ids && again.end == rewritten.count
                && again.lastSequence == sequence && again.stoppedAt == nil,
            "rewritten journal reads differently"
        )
    }

    // MARK: - Index files

    /// `data` with its file header checksum recomputed, then either the hint checksum at
    /// the end (seeded with the segment number) or, with `frames`, the checksum of every
    /// record frame that fits, walked by length.
    static func fixingIndexFileChecksums(_ data: [UInt8], frames: Bool) -> [UInt8] {
        let start = FormatConstants.fileHeaderSize
        guard data.count >= start else { return data }
        var fixed = data
        fixed.withUnsafeMutableBytes { p in
            let sum = Checksum.xxh3(UnsafeRawBufferPointer(rebasing: p[0..<56]))
            LittleEndian.store(sum, p, 56)
        }
        let seed = fixed.withUnsafeBytes { LittleEndian.u64($0, 32) }
        if !frames {
            guard data.count >= start + 8 else { return fixed }
            let sum = Checksum.xxh3(fixed[start..<(fixed.count - 8)], seed: seed)
            fixed.withUnsafeMutableBytes { LittleEndian.store(sum, $0, $0.count - 8) }
            return fixed
        }
        var offset = start
        while fixed.count - offset >= FormatConstants.recordHeaderSize {
            // A zero header is the end of the data; a checksum there would make it damage.
            guard fixed[offset..<(offset + FormatConstants.recordHeaderSize)].contains(where: { $0 != 0 }) else { break }
            let length = fixed.withUnsafeBytes { Int(LittleEndian.u32($0, offset + 8)) }
            guard length <= fixed.count - offset - FormatConstants.recordHeaderSize else { break }
            fixed.withUnsafeMutableBytes { p in
                let covered = UnsafeRawBufferPointer(rebasing: p[(offset + 8)..<(offset + FormatConstants.recordHeaderSize + length)])
                LittleEndian.store(Checksum.xxh3(covered, seed: seed), p, offset)
            }
            offset += RecordFrame.size(payloadCount: length)
        }
        return fixed
    }
}
