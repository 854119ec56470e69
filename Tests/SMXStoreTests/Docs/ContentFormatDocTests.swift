import Testing
import SMXStore
import SMXTestSupport

/// Keeps the worked example of docs/format/cdb.md true: the segment printed there must be
/// the bytes the encoders write, and must scan and decode as the text says.
@Suite struct ContentFormatDocTests {
    static let body = Array("Subject: hi\r\n\r\nHello from the example.\r\n".utf8)

    /// Segment 3 of queue 10 11 ... 1f, created at 1,700,000,000,000,000 µs: content id 2
    /// (40 bytes, stored raw) in commit batch 1, then the seal of batch 1.
    static func exampleSegment() -> [UInt8] {
        let blob = BlobAssembler.encode(body, contentID: ContentID(2), commitBatch: 1, seed: 3)
        return BlobAssembler.segment(number: 3, queueID: QueueID(bytes: Array(0x10..<0x20)), blobs: [blob], sealBatch: 1).bytes
    }

    @Test func cdbWorkedExampleMatchesTheEncoder() throws {
        let handle = try POSIXFileSystem().openFile(Path.join(FormatDocTests.repositoryRoot, "docs/format/cdb.md"), mode: .readOnly)
        defer { try? handle.close() }
        let text = String(decoding: try handle.readAll(), as: UTF8.self)
        let segment = Self.exampleSegment()
        #expect(body.count == 40 && segment.count == 1216)
        // The dump leaves out the header copy at 512 and the zeros around it.
        #expect(Array(segment[64..<512]).allSatisfy { $0 == 0 } && Array(segment[576..<1024]).allSatisfy { $0 == 0 })
        #expect(Array(segment[512..<576]) == Array(segment[0..<64]))
        let shown = Array(segment[0..<64]) + Array(segment[1024...])
        let documented = FormatDocTests.hexBlock(in: text, after: "<!-- worked-example-segment -->")
        #expect(documented == shown, "segment should read:\n\(FormatDocTests.hexLines(shown))")

        let scan = segment.withUnsafeBytes { ContentSegmentScan.scan($0, seed: 3, verifyChunks: true) }
        #expect(scan.blobs.map(\.offset) == [1024] && scan.damage.isEmpty)
        #expect(scan.sealOffset == 1152 && scan.sealBatch == 1 && scan.dataEnd == 1216)
        let (header, decoded) = try segment.withUnsafeBytes { try BlobDecoder.decode($0, at: 1024, seed: 3).get() }
        #expect(decoded == Self.body && header.storedLength == 64 && header.chunkCount == 1)
        #expect(header.bodyChecksum == Checksum.xxh3(Self.body))
    }

    private var body: [UInt8] { Self.body }
}
