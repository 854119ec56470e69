import CZstd

/// Whether a body should be compressed, as the receiving side knows it.
public enum CompressionHint: Sendable {
    /// Compress chunks that pay off; skip bodies that start like an already compressed file.
    case automatic
    /// Store every chunk raw (the body is known to be compressed or encrypted).
    case never
}

/// zstd per chunk, with the store's policy: a configurable level, a chunk is kept raw
/// when it is shorter than `minimumChunk` or when compressing saves less than
/// `minimumGain` of it, and a body that starts like an already compressed file is never
/// compressed. zstd contexts are pooled because creating one costs more than compressing
/// a small body.
///
/// **Why small chunks stay raw.** zstd's cost has a fixed part per call (building the
/// literals' Huffman table above all) that dominates below a few KiB. On the reference
/// machine a 1 KiB text chunk costs about 7 µs at level 1 alone, and about 12 µs per
/// message inside the receiving path under load, to save about 480 bytes of a body that
/// stays in the queue for seconds. That is spent on the acceptance path, whose throughput
/// is what the store is for. PostgreSQL draws a similar line for TOAST (about 2 KB).
/// Bigger bodies, where compression pays (HTML, base64 attachments), are compressed.
final class ChunkCompression: @unchecked Sendable {
    let level: Int32
    let minimumGain: Double
    /// Chunks with fewer raw bytes are stored raw without trying.
    let minimumChunk: Int
    /// zstd's frame overhead alone makes shorter chunks grow.
    static let smallestCompressible = 64
    /// After this many chunks in a row that did not pay off, the rest of the body is
    /// stored raw without trying (a large binary attachment).
    static let giveUpAfter = 3
    /// For decoding only (the level and gain do not matter there).
    static let shared = ChunkCompression(level: 1, minimumGain: 0.1, minimumChunk: BlobEncoder.defaultMinimumCompressedChunk)

    private let lock = SimpleLock()
    private var compressors: [OpaquePointer] = []
    private var decompressors: [OpaquePointer] = []

    init(level: Int32, minimumGain: Double, minimumChunk: Int) {
        self.level = level
        self.minimumGain = minimumGain
        self.minimumChunk = max(minimumChunk, Self.smallestCompressible)
    }

    deinit {
        for c in compressors { ZSTD_freeCCtx(c) }
        for d in decompressors { ZSTD_freeDCtx(d) }
    }

    /// Compresses `raw` into the start of `output` (grown when too small, never shrunk, so
    /// one scratch buffer serves every chunk) and returns the compressed length, or nil
    /// when the chunk should be stored raw.
    func compress(_ raw: UnsafeRawBufferPointer, into output: inout [UInt8]) -> Int? {
        guard raw.count >= minimumChunk else { return nil }
        let limit = raw.count - Int(Double(raw.count) * minimumGain)
        guard limit > 0 else { return nil }
        let context = lock.withLock { compressors.popLast() } ?? ZSTD_createCCtx()
        guard let context else { return nil }
        defer { lock.withLock { compressors.append(context) } }
        let bound = ZSTD_compressBound(raw.count)
        if output.count < bound { output = [UInt8](repeating: 0, count: bound) }
        let written = output.withUnsafeMutableBytes { out in
            ZSTD_compressCCtx(context, out.baseAddress, out.count, raw.baseAddress, raw.count, level)
        }
        guard ZSTD_isError(written) == 0, written < limit else { return nil }
        return written
    }

    /// Decompresses one chunk's zstd frame, which must expand to exactly `rawLength` bytes.
    func decompress(
        _ stored: UnsafeRawBufferPointer,
        rawLength: Int,
        into output: UnsafeMutableRawBufferPointer
    ) -> String? {
        guard output.count >= rawLength else { return "output too small" }
        let context = lock.withLock { decompressors.popLast() } ?? ZSTD_createDCtx()
        guard let context else { return "cannot create a zstd context" }
        defer { lock.withLock { decompressors.append(context) } }
        // A frame may announce any content size; check it before trusting it.
        let announced = ZSTD_getFrameContentSize(stored.baseAddress, stored.count)
        if announced != ZSTD_CONTENTSIZE_UNKNOWN, announced != UInt64(rawLength) {
            return announced == ZSTD_CONTENTSIZE_ERROR ? "not a zstd frame" : "frame announces \(announced) bytes"
        }
        let result = ZSTD_decompressDCtx(context, output.baseAddress, rawLength, stored.baseAddress, stored.count)
        if ZSTD_isError(result) != 0 {
            ZSTD_DCtx_reset(context, ZSTD_reset_session_and_parameters)
            return String(cString: ZSTD_getErrorName(result))
        }
        guard result == rawLength else { return "decompressed to \(result) bytes, expected \(rawLength)" }
        return nil
    }

    /// True when `prefix` (the first bytes of a body) starts like a compressed container:
    /// zstd, gzip, xz, bzip2, zip, 7z, rar, PNG, JPEG, WebP/RIFF, or an OpenPGP/CMS
    /// binary message. Mail bodies are text, so this fires only for BINARYMIME bodies and
    /// callers that store raw files.
    static func looksCompressed(_ prefix: UnsafeRawBufferPointer) -> Bool {
        compressedSignatures.contains { sig in
            prefix.count >= sig.count && zip(sig, prefix).allSatisfy { $0 == $1 }
        }
    }

    private static let compressedSignatures: [[UInt8]] = [
        [0x28, 0xB5, 0x2F, 0xFD],             // zstd
        [0x1F, 0x8B],                         // gzip
        [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00], // xz
        [0x42, 0x5A, 0x68],                   // bzip2
        [0x50, 0x4B, 0x03, 0x04],             // zip
        [0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C], // 7z
        [0x52, 0x61, 0x72, 0x21, 0x1A, 0x07], // rar
        [0x89, 0x50, 0x4E, 0x47],             // PNG
        [0xFF, 0xD8, 0xFF],                   // JPEG
        [0x52, 0x49, 0x46, 0x46],             // RIFF (WebP, ...)
    ]
}
