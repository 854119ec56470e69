import Testing
import SMXStore
import SMXTestSupport

/// ``IncomingLog/openTransactionCount`` follows commits, closes and reopening, across
/// directories, and always equals `openTransactions().count`.
@Suite struct IncomingLogCountTests {
    @Test func countFollowsCommitsClosesAndReopen() async throws {
        let fs = SimulatedFileSystem()
        let configuration = IncomingLogTests.configuration(["/q/ibdb0", "/q/ibdb1"])
        let log = try IncomingLog.open(fileSystem: fs, configuration: configuration)
        #expect(log.openTransactionCount == 0)
        for id in 1...9 { try await log.commit(.transaction(IncomingLogTests.transaction(UInt64(id)))) }
        #expect(log.openTransactionCount == 9)
        try await log.commit([.closed(EnvelopeID(2), .completed), .closed(EnvelopeID(5), .discarded)])
        try await log.commit(.outcome(EnvelopeID(3), recipient: 0, .delivered, reply: "250 ok"))
        #expect(log.openTransactionCount == 7)
        #expect(log.openTransactionCount == log.openTransactions().count)
        log.close()

        let reopened = try IncomingLog.open(fileSystem: fs.crash(mode: .dropAllUnsynced, seed: 3), configuration: configuration)
        defer { reopened.close() }
        #expect(reopened.openTransactionCount == 7)
        #expect(reopened.openTransactionCount == reopened.recovery.openTransactions)
    }
}
