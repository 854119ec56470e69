import SMXStore

/// Builds content-store bytes for tests and fuzz seeds: whole blobs through the real
/// ``BlobEncoder``, blobs from explicit chunks (any payload, any encoding, with valid
/// checksums, so a damaged zstd frame gets past the chunk checksum and reaches the
/// decompressor), and small content segments.
public enum BlobAssembler {
    /// One chunk as it will be framed.
    public struct Chunk: Equatable, Sendable {
        public var encoding: ChunkEncoding
        public var payload: [UInt8]
        /// Raw length the frame announces.
        public var rawLength: Int

        public init(encoding: ChunkEncoding, payload: [UInt8], rawLength: Int) {
            self.encoding = encoding
            self.payload = payload
            self.rawLength = rawLength
        }
    }

    /// `body` encoded with ``BlobEncoder`` and its header stored with `seed`: the bytes of
    /// one blob, as a segment or a large body file holds them. Unlike the store, it tries
    /// to compress chunks of any size by default, so that small test bodies get zstd frames.
    public static func encode(
        _ body: [UInt8],
        contentID: ContentID,
        chunkSize: Int = BlobFormat.maxChunkSize,
        compressionLevel: Int32? = 1,
        minimumCompressedChunk: Int = 0,
        hint: CompressionHint = .automatic,
        commitBatch: UInt64 = 1,
        seed: UInt64
    ) -> [UInt8] {
        var encoder = BlobEncoder(
            contentID: contentID, chunkSize: chunkSize, compressionLevel: compressionLevel,
            minimumChunk: minimumCompressedChunk, hint: hint
        )
        encoder.append(body)
        encoder.finishChunks()
        let header = encoder.header(storedLength: encoder.storedLength, commitBatch: commitBatch)
        var bytes = encoder.takeBytes()
        bytes.withUnsafeMutableBytes { header.store(into: $0, at: 0, seed: seed) }
        return bytes
    }

    /// A blob framed from `chunks` as given, with a header claiming `rawLength` bytes
    /// checksumming to `bodyChecksum`; every checksum is valid, whatever the chunks hold.
    public static func blob(
        contentID: ContentID,
        chunkSize: Int,
        chunks: [Chunk],
        rawLength: UInt64,
        bodyChecksum: UInt64,
        commitBatch: UInt64 = 1,
        seed: UInt64
    ) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: BlobFormat.headerSize)
        for (index, chunk) in chunks.enumerated() {
            chunk.payload.withUnsafeBytes {
                ChunkFrame.append(
                    to: &bytes, payload: $0, rawLength: chunk.rawLength, encoding: chunk.encoding,
                    index: index, contentID: contentID
                )
            }
        }
        let header = BlobHeader(
            contentID: contentID,
            rawLength: rawLength,
            storedLength: UInt64(bytes.count - BlobFormat.headerSize),
            bodyChecksum: bodyChecksum,
            chunkCount: UInt32(chunks.count),
            chunkSize: UInt32(chunkSize),
            commitBatch: commitBatch
        )
        bytes.withUnsafeMutableBytes { header.store(into: $0, at: 0, seed: seed) }
        return bytes
    }

    /// The header and chunks of a blob that decodes (header at offset 0).
    public static func parse(_ blob: [UInt8], seed: UInt64) -> (header: BlobHeader, chunks: [Chunk])? {
        blob.withUnsafeBytes { p in
            guard case .success(let header) = BlobHeader.decode(p, at: 0, seed: seed) else { return nil }
            var chunks: [Chunk] = []
            var position = BlobFormat.headerSize
            for index in 0..<Int(header.chunkCount) {
                guard case .success(let frame) = ChunkFrame.decode(p, at: position, index: index, of: header) else {
                    return nil
                }
                let payload = Array(p[frame.payloadOffset..<(frame.payloadOffset + frame.storedLength)])
                chunks.append(Chunk(encoding: frame.encoding, payload: payload, rawLength: frame.rawLength))
                position += frame.frameSize
            }
            return (header, chunks)
        }
    }

    /// Recomputes the checksum of the chunk frame at `offset` after its bytes were edited.
    public static func rechecksumChunk(_ bytes: inout [UInt8], at offset: Int, contentID: ContentID) {
        bytes.withUnsafeMutableBytes { p in
            let stored = Int(LittleEndian.u32(UnsafeRawBufferPointer(p), offset + 8))
            let covered = UnsafeRawBufferPointer(rebasing: p[(offset + 8)..<(offset + BlobFormat.chunkHeaderSize + stored)])
            LittleEndian.store(Checksum.xxh3(covered, seed: contentID.rawValue), p, offset)
        }
    }

    /// Recomputes the header checksum of the blob at `offset` after its bytes were edited.
    public static func rechecksumHeader(_ bytes: inout [UInt8], at offset: Int, seed: UInt64) {
        bytes.withUnsafeMutableBytes { p in
            let covered = UnsafeRawBufferPointer(rebasing: p[offset..<(offset + 56)])
            LittleEndian.store(Checksum.xxh3(covered, seed: seed), p, offset + 56)
        }
    }

    /// A content segment file: file header (kind 3, segment `number`) at 0 and its copy at
    /// 512, the `blobs` (built with seed `number`, or deliberately not) one after another
    /// from 1024, and a seal when `sealBatch` is given. Returns the bytes and the offset of
    /// each blob.
    public static func segment(
        number: UInt64,
        queueID: QueueID = FuzzSeeds.queueID,
        blobs: [[UInt8]],
        sealBatch: UInt64?,
        createdMicros: UInt64 = 1_700_000_000_000_000
    ) -> (bytes: [UInt8], offsets: [Int]) {
        let header = FileHeader(
            kind: .contentSegment, queueID: queueID, segmentNumber: number, createdMicros: createdMicros
        ).encode()
        var bytes = [UInt8](repeating: 0, count: BlobFormat.segmentDataStart)
        bytes.replaceSubrange(0..<header.count, with: header)
        bytes.replaceSubrange(BlobFormat.segmentHeaderCopyOffset..<(BlobFormat.segmentHeaderCopyOffset + header.count), with: header)
        var offsets: [Int] = []
        for blob in blobs {
            offsets.append(bytes.count)
            bytes += blob
        }
        if let sealBatch {
            bytes += BlobHeader.seal(commitBatch: sealBatch).encode(seed: number)
        }
        return (bytes, offsets)
    }

    /// Deterministic text that compresses well (a mail body).
    public static func text(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
        let words = ["Received:", "from", "mail.example.org", "by", "mx.example.net", "with", "ESMTP",
                     "Subject:", "quarterly", "report", "\r\n", "the", "numbers", "are", "attached", "."]
        var prng = SplitMix64(seed: seed)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 32)
        while bytes.count < count {
            bytes += Array(words[Int(prng.next() % UInt64(words.count))].utf8)
            bytes.append(0x20)
        }
        return Array(bytes.prefix(count))
    }

    /// Deterministic bytes that do not compress.
    public static func noise(_ count: Int, seed: UInt64 = 2) -> [UInt8] {
        var prng = SplitMix64(seed: seed)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 8)
        while bytes.count < count {
            let r = prng.next()
            for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: r >> UInt64(8 * i))) }
        }
        return Array(bytes.prefix(count))
    }
}
