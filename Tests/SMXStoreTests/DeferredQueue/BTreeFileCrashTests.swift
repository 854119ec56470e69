import Testing
import Synchronization
import SMXStore
import SMXTestSupport

/// The B+tree file's crash test: a seeded sequence of commits (inserts, replaces, deletes,
/// overflow values, file growth, freelist reuse, a long-lived snapshot) with checkpoints
/// every few commits (by journal size, by pending pages, and asked for) and journal
/// growth, an image taken at every sync point and at random writes, each recovered in
/// every crash mode. After a crash the state is exactly the last acknowledged commit, or
/// the one in flight if its journal record made it; `verify()` is clean; the file takes
/// new commits.
///
/// Once per checkpoint scheduling: inline (pages, meta, then a fresh journal renamed into
/// place); deferred (the writes of a checkpoint run two commits after it started, those
/// commits in the next journal: every state a checkpoint behind the commits leaves, in a
/// set order); background (the same on the checkpoint's own thread, images taken from
/// either thread: not replayable sync for sync, but every image must recover).
@Suite struct BTreeFileCrashTests {
    struct Point: Sendable {
        var image: SimulatedImage
        /// Commits returned before the image was taken.
        var acknowledged: Int
        /// Commits returned once it was taken. The same as `acknowledged` when the writer
        /// made the operation (it waits in the hook); more when the checkpoint thread did
        /// and the writer went on meanwhile.
        var acknowledgedAfter: Int
        var atSync: Bool
    }

    typealias Model = [String: [[UInt8]: [UInt8]]]

    static let schedulings: [String: BTreeFile.CheckpointScheduling] = [
        "inline": .inline, "deferred": .deferred(commits: 2), "background": .background,
    ]

    @Test(.timeLimit(.minutes(20)), arguments: ["inline", "deferred", "background"])
    func everyCrashRecoversTheLastAcknowledgedCommit(scheduling: String) throws {
        let summary = try Self.campaign(commits: 120, seed: 20261126, randomPointRate: 5, scheduling: Self.schedulings[scheduling]!)
        print("defedb crash campaign (\(scheduling) checkpoints): 120 commits, \(summary.checkpoints) checkpoints, \(summary.syncPoints) sync points, \(summary.randomPoints) random points, \(summary.recoveries) recoveries, \(summary.inFlightSurvived) in-flight commits survived, \(summary.problems.count) problems")
        #expect(summary.syncPoints >= 200)
        #expect(summary.checkpoints >= 20)
        #expect(summary.problems.isEmpty, "\(summary.problems.prefix(10))")
    }

    struct Summary {
        var syncPoints = 0
        var randomPoints = 0
        var recoveries = 0
        var inFlightSurvived = 0
        var checkpoints = 0
        var problems: [String] = []
    }

    static func campaign(
        commits: Int, seed: UInt64, randomPointRate: Int, scheduling: BTreeFile.CheckpointScheduling = .deferred(commits: 2)
    ) throws -> Summary {
        let fs = SimulatedFileSystem(seed: seed)
        var configuration = BTreeFileTests.configuration()
        configuration.journalGrowthBytes = 16 << 10
        configuration.checkpointJournalBytes = 48 << 10
        configuration.checkpointPages = 96
        configuration.checkpointScheduling = scheduling
        let file = try BTreeFile.open(fileSystem: fs, configuration: configuration)
        var summary0 = Summary()
        var models: [Model] = [[:]]
        let acknowledged = Atomic<Int>(0)
        let points = Mutex<[Point]>([])
        let picker = Mutex(SplitMix64(seed: seed ^ 0xBEEF))
        fs.setOperationHook { op in
            let random = !op.kind.isSync && picker.withLock { $0.below(randomPointRate) == 0 }
            guard op.kind.isSync || random else { return }
            let done = acknowledged.load(ordering: .relaxed)
            let image = fs.snapshot()
            let doneAfter = acknowledged.load(ordering: .relaxed)
            points.withLock { $0.append(Point(image: image, acknowledged: done, acknowledgedAfter: doneAfter, atSync: op.kind.isSync)) }
        }
        var rng = SplitMix64(seed: seed)
        var model: Model = [:]
        var held: Snapshot?
        for commit in 0..<commits {
            let batch = 1 + rng.below(rng.below(6) == 0 ? 400 : 30)
            try file.write { txn in
                for _ in 0..<batch {
                    let tree = ["recipients", "nexttry", "transactions"][rng.below(3)]
                    let key = BTreeFileTests.randomKey(&rng)
                    if rng.below(3) == 0 {
                        try txn.delete(key, in: tree)
                        model[tree]?[key] = nil
                    } else {
                        let value = BTreeFileTests.randomValue(&rng)
                        try txn.put(key, value, in: tree)
                        model[tree, default: [:]][key] = value
                    }
                }
            }
            models.append(model.filter { !$0.value.isEmpty })
            acknowledged.store(commit + 1, ordering: .relaxed)
            if commit % 17 == 16 { try file.checkpoint() }
            // A snapshot held across many commits keeps its pages from being reused.
            if commit % 40 == 5 { held = try file.snapshot() }
            if commit % 40 == 30 { held?.close(); held = nil }
        }
        held?.close()
        fs.setOperationHook(nil)
        summary0.checkpoints = Int(file.checkpointNumber) - 1
        file.close()

        var summary = summary0
        let all = points.withLock { $0 }
        summary.syncPoints = all.filter(\.atSync).count
        summary.randomPoints = all.count - summary.syncPoints
        for (n, point) in all.enumerated() {
            for (m, mode) in CrashMode.allCases.enumerated() {
                let crashSeed = seed &+ UInt64(n) &* 31 &+ UInt64(m)
                let crashed = SimulatedFileSystem.restore(point.image, crash: mode, seed: crashSeed)
                summary.recoveries += 1
                let context = "point \(n) (\(mode), seed \(crashSeed), \(point.acknowledged) acknowledged)"
                do {
                    let reopened = try BTreeFile.open(fileSystem: crashed, configuration: configuration)
                    defer { reopened.close() }
                    let verification = reopened.verify()
                    if !verification.isClean {
                        summary.problems.append("\(context): verify: \(verification.problems.prefix(3))")
                    }
                    let state = try contents(reopened)
                    // The last commit acknowledged before the image, or one after it that
                    // had been made (or was being made) when the image was taken.
                    let newest = min(point.acknowledgedAfter + 1, models.count - 1)
                    if state == models[point.acknowledged] {
                        // the last acknowledged commit
                    } else if (point.acknowledged...newest).contains(where: { models[$0] == state }) {
                        summary.inFlightSurvived += 1
                    } else {
                        summary.problems.append("\(context): state is none of commits \(point.acknowledged)...\(newest)")
                    }
                    // The recovered file takes a commit, which survives another crash.
                    try reopened.write { txn in try txn.put(Array("after".utf8), Array("crash".utf8), in: "extra") }
                    reopened.close()
                    let again = try BTreeFile.open(
                        fileSystem: SimulatedFileSystem.restore(crashed.snapshot(), crash: mode, seed: crashSeed &+ 1),
                        configuration: configuration
                    )
                    let snapshot = try again.snapshot()
                    if try snapshot.get(Array("after".utf8), in: "extra") != Array("crash".utf8) {
                        summary.problems.append("\(context): a commit after recovery was lost")
                    }
                    snapshot.close()
                    if !again.verify().isClean { summary.problems.append("\(context): second verify failed") }
                    again.close()
                } catch {
                    summary.problems.append("\(context): \(error)")
                }
                if summary.problems.count > 20 { return summary }
            }
        }
        return summary
    }

    static func contents(_ file: BTreeFile) throws -> Model {
        let snapshot = try file.snapshot()
        defer { snapshot.close() }
        var model: Model = [:]
        for tree in try snapshot.treeNames() {
            var entries: [[UInt8]: [UInt8]] = [:]
            for (key, value) in try BTreeFileTests.scan(snapshot, tree) { entries[key] = value }
            if !entries.isEmpty { model[tree] = entries }
        }
        return model
    }
}
