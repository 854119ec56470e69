import Testing
import SMXStore
import SMXTestSupport

@Suite struct BlobFormatTests {
    static let seed: UInt64 = 11
    static let id = ContentID(0x1234)

    private func decode(_ bytes: [UInt8], verifyOnly: Bool = false) -> Result<(BlobHeader, [UInt8]), BlobProblem> {
        bytes.withUnsafeBytes { BlobDecoder.decode($0, at: 0, seed: Self.seed, verifyOnly: verifyOnly) }
    }

    private func problem(_ bytes: [UInt8]) -> BlobProblem? {
        if case .failure(let problem) = decode(bytes) { problem } else { nil }
    }

    private func encode(_ body: [UInt8], chunkSize: Int = BlobFormat.maxChunkSize, level: Int32? = 1,
                        hint: CompressionHint = .automatic) -> [UInt8] {
        BlobAssembler.encode(body, contentID: Self.id, chunkSize: chunkSize, compressionLevel: level, hint: hint, seed: Self.seed)
    }

    private func chunks(_ blob: [UInt8]) -> [BlobAssembler.Chunk] {
        BlobAssembler.parse(blob, seed: Self.seed)?.chunks ?? []
    }

    /// Offsets of the chunk frames of a blob at offset 0.
    private func frameOffsets(_ blob: [UInt8]) -> [Int] {
        var offsets: [Int] = []
        var position = BlobFormat.headerSize
        for chunk in chunks(blob) {
            offsets.append(position)
            position += BlobFormat.chunkFrameSize(storedCount: chunk.payload.count)
        }
        return offsets
    }

    /// Half text, half noise: some chunks compress, some do not.
    private func mixed(_ count: Int) -> [UInt8] {
        var body: [UInt8] = []
        var i = 0
        while body.count < count {
            body += i % 2 == 0 ? BlobAssembler.text(50_000, seed: UInt64(i)) : BlobAssembler.noise(30_000, seed: UInt64(i))
            i += 1
        }
        return Array(body.prefix(count))
    }

    @Test(arguments: [0, 1, 63, 64, 65535, 65536, 65537, 200_000, 3 << 20])
    func roundTrips(size: Int) throws {
        let body = mixed(size)
        let blob = encode(body)
        let (header, decoded) = try decode(blob).get()
        #expect(decoded == body)
        #expect(header.rawLength == UInt64(size) && header.contentID == Self.id && header.kind == .body)
        #expect(header.bodyChecksum == Checksum.xxh3(body))
        #expect(Int(header.chunkCount) == (size + 65535) / 65536)
        #expect(header.extent == blob.count && blob.count % 8 == 0)
        let (verified, nothing) = try decode(blob, verifyOnly: true).get()
        #expect(verified == header && nothing.isEmpty)
        let raw = encode(body, level: nil)
        #expect(try decode(raw).get().1 == body)
        #expect(chunks(raw).allSatisfy { $0.encoding == .raw })
    }

    @Test func piecesOfAnySizeGiveTheSameBytes() {
        let body = mixed(300_000)
        let whole = encode(body)
        for pieces in [[1, 7, 63, 64, 65], [4095, 65537, 3], [65536], [100_003]] {
            var encoder = BlobEncoder(contentID: Self.id, compressionLevel: 1)
            var start = 0
            var i = 0
            while start < body.count {
                let end = min(body.count, start + pieces[i % pieces.count])
                encoder.append(Array(body[start..<end]))
                start = end
                i += 1
            }
            encoder.finishChunks()
            let header = encoder.header(storedLength: encoder.storedLength, commitBatch: 1)
            var bytes = encoder.takeBytes()
            bytes.withUnsafeMutableBytes { header.store(into: $0, at: 0, seed: Self.seed) }
            #expect(bytes == whole, "pieces \(pieces)")
        }
    }

    @Test func oneByteAtATimeGivesTheSameBytes() {
        let body = mixed(70_000)
        var encoder = BlobEncoder(contentID: Self.id, compressionLevel: 1)
        for byte in body { encoder.append([byte]) }
        encoder.finishChunks()
        let header = encoder.header(storedLength: encoder.storedLength, commitBatch: 1)
        var bytes = encoder.takeBytes()
        bytes.withUnsafeMutableBytes { header.store(into: $0, at: 0, seed: Self.seed) }
        #expect(bytes == encode(body))
    }

    /// The large-body path: frames taken as they are made add up to the one-shot blob.
    @Test func takingFramesAsTheyComeGivesTheSameFrames() {
        let body = mixed(250_000)
        var encoder = BlobEncoder(contentID: Self.id, compressionLevel: 1)
        var frames: [UInt8] = []
        for start in stride(from: 0, to: body.count, by: 30_000) {
            encoder.append(Array(body[start..<min(body.count, start + 30_000)]))
            frames += encoder.takeFrames()
        }
        encoder.finishChunks()
        frames += encoder.takeFrames()
        #expect(encoder.heldFrameBytes == 0)
        #expect(frames[...] == encode(body)[BlobFormat.headerSize...])
    }

    @Test func incompressibleDataStaysRaw() throws {
        let body = BlobAssembler.noise(200_000)
        let blob = encode(body)
        #expect(chunks(blob).allSatisfy { $0.encoding == .raw })
        let expected = chunks(blob).reduce(0) { $0 + BlobFormat.chunkFrameSize(storedCount: $1.rawLength) }
        #expect(blob.count == BlobFormat.headerSize + expected)
        #expect(try decode(blob).get().1 == body)
        // Three misses in a row and the rest of the body is not even tried.
        let late = BlobAssembler.noise(3 * 4096) + BlobAssembler.text(4 * 4096)
        #expect(chunks(encode(late, chunkSize: 4096)).allSatisfy { $0.encoding == .raw })
        #expect(chunks(encode(BlobAssembler.text(7 * 4096), chunkSize: 4096)).allSatisfy { $0.encoding == .zstd })
    }

    /// The encoder's own default keeps chunks under 2 KiB raw; the last, short chunk of a
    /// long body is raw too, and its other chunks are compressed.
    @Test func chunksUnderTheMinimumAreNotTried() throws {
        let minimum = BlobEncoder.defaultMinimumCompressedChunk
        func encodings(_ body: [UInt8], chunkSize: Int = BlobFormat.maxChunkSize) -> [ChunkEncoding] {
            var encoder = BlobEncoder(contentID: Self.id, chunkSize: chunkSize)
            encoder.append(body)
            encoder.finishChunks()
            return chunks(encodedBlob(&encoder)).map(\.encoding)
        }
        #expect(encodings(BlobAssembler.text(minimum - 1)) == [.raw])
        #expect(encodings(BlobAssembler.text(minimum)) == [.zstd])
        #expect(encodings(BlobAssembler.text(2 * 8192 + 100), chunkSize: 8192) == [.zstd, .zstd, .raw])
        #expect(chunks(encode(BlobAssembler.text(1024))).map(\.encoding) == [.zstd], "the threshold is the caller's")
    }

    @Test(arguments: [[0x1F, 0x8B, 0x08], [0x28, 0xB5, 0x2F, 0xFD], [0x50, 0x4B, 0x03, 0x04], [0x89, 0x50, 0x4E, 0x47]] as [[UInt8]])
    func alreadyCompressedPrefixesAreNeverCompressed(prefix: [UInt8]) throws {
        let body = prefix + BlobAssembler.text(150_000)
        let blob = encode(body)
        #expect(chunks(blob).allSatisfy { $0.encoding == .raw })
        #expect(try decode(blob).get().1 == body)
        // The same text without the prefix compresses.
        #expect(chunks(encode(BlobAssembler.text(150_000))).allSatisfy { $0.encoding == .zstd })
        // Only the first bytes count, even when they arrive one at a time.
        var encoder = BlobEncoder(contentID: Self.id)
        for byte in prefix { encoder.append([byte]) }
        encoder.append(BlobAssembler.text(70_000))
        encoder.finishChunks()
        #expect(chunks(encodedBlob(&encoder)).first?.encoding == .raw)
    }

    private func encodedBlob(_ encoder: inout BlobEncoder) -> [UInt8] {
        let header = encoder.header(storedLength: encoder.storedLength, commitBatch: 1)
        var bytes = encoder.takeBytes()
        bytes.withUnsafeMutableBytes { header.store(into: $0, at: 0, seed: Self.seed) }
        return bytes
    }

    @Test func hintNeverStoresRaw() throws {
        let body = BlobAssembler.text(150_000)
        let blob = encode(body, hint: .never)
        #expect(chunks(blob).count == 3 && chunks(blob).allSatisfy { $0.encoding == .raw })
        #expect(try decode(blob).get().1 == body)
    }

    @Test func aMutatedChunkPayloadNamesItsChunk() {
        let blob = encode(mixed(200_000), chunkSize: 16384)
        let offsets = frameOffsets(blob)
        #expect(offsets.count == 13)
        for index in [0, 5, 12] {
            var damaged = blob
            damaged[offsets[index] + BlobFormat.chunkHeaderSize + 3] ^= 0x20
            #expect(problem(damaged) == .chunkChecksumMismatch(index: index))
            var checksum = blob
            checksum[offsets[index]] ^= 0x01
            #expect(problem(checksum) == .chunkChecksumMismatch(index: index))
        }
    }

    @Test func everyHeaderByteIsChecked() {
        let blob = encode(BlobAssembler.text(1000))
        for i in 0..<BlobFormat.headerSize {
            var damaged = blob
            damaged[i] ^= 0x40
            #expect(problem(damaged) == (i < 4 ? .badMagic : .headerChecksumMismatch), "byte \(i)")
        }
        var zeros = blob
        for i in 0..<BlobFormat.headerSize { zeros[i] = 0 }
        #expect(problem(zeros) == .allZeros)
        let other = blob.withUnsafeBytes { BlobDecoder.decode($0, at: 0, seed: Self.seed + 1) }
        #expect(throws: BlobProblem.headerChecksumMismatch) { try other.get() }
    }

    /// Header fields changed and the header checksum recomputed: the consistency checks.
    @Test func inconsistentHeaderFieldsAreRejected() throws {
        let body = BlobAssembler.text(100_000)
        let blob = encode(body, chunkSize: 32768)
        func edited(_ edit: (inout [UInt8]) -> Void) -> BlobProblem? {
            var bytes = blob
            edit(&bytes)
            BlobAssembler.rechecksumHeader(&bytes, at: 0, seed: Self.seed)
            return problem(bytes)
        }
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int, in bytes: inout [UInt8]) {
            for i in 0..<(T.bitWidth / 8) { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
        }
        #expect(edited { $0[4] = 2 } == .unsupportedVersion(2))
        #expect(edited { $0[5] = 3 } == .badHeader("kind 3"))
        #expect(edited { put(UInt16(72), at: 6, in: &$0) } == .badHeader("header size 72"))
        #expect(edited { put(UInt64(0), at: 8, in: &$0) } == .badHeader("content id 0"))
        #expect(edited { put(UInt32(0), at: 44, in: &$0) } == .badHeader("chunk size 0"))
        #expect(edited { put(UInt32(65537), at: 44, in: &$0) } == .badHeader("chunk size 65537"))
        #expect(edited { put(UInt32(5), at: 40, in: &$0) } == .badHeader("5 chunks for 100000 bytes in chunks of 32768"))
        #expect(edited { put(UInt64(blob.count - 64 + 4), at: 24, in: &$0) } == .badHeader("stored length \(blob.count - 64 + 4) not aligned"))
        #expect(edited { put(UInt64(1) << 62, at: 16, in: &$0) } == .badHeader("raw length \(UInt64(1) << 62)"))
        #expect(edited { put(UInt64(8), at: 24, in: &$0) } == .badHeader("stored length 8 for 100000 raw bytes"))
        // Consistent but false: the chunks tell.
        #expect(edited { $0[32] ^= 1 } == .bodyChecksumMismatch)
        #expect(edited { put(UInt64(99_999), at: 16, in: &$0) } == .badChunk(index: 3, "raw length 1696"))
        #expect(edited { $0[8] ^= 1 } == .chunkChecksumMismatch(index: 0))
        var longer = blob + [UInt8](repeating: 0, count: 8)
        put(UInt64(blob.count - 64 + 8), at: 24, in: &longer)
        BlobAssembler.rechecksumHeader(&longer, at: 0, seed: Self.seed)
        #expect(problem(longer) == .badHeader("chunks end at \(blob.count), header says \(blob.count + 8)"))
        #expect(edited { put(UInt64(blob.count), at: 24, in: &$0) } == .truncated)
    }

    /// Chunk header fields changed and the chunk checksum recomputed.
    @Test func inconsistentChunkFieldsAreRejected() {
        let blob = encode(BlobAssembler.noise(10_000), chunkSize: 4096)
        let offsets = frameOffsets(blob)
        func edited(chunk index: Int, _ edit: (inout [UInt8], Int) -> Void) -> BlobProblem? {
            var bytes = blob
            edit(&bytes, offsets[index])
            BlobAssembler.rechecksumChunk(&bytes, at: offsets[index], contentID: Self.id)
            return problem(bytes)
        }
        #expect(edited(chunk: 1) { b, o in b[o + 16] = 2 } == .badChunk(index: 1, "encoding 2"))
        #expect(edited(chunk: 1) { b, o in b[o + 18] = 1 } == .badChunk(index: 1, "encoding 0"))
        #expect(edited(chunk: 2) { b, o in b[o + 20] = 1 } == .badChunk(index: 2, "carries index 1"))
        #expect(edited(chunk: 0) { b, o in b[o + 12] ^= 1 } == .badChunk(index: 0, "raw length 4097"))
        #expect(edited(chunk: 2) { b, o in b[o + 16] = 1 } != nil)
        var huge = blob
        huge[offsets[0] + 10] = 1  // no checksum to fix: the length is rejected first
        #expect(problem(huge) == .badChunk(index: 0, "stored length 69632"))
        // A chunk checksum seeded with another content id does not verify.
        var otherID = blob
        for o in offsets { BlobAssembler.rechecksumChunk(&otherID, at: o, contentID: ContentID(99)) }
        #expect(problem(otherID) == .chunkChecksumMismatch(index: 0))
    }

    @Test func nonZeroPaddingIsDamage() throws {
        // 1000 noise bytes in chunks of 333: frames of 24 + 333 bytes, 3 bytes of padding each.
        let blob = encode(BlobAssembler.noise(1000), chunkSize: 333)
        let offsets = frameOffsets(blob)
        #expect(offsets.count == 4)
        for index in 0..<4 {
            let paddingStart = offsets[index] + BlobFormat.chunkHeaderSize + chunks(blob)[index].payload.count
            var damaged = blob
            damaged[paddingStart + 1] = 0x01
            #expect(problem(damaged) == .badChunk(index: index, "padding not zero"))
        }
    }

    /// A zstd chunk replaced by another valid frame, chunk checksum recomputed: the raw
    /// length or the body checksum catches it.
    @Test func anotherValidZstdFrameIsCaught() throws {
        let body = BlobAssembler.text(10_000, seed: 1)
        let blob = encode(body, chunkSize: 4096)
        let sameLength = chunks(encode(BlobAssembler.text(10_000, seed: 2), chunkSize: 4096))
        let shorter = chunks(encode(BlobAssembler.text(9_000, seed: 1), chunkSize: 4096))
        #expect(sameLength[1].encoding == .zstd && shorter[2].encoding == .zstd)
        func replaced(_ index: Int, with payload: [UInt8], rawLength: Int? = nil) -> BlobProblem? {
            var parts = chunks(blob)
            parts[index].payload = payload
            if let rawLength { parts[index].rawLength = rawLength }
            let bytes = BlobAssembler.blob(
                contentID: Self.id, chunkSize: 4096, chunks: parts, rawLength: 10_000,
                bodyChecksum: Checksum.xxh3(body), seed: Self.seed
            )
            return problem(bytes)
        }
        #expect(replaced(1, with: sameLength[1].payload) == .bodyChecksumMismatch)
        #expect(replaced(2, with: shorter[2].payload) == .decompressionFailed(index: 2, "frame announces 808 bytes"))
        #expect(replaced(2, with: shorter[2].payload, rawLength: 808) == .badChunk(index: 2, "raw length 808"))
        #expect(replaced(1, with: shorter[2].payload) == .decompressionFailed(index: 1, "frame announces 808 bytes"))
    }

    /// Hand-made and damaged zstd frames behind valid checksums (the fuzz seeds): they
    /// decode exactly when they should, and fail only in decompression or the body checksum.
    @Test func damagedZstdFramesFailCleanly() throws {
        for variant in FuzzSeeds.zstdVariants(seed: Self.seed) {
            switch decode(variant.blob) {
            case .success:
                #expect(variant.decodes, "\(variant.name) decoded")
            case .failure(.decompressionFailed), .failure(.bodyChecksumMismatch):
                #expect(!variant.decodes, "\(variant.name) did not decode")
            case .failure(let problem):
                Issue.record("\(variant.name): \(problem)")
            }
        }
    }

    @Test func everyTruncationIsReported() {
        let blob = encode(BlobAssembler.noise(300), chunkSize: 100)
        for cut in 0..<blob.count {
            #expect(problem(Array(blob.prefix(cut))) == .truncated, "cut at \(cut)")
        }
        let atOffset = ([0, 0, 0, 0, 0, 0, 0, 0] + blob).withUnsafeBytes { BlobDecoder.decode($0, at: 8, seed: Self.seed) }
        #expect((try? atOffset.get().1) == chunks(blob).flatMap(\.payload))
        for offset in [-1, Int.min, Int.max, blob.count] {
            let result = blob.withUnsafeBytes { BlobDecoder.decode($0, at: offset, seed: Self.seed) }
            #expect(throws: BlobProblem.truncated) { try result.get() }
        }
    }

    @Test func sealsAreNotBodies() throws {
        let seal = BlobHeader.seal(commitBatch: 77).encode(seed: Self.seed)
        let header = try seal.withUnsafeBytes { try BlobHeader.decode($0, at: 0, seed: Self.seed).get() }
        #expect(header == .seal(commitBatch: 77) && header.extent == 64)
        #expect(problem(seal) == .badHeader("not a body"))
        var filled = seal
        filled[16] = 1
        BlobAssembler.rechecksumHeader(&filled, at: 0, seed: Self.seed)
        #expect(filled.withUnsafeBytes { BlobHeader.decode($0, at: 0, seed: Self.seed) } == .failure(.badHeader("seal with contents")))
    }
}
