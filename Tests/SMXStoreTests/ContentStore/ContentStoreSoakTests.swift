import Testing
import SMXStore
import SMXTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Long crash campaigns of the content store joined with the incoming log, for `make soak`
/// (SMX_SOAK=1, release build): more seeds, messages and writers than `make test` runs.
@Suite(.enabled(if: getenv("SMX_SOAK") != nil, "set SMX_SOAK=1 (make soak)"))
struct ContentStoreSoakTests {
    @Test(.timeLimit(.minutes(120)), arguments: UInt64(1)...8)
    func crashCampaign(seed: UInt64) async throws {
        let summary = try await ContentStoreCrashTests.campaign(
            messages: 1500, writers: 16, seed: seed &* 104_729, randomPointRate: 4
        )
        print("cdb soak seed \(seed): \(summary.syncPoints) sync points, \(summary.randomPoints) random points, \(summary.recoveries) recoveries, \(summary.tornTails) torn tails, \(summary.problems.count) problems")
        #expect(summary.problems.isEmpty, "\(summary.problems.prefix(20))")
    }
}
