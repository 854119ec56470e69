import Testing
import SMXStore
import SMXTestSupport

/// Keeps the worked examples in docs/format/ true: the bytes printed there must be the
/// bytes the encoders write.
@Suite struct FormatDocTests {
    static let repositoryRoot: String = {
        var path = #filePath
        for _ in 0..<4 { path = Path.directory(of: path) }
        return path
    }()

    /// Hex bytes of the first fenced block after `marker`, taking each line up to its first
    /// double space (what follows is commentary).
    static func hexBlock(in text: String, after marker: String) -> [UInt8]? {
        guard let start = text.firstRange(of: marker) else { return nil }
        let rest = text[start.upperBound...]
        guard let open = rest.firstRange(of: "```\n") else { return nil }
        let body = rest[open.upperBound...]
        guard let close = body.firstRange(of: "```") else { return nil }
        var bytes: [UInt8] = []
        for line in body[..<close.lowerBound].split(separator: "\n") {
            let code = line.firstRange(of: "  ").map { line[..<$0.lowerBound] } ?? line[...]
            for token in code.split(separator: " ") {
                guard token.count == 2, let byte = UInt8(token, radix: 16) else { return nil }
                bytes.append(byte)
            }
        }
        return bytes
    }

    static var example: IncomingTransaction {
        IncomingTransaction(
            envelopeID: EnvelopeID(1),
            arrivalMicros: 1_700_000_000_000_000,
            sender: "a@example.org",
            mail: MailParameters(size: 1234, body: .eightBitMIME),
            content: ContentReference(id: ContentID(2), size: 1234, checksum: 0x1122_3344_5566_7788),
            recipients: [Recipient(address: "b@example.org", notify: .failure)]
        )
    }

    static func hexLines(_ bytes: [UInt8]) -> String {
        stride(from: 0, to: bytes.count, by: 16).map { i in
            bytes[i..<min(bytes.count, i + 16)].map { String($0, radix: 16).leftPad2 }.joined(separator: " ")
        }.joined(separator: "\n")
    }

    @Test func ibdbWorkedExampleMatchesTheEncoder() throws {
        let handle = try POSIXFileSystem().openFile(Path.join(Self.repositoryRoot, "docs/format/ibdb.md"), mode: .readOnly)
        defer { try? handle.close() }
        let text = String(decoding: try handle.readAll(), as: UTF8.self)
        let payload = LogRecord.transaction(Self.example).encodePayload()
        var frame: [UInt8] = []
        RecordFrame.append(to: &frame, type: 1, flags: RecordFrame.flagBatchEnd, sequence: 5, payload: payload, seed: 3)
        let documentedPayload = Self.hexBlock(in: text, after: "Payload (")
        #expect(documentedPayload == payload, "payload should read:\n\(Self.hexLines(payload))")
        let documentedFrame = Self.hexBlock(in: text, after: "<!-- worked-example-frame -->")
        #expect(documentedFrame == frame, "frame should read:\n\(Self.hexLines(frame))")
    }
}

private extension String {
    var leftPad2: String { count < 2 ? "0" + self : self }
}
