import Testing
import SMXStore
import SMXTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Long crash campaigns for `make soak` (SMX_SOAK=1, release build): more seeds, more
/// committers, bigger workloads than the crash test `make test` runs.
@Suite(.enabled(if: getenv("SMX_SOAK") != nil, "set SMX_SOAK=1 (make soak)"))
struct IncomingLogSoakTests {
    @Test(.timeLimit(.minutes(120)), arguments: UInt64(1)...8)
    func crashCampaign(seed: UInt64) async throws {
        let summary = try await IncomingLogCrashTests.campaign(
            transactions: 30_000, committers: 32, seed: seed &* 7919, randomPointRate: 3
        )
        print("soak seed \(seed): \(summary.syncPoints) sync points, \(summary.randomPoints) random points, \(summary.recoveries) recoveries, \(summary.problems.count) problems")
        #expect(summary.problems.isEmpty, "\(summary.problems.prefix(20))")
    }
}
