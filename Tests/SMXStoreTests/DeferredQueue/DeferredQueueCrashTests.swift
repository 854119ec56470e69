import Testing
import Synchronization
import SMXStore
import SMXTestSupport

/// The queue schema's crash test: a seeded workload of schema changes (batches of adds,
/// attempts, removals, holds, releases, requeues, deletes) through the group commit, an
/// image taken at every sync point (journal syncs, and the page, meta and journal syncs of
/// a checkpoint every few commits), each recovered in every crash mode. After a crash the
/// queue holds exactly the last acknowledged commit (or the one in flight, if its journal
/// record made it), records and every index alike; `verify()` is clean; the queue takes a
/// new change, which survives another crash.
@Suite struct DeferredQueueCrashTests {
    struct Point: Sendable {
        var image: SimulatedImage
        /// Commits acknowledged before the image was taken.
        var acknowledged: Int
    }

    @Test(.timeLimit(.minutes(20)))
    func everyCrashRecoversTheLastAcknowledgedCommit() async throws {
        let summary = try await Self.campaign(commits: 80, seed: 20261127)
        print("defedb schema crash campaign: 80 commits, \(summary.checkpoints) checkpoints, \(summary.syncPoints) sync points, \(summary.recoveries) recoveries, \(summary.inFlightSurvived) in-flight commits survived, \(summary.problems.count) problems")
        #expect(summary.syncPoints >= 160)
        #expect(summary.checkpoints >= 10)
        #expect(summary.problems.isEmpty, "\(summary.problems.prefix(10))")
    }

    struct Summary {
        var syncPoints = 0
        var recoveries = 0
        var inFlightSurvived = 0
        var checkpoints = 0
        var problems: [String] = []
    }

    static func campaign(commits: Int, seed: UInt64) async throws -> Summary {
        let fs = SimulatedFileSystem(seed: seed)
        var configuration = DeferredQueueModelTests.configuration()
        configuration.checkpointPages = 20
        configuration.checkpointJournalBytes = 16 << 10
        configuration.journalGrowthBytes = 16 << 10
        // Checkpoints behind the commits, their writes two commits later: deterministic.
        configuration.checkpointScheduling = .deferred(commits: 2)
        let queue = try DeferredQueue.open(fileSystem: fs, configuration: configuration)
        let acknowledged = Atomic<Int>(0)
        let points = Mutex<[Point]>([])
        fs.setOperationHook { op in
            guard op.kind.isSync else { return }
            let image = fs.snapshot()
            let done = acknowledged.load(ordering: .acquiring)
            points.withLock { $0.append(Point(image: image, acknowledged: done)) }
        }
        var workload = DeferredQueueWorkload(seed: seed, targetRecipients: 120)
        var models = [DeferredQueueModel()]
        for commit in 0..<commits {
            var model = models[commit]
            let size = 1 + workload.rng.below(workload.rng.below(6) == 0 ? 80 : 15)
            var batch: [DeferredQueueChange] = []
            for _ in 0..<size {
                let change = workload.next(model)
                batch.append(change)
                _ = model.apply(change)
            }
            try await queue.apply(batch)
            models.append(model)
            acknowledged.store(commit + 1, ordering: .releasing)
        }
        fs.setOperationHook(nil)
        let checkpoints = Int(queue.file.checkpointNumber) - 1
        queue.close()

        var summary = Summary()
        summary.checkpoints = checkpoints
        let all = points.withLock { $0 }
        summary.syncPoints = all.count
        for (n, point) in all.enumerated() {
            for (m, mode) in CrashMode.allCases.enumerated() {
                let crashSeed = seed &+ UInt64(n) &* 31 &+ UInt64(m)
                let crashed = SimulatedFileSystem.restore(point.image, crash: mode, seed: crashSeed)
                summary.recoveries += 1
                let context = "point \(n) (\(mode), seed \(crashSeed), \(point.acknowledged) acknowledged)"
                do {
                    try await recover(crashed, configuration: configuration, point: point, models: models,
                                      mode: mode, crashSeed: crashSeed, context: context, summary: &summary)
                } catch {
                    summary.problems.append("\(context): \(error)")
                }
                if summary.problems.count > 20 { return summary }
            }
        }
        return summary
    }

    private static func recover(
        _ crashed: SimulatedFileSystem, configuration: BTreeFile.Configuration, point: Point, models: [DeferredQueueModel],
        mode: CrashMode, crashSeed: UInt64, context: String, summary: inout Summary
    ) async throws {
        let reopened = try DeferredQueue.open(fileSystem: crashed, configuration: configuration)
        let verification = reopened.verify()
        if !verification.isClean {
            summary.problems.append("\(context): verify: \(verification.allProblems.prefix(3))")
        }
        let reader = try reopened.reader()
        if try models[point.acknowledged].differences(from: reader).isEmpty {
            // the last acknowledged commit
        } else if point.acknowledged + 1 < models.count, try models[point.acknowledged + 1].differences(from: reader).isEmpty {
            summary.inFlightSurvived += 1
        } else {
            summary.problems.append("\(context): state is neither commit \(point.acknowledged) nor the next")
        }
        reader.close()
        // The recovered queue takes a change, which survives another crash.
        let marker = DeferredQueueChange.add(
            DeferredTransaction(envelopeID: EnvelopeID(.max), sender: "after@crash", content: ContentReference(id: ContentID(1), size: 1, checksum: 1), arrivalMicros: 1, recipientCount: 1),
            [DeferredRecipient(id: RecipientID(EnvelopeID(.max), 0), address: "x@after", destination: "after", nextTry: 1)]
        )
        try await reopened.apply(marker)
        reopened.close()
        let again = try DeferredQueue.open(
            fileSystem: SimulatedFileSystem.restore(crashed.snapshot(), crash: mode, seed: crashSeed &+ 1),
            configuration: configuration
        )
        defer { again.close() }
        let after = try again.reader()
        if try after.recipient(RecipientID(EnvelopeID(.max), 0)) == nil {
            summary.problems.append("\(context): a change after recovery was lost")
        }
        after.close()
        if !again.verify().isClean { summary.problems.append("\(context): second verify failed") }
    }
}
