import Testing
import Synchronization
import Logging
import SMXStore
import SMXTestSupport

/// The incoming log's crash test (ARCHITECTURE.md, "One file-I/O layer"): a concurrent
/// workload on the simulated file layer, a power-loss image taken at every sync point and
/// at random writes between them, and each image recovered in every crash mode.
@Suite struct IncomingLogCrashTests {
    static let queueID = QueueID(bytes: Array(repeating: 0x51, count: 16))

    /// Tens of thousands of opens: keep their info lines out of the test output.
    static let quietLogger: Logger = {
        var logger = Logger(label: "smx.ibdb.crash-test")
        logger.logLevel = .warning
        return logger
    }()

    static func configuration(segmentSize: Int = 16 * 1024) -> IncomingLog.Configuration {
        var c = IncomingLog.Configuration(queueID: queueID, directories: ["/q/ibdb"])
        c.segmentSize = segmentSize
        c.maxBatchBytes = 4096
        c.maxPendingBytes = 64 * 1024
        c.targetSegmentsPerDirectory = 4
        c.maxSegmentsPerDirectory = 256
        return c
    }

    struct CrashPoint: Sendable {
        var image: SimulatedImage
        var durable: UInt64
        var atSync: Bool
        var operation: Int
    }

    final class Points: Sendable {
        let points = Mutex<[CrashPoint]>([])
        let log = Mutex<IncomingLog?>(nil)
    }

    @Test(.timeLimit(.minutes(20)))
    func everyAcknowledgedCommitSurvivesEveryCrash() async throws {
        let summary = try await Self.campaign(
            transactions: 10_000, committers: 16, seed: 20261126, randomPointRate: 7
        )
        print("ibdb crash campaign: 10000 transactions, 16 committers, \(summary.syncPoints) sync points, \(summary.randomPoints) random points, \(summary.recoveries) recoveries in \(CrashMode.allCases.count) modes, \(summary.problems.count) problems")
        #expect(summary.syncPoints >= 500)
        #expect(summary.randomPoints >= 200)
        #expect(summary.problems.isEmpty, "\(summary.problems.prefix(20))")
    }

    /// A power loss while the preparer thread makes a slot (its zeros written, not yet
    /// synced) leaves a free slot, not a corruption report: the zeros start past the header
    /// area, so a torn write of them cannot put garbage where a header is looked for.
    @Test func aPowerLossWhileASlotIsPreparedIsNotCorruption() async throws {
        let fs = SimulatedFileSystem(seed: 41)
        let images = Mutex<[SimulatedImage]>([])
        fs.setOperationHook { op in
            // The preparer's sync of the slot it makes: every zero it wrote is pending.
            if op.kind == .fullSync, currentThreadName().hasPrefix("smx-ibdb-prep") {
                images.withLock { $0.append(fs.snapshot()) }
            }
        }
        let log = try IncomingLog.open(fileSystem: fs, configuration: Self.configuration(), logger: Self.quietLogger)
        #expect(await eventually { images.withLock { !$0.isEmpty } })
        fs.setOperationHook(nil)
        log.close()
        let image = try #require(images.withLock { $0.first })
        var reports: [CorruptionReport] = []
        for seed in UInt64(0)..<24 {
            let crashed = SimulatedFileSystem.restore(image, crash: .tear, seed: seed)
            let reporter = CollectingCorruptionReporter()
            let reopened = try IncomingLog.open(fileSystem: crashed, configuration: Self.configuration(), reporter: reporter, logger: Self.quietLogger)
            reports += reporter.reports
            reopened.close()
        }
        #expect(reports.isEmpty, "\(reports.prefix(3))")
    }

    struct Summary: Sendable {
        var syncPoints = 0
        var randomPoints = 0
        var recoveries = 0
        var problems: [String] = []
    }

    /// Runs the workload once, recording crash images, then recovers every image in every
    /// mode. `randomPointRate`: one in that many writes between syncs is a crash point too.
    static func campaign(
        transactions: Int, committers: Int, seed: UInt64, randomPointRate: Int
    ) async throws -> Summary {
        let fs = SimulatedFileSystem(seed: seed)
        fs.syncDelayMicroseconds = 50
        let log = try IncomingLog.open(fileSystem: fs, configuration: configuration(), logger: quietLogger)
        let points = Points()
        points.log.withLock { $0 = log }
        let picker = Mutex(SplitMix64(seed: seed ^ 0xC0FFEE))
        let recorder = IncomingLogWorkload.Recorder()
        fs.setOperationHook { op in
            let isSync = op.kind == .sync || op.kind == .fullSync || op.kind == .syncDirectory
            let random = !isSync && picker.withLock { $0.below(randomPointRate) == 0 }
            guard isSync || random, let log = points.log.withLock({ $0 }) else { return }
            // Everything acknowledged must be in the image, whatever the log believes is
            // durable: a commit answered before its sync would show up as missing.
            let acknowledged = recorder.acknowledged
            let durable = max(log.durableSequence(directory: 0), acknowledged)
            let image = fs.snapshot()
            points.points.withLock {
                $0.append(CrashPoint(image: image, durable: durable, atSync: isSync, operation: op.index))
            }
        }
        let model = try await IncomingLogWorkload(transactions: transactions, committers: committers, seed: seed)
            .run(on: log, recorder: recorder)
        fs.setOperationHook(nil)
        points.log.withLock { $0 = nil }
        log.close()

        var summary = Summary()
        let checker = model.checker()
        let all = points.points.withLock { $0 }
        summary.syncPoints = all.filter(\.atSync).count
        summary.randomPoints = all.count - summary.syncPoints
        for (n, point) in all.enumerated() {
            for mode in CrashMode.allCases {
                let crashSeed = seed &+ UInt64(n) &* 31 &+ UInt64(CrashMode.allCases.firstIndex(of: mode)!)
                let problems = try await recoverAndCheck(point, mode: mode, seed: crashSeed, model: model, checker: checker)
                summary.recoveries += 1
                summary.problems += problems.map { "point \(n) (op \(point.operation), \(mode), seed \(crashSeed)): \($0)" }
                if summary.problems.count > 50 { return summary }
            }
        }
        return summary
    }

    static func recoverAndCheck(
        _ point: CrashPoint, mode: CrashMode, seed: UInt64, model: IncomingLogModel,
        checker: IncomingLogModel.Checker
    ) async throws -> [String] {
        let crashed = SimulatedFileSystem.restore(point.image, crash: mode, seed: seed)
        let onDisk = try IncomingLog.replay(fileSystem: crashed, directories: configuration().directories, queueID: queueID)
        let closes = Set(onDisk.records.compactMap { if case .closed(let id, _) = $0.record { id } else { nil } })
        let reporter = CollectingCorruptionReporter()
        let log = try IncomingLog.open(fileSystem: crashed, configuration: configuration(), reporter: reporter, logger: quietLogger)
        var problems = checker.check(recovered: log.openTransactions(), durable: point.durable, survivingCloses: closes)
        // Every record on disk is one that was committed, byte for byte (carried-forward
        // copies are the log's own and are checked through the open set above).
        for replayed in onDisk.records {
            if case .carriedForward = replayed.record { continue }
            if model.issued[replayed.sequence] != replayed.record {
                problems.append("record \(replayed.sequence) on disk was never committed in that form")
            }
        }
        // A crash may leave one torn header: the slot being started when the power went.
        // Anything else reported would be a crash mistaken for corruption.
        let tornHeaders = reporter.reports.filter { $0.reason.hasPrefix("unreadable segment header") }
        if tornHeaders.count > 1 || reporter.reports.count != tornHeaders.count {
            problems.append("a crash was reported as corruption: \(reporter.reports)")
        }
        // The recovered log takes new commits...
        var rng = SplitMix64(seed: seed)
        let fresh = TransactionGenerator.transaction(id: EnvelopeID(1 << 40 | seed & 0xFFFF_FFFF), rng: &rng)
        try await log.commit(.transaction(fresh))
        let first = log.openTransactions()
        log.close()
        // ...and a second crash right after gives the same state.
        let again = SimulatedFileSystem.restore(crashed.snapshot(), crash: mode, seed: seed &+ 1)
        let reopened = try IncomingLog.open(fileSystem: again, configuration: configuration(), logger: quietLogger)
        if reopened.openTransactions() != first {
            problems.append("second crash changed the state: \(first.count) open before, \(reopened.openTransactions().count) after")
        }
        reopened.close()
        return problems
    }
}
