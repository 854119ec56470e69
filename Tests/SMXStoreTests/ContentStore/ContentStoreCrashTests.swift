import Testing
#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Logging
import SMXStore
import SMXTestSupport

/// The content store's crash test, joined with the incoming log as the queue manager uses
/// them: concurrent writers accept messages (body, then envelope, syncs running at the
/// same time), complete some (close, release) while a task compacts. A power-loss image is
/// taken at every sync point and at random writes between them, and each image is
/// recovered in every crash mode and checked against what was acknowledged.
@Suite struct ContentStoreCrashTests {
    static let queueID = QueueID(bytes: Array(repeating: 0x5C, count: 16))

    static let quietLogger: Logger = {
        var logger = Logger(label: "smx.cdb.crash-test")
        logger.logLevel = .critical
        return logger
    }()

    static func storeConfiguration() -> ContentStore.Configuration {
        var c = ContentStore.Configuration(queueID: queueID, directory: "/q/cdb")
        c.segmentSize = 160 * 1024
        c.largeBodyThreshold = 40 * 1024
        c.chunkSize = 8 * 1024
        c.maxBatchBytes = 64 * 1024
        c.maxPendingBytes = 256 * 1024
        c.journalRewriteBytes = 2048
        c.compactionLiveFraction = 0.6
        c.automaticCompaction = false
        return c
    }

    static func logConfiguration() -> IncomingLog.Configuration {
        var c = IncomingLog.Configuration(queueID: queueID, directories: ["/q/ibdb"])
        c.segmentSize = 64 * 1024
        c.maxBatchBytes = 16 * 1024
        c.maxPendingBytes = 64 * 1024
        c.maxSegmentsPerDirectory = 256
        return c
    }

    struct CrashPoint: Sendable {
        var image: SimulatedImage
        var state: AcceptanceWorkload.State
        var atSync: Bool
        var operation: Int
    }

    struct Summary: Sendable {
        var syncPoints = 0
        var randomPoints = 0
        var recoveries = 0
        var tornTails = 0
        var discarded = 0
        var compactions = 0
        var recycled = 0
        var problems: [String] = []
    }

    @Test(.timeLimit(.minutes(20)))
    func everyAcknowledgedBodySurvivesEveryCrash() async throws {
        let summary = try await Self.campaign(messages: 400, writers: 8, seed: 20261126, randomPointRate: 9)
        print("cdb crash campaign: 400 messages, 8 writers, \(summary.syncPoints) sync points, \(summary.randomPoints) random points, \(summary.recoveries) recoveries, \(summary.tornTails) torn tails cut, \(summary.discarded) unacknowledged envelopes discarded, \(summary.compactions) compactions, \(summary.recycled) segments recycled, \(summary.problems.count) problems")
        #expect(summary.syncPoints >= 300)
        #expect(summary.compactions >= 5)
        #expect(summary.recycled >= 1)
        #expect(summary.problems.isEmpty, "\(summary.problems.prefix(20))")
    }

    static func campaign(messages: Int, writers: Int, seed: UInt64, randomPointRate: Int) async throws -> Summary {
        let fs = SimulatedFileSystem(seed: seed)
        fs.syncDelayMicroseconds = 50
        let store = try ContentStore.open(fileSystem: fs, configuration: storeConfiguration(), logger: quietLogger)
        let log = try IncomingLog.open(fileSystem: fs, configuration: logConfiguration(), logger: quietLogger)
        let recorder = AcceptanceWorkload.Recorder()
        let points = Mutex<[CrashPoint]>([])
        let picker = Mutex(SplitMix64(seed: seed ^ 0xC0FFEE))
        let recording = Atomic<Bool>(true)
        fs.setOperationHook { op in
            guard recording.load(ordering: .relaxed) else { return }
            let random = !op.kind.isSync && op.kind != .create && picker.withLock { $0.below(randomPointRate) == 0 }
            guard op.kind.isSync || random else { return }
            // What was acknowledged is read before the image (all of it must be in the
            // image); what was started (closes, releases) after it (anything in the image
            // was started before it was taken: another thread may sync in between).
            var state = recorder.snapshot
            let image = fs.snapshot()
            let after = recorder.snapshot
            state.closing = after.closing
            state.releasing = after.releasing
            points.withLock { $0.append(CrashPoint(image: image, state: state, atSync: op.kind.isSync, operation: op.index)) }
        }
        let workload = AcceptanceWorkload(messages: messages, writers: writers, seed: seed, maxBodySize: 60 * 1024, compactEvery: 12)
        try await workload.run(store: store, log: log, recorder: recorder)
        recording.store(false, ordering: .relaxed)
        fs.setOperationHook(nil)
        var summary = Summary()
        summary.compactions = recorder.snapshot.compactions
        summary.recycled = store.statistics.segmentsRecycled
        log.close()
        store.close()

        let final = recorder.snapshot
        let all = points.withLock { $0 }
        summary.syncPoints = all.filter(\.atSync).count
        summary.randomPoints = all.count - summary.syncPoints
        for (n, point) in all.enumerated() {
            for (m, mode) in CrashMode.allCases.enumerated() {
                let crashSeed = seed &+ UInt64(n) &* 31 &+ UInt64(m)
                let problems = try await recoverAndCheck(point, mode: mode, seed: crashSeed, final: final, summary: &summary)
                summary.recoveries += 1
                summary.problems += problems.map { "point \(n) (op \(point.operation), \(mode), seed \(crashSeed)): \($0)" }
                if summary.problems.count > 30 { return summary }
            }
        }
        return summary
    }

    static func recoverAndCheck(
        _ point: CrashPoint, mode: CrashMode, seed: UInt64, final: AcceptanceWorkload.State, summary: inout Summary
    ) async throws -> [String] {
        var problems: [String] = []
        let crashed = SimulatedFileSystem.restore(point.image, crash: mode, seed: seed)
        let reporter = CollectingCorruptionReporter()
        let store = try ContentStore.open(fileSystem: crashed, configuration: storeConfiguration(), reporter: reporter, logger: quietLogger)
        let log = try IncomingLog.open(fileSystem: crashed, configuration: logConfiguration(), logger: quietLogger)
        summary.tornTails += store.recovery.tornTails.count
        if !reporter.reports.isEmpty {
            problems.append("a crash was reported as corruption: \(reporter.reports)")
        }
        let discarded = try await log.discardTransactionsWithoutBody(in: store)
        summary.discarded += discarded.count
        let state = point.state
        for entry in discarded where state.acknowledged[entry.envelopeID] != nil && !state.closed.contains(entry.envelopeID) {
            problems.append("acknowledged envelope \(entry.envelopeID) discarded: \(entry.finding)")
        }
        // Rule 1: every acknowledged message that was not completed is whole. One whose
        // close was in flight may be closed or open; if open, its body is still there (the
        // release only follows the close's acknowledgement).
        for (envelopeID, message) in state.acknowledged where !state.closed.contains(envelopeID) {
            if log.transaction(envelopeID) == nil {
                if !state.closing.contains(envelopeID) {
                    problems.append("acknowledged envelope \(envelopeID) missing")
                    if CrashDebug.enabled {
                        let point = point
                        let replay = try IncomingLog.replay(fileSystem: SimulatedFileSystem.restore(point.image, crash: mode, seed: seed), directories: logConfiguration().directories, queueID: queueID)
                        let mine = replay.records.filter { $0.record.envelopeID == envelopeID }
                        problems.append("  on disk for \(envelopeID): \(mine.map { "\($0.record.type) seq \($0.sequence)" }); log recovery \(log.recovery.directories); ibdb files \((try? crashed.listDirectory("/q/ibdb")) ?? [])")
                    }
                }
                continue
            }
            do {
                if try store.read(message.content.id) != message.body {
                    problems.append("body \(message.content.id) of \(envelopeID) differs")
                }
            } catch {
                problems.append("body \(message.content.id) of \(envelopeID) unreadable: \(error)")
            }
        }
        // Nothing made up: every live body is one a writer finished, and it verifies.
        for id in store.liveIDs() where final.finished[id] == nil {
            problems.append("live body \(id) was never written")
        }
        if !problems.isEmpty, CrashDebug.enabled {
            let fresh = SimulatedFileSystem.restore(point.image, crash: mode, seed: seed)
            for slot in 0..<6 {
                let path = "/q/cdb/segment-000\(slot).cdb"
                problems.append("pending \(path): \(point.image.pendingOperations(path))")
                if let bytes = fresh.currentContents(path), bytes.count > 1024,
                   let header = (try? FileHeader.decode(Array(bytes[0..<64]))) ?? (try? FileHeader.decode(Array(bytes[512..<576]))) {
                    let scan = bytes.withUnsafeBytes { ContentSegmentScan.scan($0, seed: header.segmentNumber, verifyChunks: true) }
                    problems.append("slot \(slot): segment \(header.segmentNumber), seal \(String(describing: scan.sealOffset)), blobs \(scan.blobs.map { "\($0.offset)/b\($0.header.commitBatch)\($0.problem == nil ? "" : "!")" }), damage \(scan.damage.map { "\($0.start)+\($0.length)" })")
                }
            }
            problems.append("recovery: \(store.recovery)")
        }
        let verification = store.verify()
        if !verification.isClean {
            problems.append("verify: \(verification.problems.prefix(5))")
        }
        // The recovered stores take new messages, and a second crash keeps the state.
        var rng = SplitMix64(seed: seed)
        let body = MailBodyGenerator.body(size: 3000 + rng.below(50_000), seed: seed)
        let content = try await store.store(body)
        var transaction = TransactionGenerator.transaction(id: EnvelopeID(1 << 40 | seed & 0xFFFF_FFFF), rng: &rng)
        transaction.content = content.reference
        _ = try await log.commit([.transaction(transaction)], bodies: [content], in: store)
        let live = Set(store.liveIDs())
        log.close()
        store.close()
        let again = SimulatedFileSystem.restore(crashed.snapshot(), crash: mode, seed: seed &+ 1)
        let store2 = try ContentStore.open(fileSystem: again, configuration: storeConfiguration(), reporter: reporter, logger: quietLogger)
        defer { store2.close() }
        if Set(store2.liveIDs()) != live {
            problems.append("second crash changed the live set: \(live.count) before, \(store2.liveIDs().count) after")
        }
        if (try? store2.read(content.id)) != body {
            problems.append("body acknowledged after recovery lost in the second crash")
        }
        if !reporter.reports.isEmpty && problems.isEmpty {
            problems.append("second recovery reported corruption: \(reporter.reports)")
        }
        return problems
    }
}

/// `SMX_CRASH_DEBUG=1` adds, to every failing point, the pending writes of each segment
/// in the image and a scan of each segment as recovered.
enum CrashDebug {
    static let enabled = getenv("SMX_CRASH_DEBUG") != nil
}
