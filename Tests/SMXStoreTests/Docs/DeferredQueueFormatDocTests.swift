import Testing
import SMXStore
import SMXTestSupport

/// Keeps the queue schema's worked example in docs/format/defedb.md true.
@Suite struct DeferredQueueFormatDocTests {
    @Test func recipientWorkedExampleMatchesTheEncoder() throws {
        let handle = try POSIXFileSystem().openFile(Path.join(FormatDocTests.repositoryRoot, "docs/format/defedb.md"), mode: .readOnly)
        defer { try? handle.close() }
        let text = String(decoding: try handle.readAll(), as: UTF8.self)
        let t0: UInt64 = 1_700_000_000_000_000
        let recipient = DeferredRecipient(
            id: RecipientID(EnvelopeID(1), 0), address: "b@example.org", notify: .failure, destination: "example.org",
            attempts: 1, firstFailureMicros: t0, lastAttemptMicros: t0,
            lastReply: DeliveryReply(code: 451, text: "4.7.1 try later"), nextTry: t0 + 900_000_000
        )
        let record = recipient.encode()
        #expect(FormatDocTests.hexBlock(in: text, after: "<!-- worked-example-recipient -->") == record, "record should read:\n\(FormatDocTests.hexLines(record))")
        let key = DeferredQueueSchema.nextTryKey(recipient.nextTryKey!)
        #expect(FormatDocTests.hexBlock(in: text, after: "<!-- worked-example-nexttry-key -->") == key)
        #expect(try DeferredRecipient.decode(record) == recipient)
    }
}
