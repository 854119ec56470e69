/// Decodes blob bytes back into the body: checks every chunk's checksum and framing,
/// decompresses, and checks the body checksum. Total over any input: a problem comes back
/// as a ``BlobProblem``, never a trap or an out-of-bounds read.
public enum BlobDecoder {
    /// Decodes the chunk at `offset` of `p` into `output` (which must hold
    /// `header.rawLength(ofChunk: index)` bytes) and returns the frame.
    static func decodeChunk(
        _ p: UnsafeRawBufferPointer,
        at offset: Int,
        index: Int,
        of header: BlobHeader,
        compression: ChunkCompression,
        into output: UnsafeMutableRawBufferPointer
    ) -> Result<ChunkFrame, BlobProblem> {
        let frame: ChunkFrame
        switch ChunkFrame.decode(p, at: offset, index: index, of: header) {
        case .failure(let problem): return .failure(problem)
        case .success(let f): frame = f
        }
        let payload = UnsafeRawBufferPointer(rebasing: p[frame.payloadOffset..<(frame.payloadOffset + frame.storedLength)])
        switch frame.encoding {
        case .raw:
            output.copyMemory(from: payload)
        case .zstd:
            if let problem = compression.decompress(payload, rawLength: frame.rawLength, into: output) {
                return .failure(.decompressionFailed(index: index, problem))
            }
        }
        return .success(frame)
    }

    /// Decodes the whole blob whose header is at `offset` of `p`. With `verifyOnly` the
    /// body is checked but not returned (an empty array comes back).
    public static func decode(
        _ p: UnsafeRawBufferPointer,
        at offset: Int = 0,
        seed: UInt64,
        verifyOnly: Bool = false
    ) -> Result<(BlobHeader, [UInt8]), BlobProblem> {
        decode(p, at: offset, seed: seed, compression: ChunkCompression.shared, verifyOnly: verifyOnly)
    }

    static func decode(
        _ p: UnsafeRawBufferPointer,
        at offset: Int,
        seed: UInt64,
        compression: ChunkCompression,
        verifyOnly: Bool
    ) -> Result<(BlobHeader, [UInt8]), BlobProblem> {
        let header: BlobHeader
        switch BlobHeader.decode(p, at: offset, seed: seed) {
        case .failure(let problem): return .failure(problem)
        case .success(let h): header = h
        }
        guard header.kind == .body else { return .failure(.badHeader("not a body")) }
        guard UInt64(p.count - offset - BlobFormat.headerSize) >= header.storedLength else { return .failure(.truncated) }
        let end = offset + header.extent
        let checksum = StreamingChecksum()
        var body: [UInt8] = []
        // A forged header may claim far more than its chunks hold: reserve a bounded amount.
        if !verifyOnly { body.reserveCapacity(Int(min(header.rawLength, 1 << 20))) }
        var scratch = [UInt8](repeating: 0, count: Int(header.chunkSize))
        var position = offset + BlobFormat.headerSize
        for index in 0..<Int(header.chunkCount) {
            let window = UnsafeRawBufferPointer(rebasing: p[0..<end])
            let rawCount = header.rawLength(ofChunk: index)
            let result = scratch.withUnsafeMutableBytes { out in
                decodeChunk(
                    window, at: position, index: index, of: header, compression: compression,
                    into: UnsafeMutableRawBufferPointer(rebasing: out[0..<rawCount])
                )
            }
            switch result {
            case .failure(let problem): return .failure(problem)
            case .success(let frame):
                scratch.withUnsafeBytes { checksum.update(UnsafeRawBufferPointer(rebasing: $0[0..<rawCount])) }
                if !verifyOnly { body.append(contentsOf: scratch[0..<rawCount]) }
                position += frame.frameSize
            }
        }
        guard position == end else { return .failure(.badHeader("chunks end at \(position - offset), header says \(header.extent)")) }
        guard checksum.digest() == header.bodyChecksum else { return .failure(.bodyChecksumMismatch) }
        return .success((header, body))
    }
}
