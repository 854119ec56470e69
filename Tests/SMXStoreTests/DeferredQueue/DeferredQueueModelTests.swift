import Testing
import SMXStore
import SMXTestSupport

/// Model-based test of the queue schema: seeded random changes (``DeferredQueueWorkload``)
/// applied in batches to a ``DeferredQueue`` on the simulated file system and to a
/// ``DeferredQueueModel``; every change's result must match the model's, `verify()` must
/// be clean after every commit, and records and indexes must equal the model's (every few
/// commits, and after each reopen, some after a power loss).
@Suite struct DeferredQueueModelTests {
    static let queueID = QueueID(bytes: Array(repeating: 0xD7, count: 16))

    static func configuration(pageSize: Int = 4096) -> BTreeFile.Configuration {
        var c = BTreeFile.Configuration(queueID: queueID, path: DeferredQueue.path(queue: "/q"))
        c.pageSize = pageSize
        c.growthPages = 16
        return c
    }

    /// 4 seeds × 25,000 changes: 100,000 random schema operations.
    @Test(arguments: [UInt64(11), 12, 13, 14])
    func randomChangesMatchTheModelAndVerifyAfterEveryCommit(seed: UInt64) async throws {
        let summary = try await Self.run(seed: seed, changes: 25_000, targetRecipients: 120)
        print("defedb schema model seed \(seed): \(summary.changes) changes in \(summary.commits) commits, \(summary.reopens) reopens, peak \(summary.peakRecipients) recipients, \(summary.released) bodies released")
        #expect(summary.changes >= 25_000)
    }

    struct Summary {
        var changes = 0
        var commits = 0
        var reopens = 0
        var peakRecipients = 0
        var released = 0
    }

    static func run(seed: UInt64, changes total: Int, targetRecipients: Int) async throws -> Summary {
        var fs = SimulatedFileSystem(seed: seed)
        var queue = try DeferredQueue.open(fileSystem: fs, configuration: configuration())
        var workload = DeferredQueueWorkload(seed: seed, targetRecipients: targetRecipients)
        var model = DeferredQueueModel()
        var summary = Summary()
        defer { queue.close() }
        while summary.changes < total {
            let size = 1 + workload.rng.below(workload.rng.below(10) == 0 ? 80 : 20)
            var batch: [DeferredQueueChange] = []
            var expected: [DeferredQueueChangeResult] = []
            var planned = model
            for _ in 0..<size {
                let change = workload.next(planned)
                batch.append(change)
                expected.append(planned.apply(change))
            }
            let (results, _) = try await queue.apply(batch)
            model = planned
            summary.changes += batch.count
            summary.commits += 1
            summary.peakRecipients = max(summary.peakRecipients, model.recipients.count)
            summary.released += results.filter { $0.releasedContent != nil }.count
            if results != expected {
                let first = zip(results, expected).enumerated().first { $0.element.0 != $0.element.1 }
                Issue.record("seed \(seed) commit \(summary.commits): change \(first.map { "\($0.offset): \(batch[$0.offset]) gave \($0.element.0), model \($0.element.1)" } ?? "?")")
                return summary
            }
            let verification = queue.verify()
            if !verification.isClean {
                Issue.record("seed \(seed) commit \(summary.commits): verify: \(verification.allProblems.prefix(5))")
                return summary
            }
            if summary.commits % 20 == 0 {
                try expectEqual(queue, model, "seed \(seed) commit \(summary.commits)")
            }
            if summary.commits % 250 == 0 {
                queue.close()
                if summary.commits % 500 == 0 {
                    fs = fs.crash(mode: .tear, seed: seed &+ UInt64(summary.commits))
                }
                queue = try DeferredQueue.open(fileSystem: fs, configuration: configuration())
                summary.reopens += 1
                #expect(queue.verify().isClean)
                try expectEqual(queue, model, "seed \(seed) after reopen at commit \(summary.commits)")
            }
        }
        try expectEqual(queue, model, "seed \(seed) end")
        return summary
    }

    static func expectEqual(_ queue: DeferredQueue, _ model: DeferredQueueModel, _ context: String) throws {
        let reader = try queue.reader()
        defer { reader.close() }
        let differences = try model.differences(from: reader)
        #expect(differences.isEmpty, "\(context): \(differences)")
    }
}
