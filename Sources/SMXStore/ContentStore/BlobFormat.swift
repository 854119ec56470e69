/// The bytes of one stored message body (a *blob*) and of the chunks it is cut into.
/// `docs/format/cdb.md` describes the same bytes in prose; change both together.
///
/// A blob is a 64-byte header followed by its chunk frames. In a content segment blobs
/// follow each other at 8-byte aligned offsets after the file header, and a *seal* (a
/// blob header of kind seal, no chunks) marks the end of a segment that takes no more
/// writes. A large body file holds exactly one blob after its file header.
///
/// ```
/// blob header
/// offset size field
///      0    4 magic            "SMXB"
///      4    1 version          1
///      5    1 kind             1 body, 2 seal
///      6    2 header size      u16 LE, 64
///      8    8 content id       u64 LE (0 for a seal)
///     16    8 raw length       u64 LE, bytes of the body as received
///     24    8 stored length    u64 LE, bytes of chunk frames after this header
///     32    8 body checksum    XXH3-64 (seed 0) of the raw body
///     40    4 chunk count      u32 LE
///     44    4 chunk size       u32 LE, raw bytes per chunk but the last (1 ... 65536)
///     48    8 commit batch     u64 LE, the segment's group commit that wrote it (0 in a
///                              large body file)
///     56    8 header checksum  XXH3-64 of bytes 0..<56, seeded with the file's segment
///                              number (a blob of a recycled segment never verifies)
///
/// chunk frame
///      0    8 checksum         XXH3-64 of bytes 8..<(24 + stored), seeded with the
///                              content id (a chunk verifies wherever the blob is copied)
///      8    4 stored length    u32 LE, payload bytes
///     12    4 raw length       u32 LE, bytes after decoding
///     16    1 encoding         0 raw, 1 zstd frame
///     17    3 reserved         0
///     20    4 chunk index      u32 LE, 0-based
///     24    n payload
///   24+n    p padding          zero bytes up to a multiple of 8
/// ```
public enum BlobFormat {
    public static let magic: [UInt8] = Array("SMXB".utf8)
    /// `magic` read as a little-endian u32.
    public static let magicWord: UInt32 = 0x4258_4D53
    public static let version: UInt8 = 1
    public static let headerSize = 64
    public static let chunkHeaderSize = 24
    /// Largest raw chunk; also the default chunk size.
    public static let maxChunkSize = 65536

    /// A content segment carries its file header twice, at 0 and here (another sector).
    /// Preparing a segment writes and syncs the copy at 0 first, then this one, so a crash
    /// tears at most one of them; recovery takes the first copy that verifies.
    public static let segmentHeaderCopyOffset = 512
    /// Where a content segment's first blob goes.
    public static let segmentDataStart = 1024

    /// Bytes a chunk frame with `storedCount` payload bytes occupies, padding included.
    @inline(__always)
    public static func chunkFrameSize(storedCount: Int) -> Int {
        FormatConstants.aligned(chunkHeaderSize + storedCount)
    }

    /// Largest stored length a blob of `rawLength` bytes cut into `chunkSize` chunks can
    /// have: every chunk stored raw. Readers reject anything larger.
    public static func maxStoredLength(rawLength: UInt64, chunkSize: Int) -> UInt64 {
        let chunks = chunkCount(rawLength: rawLength, chunkSize: chunkSize)
        return rawLength + chunks * UInt64(chunkHeaderSize + FormatConstants.recordAlignment)
    }

    public static func chunkCount(rawLength: UInt64, chunkSize: Int) -> UInt64 {
        chunkSize <= 0 ? 0 : (rawLength + UInt64(chunkSize) - 1) / UInt64(chunkSize)
    }
}

/// What a blob header is.
public enum BlobKind: UInt8, Sendable {
    case body = 1
    case seal = 2
}

/// Why blob or chunk bytes did not decode. Readers turn these into a ``CorruptionReport``
/// or a ``StoreError`` naming the file, offset and content id.
public enum BlobProblem: Error, Equatable, Sendable, CustomStringConvertible {
    case truncated
    case allZeros
    case badMagic
    case badHeader(String)
    case headerChecksumMismatch
    case chunkChecksumMismatch(index: Int)
    case badChunk(index: Int, String)
    case decompressionFailed(index: Int, String)
    case bodyChecksumMismatch
    case unsupportedVersion(UInt8)

    public var description: String {
        switch self {
        case .truncated: "blob cut short"
        case .allZeros: "zero bytes where a blob header should be"
        case .badMagic: "no blob magic"
        case .badHeader(let what): "malformed blob header: \(what)"
        case .headerChecksumMismatch: "blob header checksum mismatch"
        case .chunkChecksumMismatch(let index): "chunk \(index) checksum mismatch"
        case .badChunk(let index, let what): "chunk \(index) malformed: \(what)"
        case .decompressionFailed(let index, let what): "chunk \(index) does not decompress: \(what)"
        case .bodyChecksumMismatch: "body checksum mismatch"
        case .unsupportedVersion(let v): "blob format version \(v)"
        }
    }
}

/// The decoded 64-byte blob header.
public struct BlobHeader: Equatable, Sendable {
    public var kind: BlobKind
    public var contentID: ContentID
    public var rawLength: UInt64
    public var storedLength: UInt64
    public var bodyChecksum: UInt64
    public var chunkCount: UInt32
    public var chunkSize: UInt32
    public var commitBatch: UInt64

    public init(
        kind: BlobKind = .body,
        contentID: ContentID,
        rawLength: UInt64,
        storedLength: UInt64,
        bodyChecksum: UInt64,
        chunkCount: UInt32,
        chunkSize: UInt32,
        commitBatch: UInt64
    ) {
        self.kind = kind
        self.contentID = contentID
        self.rawLength = rawLength
        self.storedLength = storedLength
        self.bodyChecksum = bodyChecksum
        self.chunkCount = chunkCount
        self.chunkSize = chunkSize
        self.commitBatch = commitBatch
    }

    /// The seal that ends a segment's data.
    public static func seal(commitBatch: UInt64) -> BlobHeader {
        BlobHeader(
            kind: .seal, contentID: ContentID(0), rawLength: 0, storedLength: 0, bodyChecksum: 0,
            chunkCount: 0, chunkSize: 0, commitBatch: commitBatch
        )
    }

    /// Bytes the whole blob occupies: header plus chunk frames.
    public var extent: Int { BlobFormat.headerSize + Int(storedLength) }

    /// Writes the header into `p[offset ..< offset + 64]`.
    public func store(into p: UnsafeMutableRawBufferPointer, at offset: Int, seed: UInt64) {
        let q = UnsafeMutableRawBufferPointer(rebasing: p[offset..<(offset + BlobFormat.headerSize)])
        LittleEndian.store(BlobFormat.magicWord, q, 0)
        q[4] = BlobFormat.version
        q[5] = kind.rawValue
        LittleEndian.store(UInt16(BlobFormat.headerSize), q, 6)
        LittleEndian.store(contentID.rawValue, q, 8)
        LittleEndian.store(rawLength, q, 16)
        LittleEndian.store(storedLength, q, 24)
        LittleEndian.store(bodyChecksum, q, 32)
        LittleEndian.store(chunkCount, q, 40)
        LittleEndian.store(chunkSize, q, 44)
        LittleEndian.store(commitBatch, q, 48)
        let sum = Checksum.xxh3(UnsafeRawBufferPointer(rebasing: q[0..<56]), seed: seed)
        LittleEndian.store(sum, q, 56)
    }

    public func encode(seed: UInt64) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: BlobFormat.headerSize)
        bytes.withUnsafeMutableBytes { store(into: $0, at: 0, seed: seed) }
        return bytes
    }

    /// Decodes and verifies the header at `offset`, never reading outside `p`. Checks
    /// that the lengths agree with each other (chunk count, stored length bounds), so a
    /// reader can trust them to size its reads.
    public static func decode(
        _ p: UnsafeRawBufferPointer,
        at offset: Int,
        seed: UInt64
    ) -> Result<BlobHeader, BlobProblem> {
        guard offset >= 0, offset <= p.count, p.count - offset >= BlobFormat.headerSize else {
            return .failure(.truncated)
        }
        let q = UnsafeRawBufferPointer(rebasing: p[offset..<(offset + BlobFormat.headerSize)])
        guard LittleEndian.u32(q, 0) == BlobFormat.magicWord else {
            if q.allSatisfy({ $0 == 0 }) { return .failure(.allZeros) }
            return .failure(.badMagic)
        }
        guard LittleEndian.u64(q, 56) == Checksum.xxh3(UnsafeRawBufferPointer(rebasing: q[0..<56]), seed: seed) else {
            return .failure(.headerChecksumMismatch)
        }
        guard q[4] == BlobFormat.version else { return .failure(.unsupportedVersion(q[4])) }
        guard let kind = BlobKind(rawValue: q[5]) else { return .failure(.badHeader("kind \(q[5])")) }
        guard Int(LittleEndian.u16(q, 6)) == BlobFormat.headerSize else {
            return .failure(.badHeader("header size \(LittleEndian.u16(q, 6))"))
        }
        let header = BlobHeader(
            kind: kind,
            contentID: ContentID(LittleEndian.u64(q, 8)),
            rawLength: LittleEndian.u64(q, 16),
            storedLength: LittleEndian.u64(q, 24),
            bodyChecksum: LittleEndian.u64(q, 32),
            chunkCount: LittleEndian.u32(q, 40),
            chunkSize: LittleEndian.u32(q, 44),
            commitBatch: LittleEndian.u64(q, 48)
        )
        if let problem = header.inconsistency() { return .failure(.badHeader(problem)) }
        return .success(header)
    }

    /// Why the fields cannot describe a real blob, or nil.
    func inconsistency() -> String? {
        switch kind {
        case .seal:
            guard contentID.rawValue == 0, rawLength == 0, storedLength == 0, chunkCount == 0 else {
                return "seal with contents"
            }
        case .body:
            guard contentID.rawValue != 0 else { return "content id 0" }
            guard chunkSize > 0, chunkSize <= BlobFormat.maxChunkSize else { return "chunk size \(chunkSize)" }
            guard storedLength % UInt64(FormatConstants.recordAlignment) == 0 else {
                return "stored length \(storedLength) not aligned"
            }
            guard rawLength <= UInt64(Int64.max) / 2 else { return "raw length \(rawLength)" }
            let chunks = BlobFormat.chunkCount(rawLength: rawLength, chunkSize: Int(chunkSize))
            guard UInt64(chunkCount) == chunks else {
                return "\(chunkCount) chunks for \(rawLength) bytes in chunks of \(chunkSize)"
            }
            guard storedLength >= chunks * UInt64(BlobFormat.chunkHeaderSize),
                  storedLength <= BlobFormat.maxStoredLength(rawLength: rawLength, chunkSize: Int(chunkSize))
            else {
                return "stored length \(storedLength) for \(rawLength) raw bytes"
            }
        }
        return nil
    }

    /// Raw length of chunk `index` (all but the last are `chunkSize` long).
    public func rawLength(ofChunk index: Int) -> Int {
        let size = UInt64(chunkSize)
        let start = UInt64(index) * size
        return start >= rawLength ? 0 : Int(min(size, rawLength - start))
    }
}

/// How a chunk's payload is encoded.
public enum ChunkEncoding: UInt8, Sendable {
    case raw = 0
    case zstd = 1
}

/// One decoded chunk frame header; the payload is `p[payloadOffset ..< payloadOffset + storedLength]`.
public struct ChunkFrame: Equatable, Sendable {
    public var storedLength: Int
    public var rawLength: Int
    public var encoding: ChunkEncoding
    public var index: Int
    public var payloadOffset: Int
    public var frameSize: Int { BlobFormat.chunkFrameSize(storedCount: storedLength) }

    /// Appends a chunk frame for `payload` to `buffer`.
    public static func append(
        to buffer: inout [UInt8],
        payload: UnsafeRawBufferPointer,
        rawLength: Int,
        encoding: ChunkEncoding,
        index: Int,
        contentID: ContentID
    ) {
        let start = buffer.count
        let total = BlobFormat.chunkFrameSize(storedCount: payload.count)
        buffer.append(contentsOf: repeatElement(0, count: total))
        buffer.withUnsafeMutableBytes { all in
            let p = UnsafeMutableRawBufferPointer(rebasing: all[start..<(start + total)])
            LittleEndian.store(UInt32(payload.count), p, 8)
            LittleEndian.store(UInt32(rawLength), p, 12)
            p[16] = encoding.rawValue
            LittleEndian.store(UInt32(index), p, 20)
            if payload.count > 0 {
                UnsafeMutableRawBufferPointer(rebasing: p[24..<(24 + payload.count)]).copyMemory(from: payload)
            }
            let covered = UnsafeRawBufferPointer(rebasing: p[8..<(24 + payload.count)])
            LittleEndian.store(Checksum.xxh3(covered, seed: contentID.rawValue), p, 0)
        }
    }

    /// Decodes and verifies chunk frame `index` of `header`'s blob at `offset`, never
    /// reading outside `p`.
    public static func decode(
        _ p: UnsafeRawBufferPointer,
        at offset: Int,
        index: Int,
        of header: BlobHeader
    ) -> Result<ChunkFrame, BlobProblem> {
        guard index >= 0, index < Int(header.chunkCount) else {
            return .failure(.badChunk(index: index, "blob has \(header.chunkCount) chunks"))
        }
        guard offset >= 0, offset <= p.count, p.count - offset >= BlobFormat.chunkHeaderSize else {
            return .failure(.truncated)
        }
        let stored = Int(LittleEndian.u32(p, offset + 8))
        let raw = Int(LittleEndian.u32(p, offset + 12))
        let encodingByte = p[offset + 16]
        let reserved = UInt32(p[offset + 17]) | UInt32(p[offset + 18]) << 8 | UInt32(p[offset + 19]) << 16
        let storedIndex = Int(LittleEndian.u32(p, offset + 20))
        guard stored <= BlobFormat.maxChunkSize, p.count - offset - BlobFormat.chunkHeaderSize >= stored else {
            return .failure(stored > BlobFormat.maxChunkSize ? .badChunk(index: index, "stored length \(stored)") : .truncated)
        }
        let covered = UnsafeRawBufferPointer(rebasing: p[(offset + 8)..<(offset + BlobFormat.chunkHeaderSize + stored)])
        guard LittleEndian.u64(p, offset) == Checksum.xxh3(covered, seed: header.contentID.rawValue) else {
            return .failure(.chunkChecksumMismatch(index: index))
        }
        guard reserved == 0, let encoding = ChunkEncoding(rawValue: encodingByte) else {
            return .failure(.badChunk(index: index, "encoding \(encodingByte)"))
        }
        guard storedIndex == index else { return .failure(.badChunk(index: index, "carries index \(storedIndex)")) }
        guard raw == header.rawLength(ofChunk: index) else {
            return .failure(.badChunk(index: index, "raw length \(raw)"))
        }
        if encoding == .raw && stored != raw {
            return .failure(.badChunk(index: index, "raw chunk of \(stored) bytes for \(raw)"))
        }
        // The checksum does not cover the padding; it must still be as written.
        let paddingEnd = min(p.count, offset + BlobFormat.chunkFrameSize(storedCount: stored))
        guard p[(offset + BlobFormat.chunkHeaderSize + stored)..<paddingEnd].allSatisfy({ $0 == 0 }) else {
            return .failure(.badChunk(index: index, "padding not zero"))
        }
        return .success(ChunkFrame(
            storedLength: stored, rawLength: raw, encoding: encoding, index: index,
            payloadOffset: offset + BlobFormat.chunkHeaderSize
        ))
    }
}
