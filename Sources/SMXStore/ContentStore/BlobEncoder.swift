/// Turns a body that arrives in pieces into blob bytes: cuts it into chunks of
/// `chunkSize` raw bytes, compresses each one that pays off, frames and checksums it, and
/// keeps the body's running checksum. Pure computation, no I/O: ``ContentWriter`` puts the
/// bytes in a segment or a large body file, and benchmarks and fuzzers call it directly.
///
/// The encoded bytes start with ``BlobFormat/headerSize`` reserved bytes for the header,
/// which is only known once the body is complete (and, in a segment, once its place and
/// commit batch are known): see ``header(commitBatch:)``.
public struct BlobEncoder: ~Copyable {
    /// Chunks with fewer raw bytes are stored raw by default (see `ChunkCompression`).
    public static let defaultMinimumCompressedChunk = 2048

    public let contentID: ContentID
    public let chunkSize: Int
    private let compression: ChunkCompression?
    private var compressing: Bool
    private var misses = 0
    private var sawFirstBytes = false

    /// Reserved header bytes followed by the chunk frames encoded so far.
    public private(set) var bytes: [UInt8]
    public private(set) var rawLength: UInt64 = 0
    public private(set) var chunkCount = 0
    private var chunk: [UInt8]
    private var scratch: [UInt8] = []
    private let checksum = StreamingChecksum()

    /// `level` nil stores every chunk raw; so does a chunk shorter than `minimumChunk`.
    public init(
        contentID: ContentID,
        chunkSize: Int = BlobFormat.maxChunkSize,
        compressionLevel level: Int32? = 1,
        minimumGain: Double = 0.1,
        minimumChunk: Int = BlobEncoder.defaultMinimumCompressedChunk,
        hint: CompressionHint = .automatic
    ) {
        self.init(
            contentID: contentID,
            chunkSize: chunkSize,
            compression: level.map { ChunkCompression(level: $0, minimumGain: minimumGain, minimumChunk: minimumChunk) },
            hint: hint
        )
    }

    init(contentID: ContentID, chunkSize: Int, compression: ChunkCompression?, hint: CompressionHint) {
        precondition(chunkSize > 0 && chunkSize <= BlobFormat.maxChunkSize, "chunk size \(chunkSize)")
        self.contentID = contentID
        self.chunkSize = chunkSize
        self.compression = compression
        self.compressing = compression != nil && hint == .automatic
        self.bytes = [UInt8](repeating: 0, count: BlobFormat.headerSize)
        // Not reserved up front: most bodies are a few KiB, and a 64 KiB buffer per message
        // costs the allocator more than letting a large chunk grow.
        self.chunk = []
    }

    /// Bytes of chunk frames after the reserved header.
    public var storedLength: Int { bytes.count - BlobFormat.headerSize }

    public mutating func append(_ data: UnsafeRawBufferPointer) {
        guard data.count > 0 else { return }
        checksum.update(data)
        rawLength += UInt64(data.count)
        var rest = data
        while !rest.isEmpty {
            let take = min(chunkSize - chunk.count, rest.count)
            chunk.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[0..<take]))
            rest = UnsafeRawBufferPointer(rebasing: rest[take...])
            if chunk.count == chunkSize { encodeChunk() }
        }
    }

    public mutating func append(_ data: [UInt8]) {
        data.withUnsafeBytes { append($0) }
    }

    /// Encodes the last partial chunk; call once, after the last ``append(_:)``.
    public mutating func finishChunks() {
        if !chunk.isEmpty { encodeChunk() }
    }

    /// Hands out the chunk frames encoded so far (without the reserved header) and
    /// forgets them: the streaming path for a large body file.
    public mutating func takeFrames() -> [UInt8] {
        let frames = Array(bytes[BlobFormat.headerSize...])
        bytes.removeSubrange(BlobFormat.headerSize...)
        return frames
    }

    /// Bytes of frames held (encoded but not yet taken).
    public var heldFrameBytes: Int { bytes.count - BlobFormat.headerSize }

    /// The header for the complete body, whose frames add up to `storedLength` bytes.
    public func header(storedLength: Int, commitBatch: UInt64) -> BlobHeader {
        BlobHeader(
            contentID: contentID,
            rawLength: rawLength,
            storedLength: UInt64(storedLength),
            bodyChecksum: checksum.digest(),
            chunkCount: UInt32(chunkCount),
            chunkSize: UInt32(chunkSize),
            commitBatch: commitBatch
        )
    }

    /// Checksum of the raw bytes appended so far.
    public var bodyChecksum: UInt64 { checksum.digest() }

    /// Takes the held bytes (header space plus frames) out of the encoder.
    public mutating func takeBytes() -> [UInt8] {
        let all = bytes
        bytes = []
        return all
    }

    private mutating func encodeChunk() {
        let index = chunkCount
        let rawCount = chunk.count
        var encoded: Int?
        // The first chunk, not the first append, holds the body's first bytes (a piece may
        // be shorter than a signature); a chunk shorter than a signature is never compressed.
        if !sawFirstBytes {
            sawFirstBytes = true
            if compressing && chunk.withUnsafeBytes({ ChunkCompression.looksCompressed($0) }) { compressing = false }
        }
        // A chunk too short to try is not a miss: it says nothing about the rest.
        if compressing, let compression, rawCount >= compression.minimumChunk {
            encoded = chunk.withUnsafeBytes { compression.compress($0, into: &scratch) }
            misses = encoded != nil ? 0 : misses + 1
            if misses >= ChunkCompression.giveUpAfter { compressing = false }
        }
        if let encoded {
            scratch.withUnsafeBytes {
                ChunkFrame.append(
                    to: &bytes, payload: UnsafeRawBufferPointer(rebasing: $0[0..<encoded]), rawLength: rawCount,
                    encoding: .zstd, index: index, contentID: contentID
                )
            }
        } else {
            chunk.withUnsafeBytes {
                ChunkFrame.append(to: &bytes, payload: $0, rawLength: rawCount, encoding: .raw, index: index, contentID: contentID)
            }
        }
        chunk.removeAll(keepingCapacity: true)
        chunkCount += 1
    }
}
