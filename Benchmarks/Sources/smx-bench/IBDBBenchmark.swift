import ArgumentParser
import SMXStore
import Synchronization

/// `smx-bench ibdb`: group commit of the incoming log against the disk's sync latency.
///
/// Measures, in one run and on one disk: the latency of a 4 KiB append + `fdatasync`; a
/// single writer that syncs once per record (the "no group commit" baseline); then, for
/// each concurrency level, that many tasks committing transactions to a fresh
/// ``IncomingLog`` for a fixed time, with per-commit latency.
struct IBDBBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ibdb",
        abstract: "Incoming log: commits per second and commit latency under concurrency."
    )

    @OptionGroup var options: BenchmarkOptions

    func run() async throws {
        let plan = IBDBPlan(quick: options.quick)
        try await options.runSuite("ibdb") { directory in
            try await IBDBSuite(plan: plan).run(in: directory)
        }
    }
}

struct IBDBPlan: Sendable {
    var quick: Bool
    /// Samples of the fsync probe, spread over the run in slices (before the baseline,
    /// before each level, at the end).
    var fsyncSamples: Int
    var warmUp: Double
    var duration: Double
    var levels = [1, 8, 64, 256]

    init(quick: Bool) {
        self.quick = quick
        fsyncSamples = quick ? 300 : 1000
        warmUp = quick ? 0.3 : 0.5
        duration = quick ? 1.2 : 4.0
    }
}

/// Builds transactions whose `.transaction` payload is exactly ``targetBytes`` long: a
/// plausible envelope (SIZE, BODY, RET, ENVID, three recipients with NOTIFY and ORCPT)
/// with the sender's local part padded to the target. Ids are fixed-width u64, so every
/// transaction the factory makes has the same payload size.
struct TransactionFactory: Sendable {
    static let targetBytes = 300
    static let tolerance = 10

    let arrivalMicros: UInt64
    let sender: String
    let mail: MailParameters
    let recipients: [Recipient]
    let bodySize: UInt64 = 23_456

    init(arrivalMicros: UInt64 = wallClockMicros()) {
        let mail = MailParameters(
            size: 23_456, body: .eightBitMIME, ret: .headers, envelopeID: "QQ314159@relay.example", smtpUTF8: false
        )
        let recipients = (1...3).map { i in
            Recipient(
                address: "user\(i).name@mx\(i).example.net",
                notify: [.failure, .delay],
                originalRecipient: "rfc822;user\(i).name@example.net"
            )
        }
        let bodySize = self.bodySize
        func encodedSize(_ sender: String) -> Int {
            let probe = IncomingTransaction(
                envelopeID: EnvelopeID(1), arrivalMicros: arrivalMicros, sender: sender, mail: mail,
                content: ContentReference(id: ContentID(1), size: bodySize, checksum: 1), recipients: recipients
            )
            return LogRecord.transaction(probe).encodePayload().count
        }
        let padding = max(0, Self.targetBytes - encodedSize("bounce+@lists.example.org"))
        self.arrivalMicros = arrivalMicros
        self.mail = mail
        self.recipients = recipients
        self.sender = "bounce+" + String(repeating: "x", count: padding) + "@lists.example.org"
    }

    func make(_ id: UInt64) -> IncomingTransaction {
        IncomingTransaction(
            envelopeID: EnvelopeID(id),
            arrivalMicros: arrivalMicros,
            sender: sender,
            mail: mail,
            content: ContentReference(id: ContentID(id), size: bodySize, checksum: id &* 0x9E37_79B9_7F4A_7C15),
            recipients: recipients
        )
    }

    /// The payload size of the transaction with this id, checked against the target.
    func checkedPayloadSize(_ id: UInt64) -> Int {
        let size = LogRecord.transaction(make(id)).encodePayload().count
        precondition(
            abs(size - Self.targetBytes) <= Self.tolerance,
            "transaction payload is \(size) bytes, want \(Self.targetBytes) ± \(Self.tolerance)"
        )
        return size
    }
}

/// Hands out envelope ids, unique across the whole run.
final class EnvelopeIDSource: Sendable {
    private let next = Atomic<UInt64>(1)
    func take() -> UInt64 { next.wrappingAdd(1, ordering: .relaxed).oldValue }
}

/// The log's statistics at the start and the end of the measured window, taken by the
/// first worker that crosses each deadline (no timer task, no sleep).
final class WindowStatistics: Sendable {
    private let log: IncomingLog
    private let startTaken = Atomic<Bool>(false)
    private let endTaken = Atomic<Bool>(false)
    private let snapshots = Mutex<(start: IncomingLog.Statistics.Directory?, end: IncomingLog.Statistics.Directory?)>((nil, nil))

    init(log: IncomingLog) { self.log = log }

    @inline(__always)
    func markStart() {
        guard !startTaken.load(ordering: .relaxed),
              startTaken.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged
        else { return }
        let s = log.statistics.directories[0]
        snapshots.withLock { $0.start = s }
    }

    @inline(__always)
    func markEnd() {
        guard !endTaken.load(ordering: .relaxed),
              endTaken.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged
        else { return }
        let s = log.statistics.directories[0]
        snapshots.withLock { $0.end = s }
    }

    /// End minus start; whole-run figures if a deadline was never seen.
    func delta() -> IncomingLog.Statistics.Directory {
        let (start, end) = snapshots.withLock { ($0.start, $0.end) }
        let last = end ?? log.statistics.directories[0]
        let first = start ?? IncomingLog.Statistics.Directory()
        var d = IncomingLog.Statistics.Directory()
        d.batches = last.batches - first.batches
        d.records = last.records - first.records
        d.bytes = last.bytes - first.bytes
        d.syncs = last.syncs - first.syncs
        d.writeMicros = last.writeMicros - first.writeMicros
        d.largestBatch = last.largestBatch
        d.backPressureWaits = last.backPressureWaits - first.backPressureWaits
        d.createdSegments = last.createdSegments - first.createdSegments
        d.recycledSegments = last.recycledSegments - first.recycledSegments
        d.handOffs = last.handOffs - first.handOffs
        return d
    }
}

struct IBDBLevelResult {
    var concurrency: Int
    var commits: Int
    var seconds: Double
    var latency: LatencySummary
    /// Statistics over the measured window.
    var window: IncomingLog.Statistics.Directory
    /// Statistics over the whole level (warm-up included), at close.
    var total: IncomingLog.Statistics.Directory

    var commitsPerSecond: Double { Double(commits) / seconds }
    var averageBatch: Double { window.batches == 0 ? 0 : Double(window.records) / Double(window.batches) }
}

struct IBDBSuite {
    let plan: IBDBPlan
    let factory = TransactionFactory()
    let ids = EnvelopeIDSource()

    func run(in directory: String) async throws -> SuiteReport {
        let recordBytes = factory.checkedPayloadSize(ids.take())
        let samplePayload = LogRecord.transaction(factory.make(ids.take())).encodePayload()
        progress("record: \(recordBytes) payload bytes, \(RecordFrame.size(payloadCount: recordBytes)) framed")

        // The disk of a shared machine drifts: the probe runs in slices next to each phase.
        var probe = SyncMeasurement.SpreadProbe(
            directory: directory, totalSamples: plan.fsyncSamples, slices: plan.levels.count + 2
        )
        func measureProbe(_ name: String) throws {
            try probe.measure(name)
            let slice = probe.slices[probe.slices.count - 1].summary
            progress("fsync probe [\(name)] (4 KiB append + fdatasync, preallocated): p50 \(fixed(slice.p50)) us, p99 \(fixed(slice.p99)) us")
        }
        try measureProbe("start")

        let baseline = try SyncMeasurement.singleWriter(
            directory: directory, payload: samplePayload,
            window: Window(warmUp: plan.warmUp, duration: plan.duration)
        )
        progress("baseline (one writer, one fdatasync per record): \(fixed(baseline.commitsPerSecond, 0)) commits/s, p50 \(fixed(baseline.latency.p50)) us")

        var results: [IBDBLevelResult] = []
        for level in plan.levels {
            try measureProbe(String(level))
            let result = try await runLevel(level, in: directory)
            results.append(result)
            progress(
                "c=\(level): \(fixed(result.commitsPerSecond, 0)) commits/s, p50 \(fixed(result.latency.p50)) us, "
                    + "p99 \(fixed(result.latency.p99)) us, \(result.window.syncs) syncs, "
                    + "avg batch \(fixed(result.averageBatch)), largest \(result.window.largestBatch), "
                    + "segments created \(result.total.createdSegments), hand-offs \(result.total.handOffs)"
            )
        }
        try measureProbe("end")
        let fsync = probe.summary
        progress("fsync over the run: p50 \(fixed(fsync.p50)) us, p99 \(fixed(fsync.p99)) us over \(fsync.count) samples")
        return report(recordBytes: recordBytes, fsync: fsync, probe: probe, baseline: baseline, results: results)
    }

    /// One concurrency level on a fresh log: `concurrency` tasks commit one transaction
    /// at a time until the window ends.
    func runLevel(_ concurrency: Int, in parent: String) async throws -> IBDBLevelResult {
        let levelDirectory = Path.join(parent, "c\(concurrency)")
        let configuration = IncomingLog.Configuration(
            queueID: .random(), directories: [Path.join(levelDirectory, "ibdb")]
        )
        let log = try IncomingLog.open(fileSystem: fileSystem, configuration: configuration)
        let window = Window(warmUp: plan.warmUp, duration: plan.duration)
        let statistics = WindowStatistics(log: log)
        let factory = self.factory
        let ids = self.ids

        var latencies: [UInt64] = []
        var commits = 0
        do {
            try await withThrowingTaskGroup(of: (commits: Int, latencies: [UInt64]).self) { group in
                for _ in 0..<concurrency {
                    group.addTask {
                        try await Self.worker(log: log, factory: factory, ids: ids, window: window, statistics: statistics)
                    }
                }
                for try await worker in group {
                    commits += worker.commits
                    latencies.append(contentsOf: worker.latencies)
                }
            }
        } catch {
            log.close()
            TemporaryDirectory.removeTree(levelDirectory)
            throw error
        }
        let delta = statistics.delta()
        log.close()
        let total = log.statistics.directories[0]
        TemporaryDirectory.removeTree(levelDirectory)
        return IBDBLevelResult(
            concurrency: concurrency, commits: commits, seconds: window.seconds,
            latency: LatencySummary(nanoseconds: latencies), window: delta, total: total
        )
    }

    private static func worker(
        log: IncomingLog,
        factory: TransactionFactory,
        ids: EnvelopeIDSource,
        window: Window,
        statistics: WindowStatistics
    ) async throws -> (commits: Int, latencies: [UInt64]) {
        _ = factory.checkedPayloadSize(ids.take())
        var latencies: [UInt64] = []
        latencies.reserveCapacity(4096)
        var commits = 0
        while true {
            let transaction = factory.make(ids.take())
            let start = monotonicNanos()
            if start >= window.end {
                statistics.markEnd()
                break
            }
            let measured = start >= window.measureStart
            if measured { statistics.markStart() }
            try await log.commit(.transaction(transaction))
            let end = monotonicNanos()
            if measured { latencies.append(end - start) }
            if window.counts(completedAt: end) { commits += 1 }
        }
        return (commits, latencies)
    }

    private func report(
        recordBytes: Int,
        fsync: LatencySummary,
        probe: SyncMeasurement.SpreadProbe,
        baseline: SyncMeasurement.SingleWriter,
        results: [IBDBLevelResult]
    ) -> SuiteReport {
        func byLevel(_ value: (IBDBLevelResult) -> JSON) -> JSON {
            .object(results.map { (String($0.concurrency), value($0)) })
        }
        let at64 = results.first { $0.concurrency == 64 }
        let speedup64 = at64.map { $0.commitsPerSecond / baseline.commitsPerSecond }
        let p99Over64 = at64.map { $0.latency.p99 / fsync.p50 }

        let fields: [(String, JSON)] = [
            ("suite", .string("ibdb")),
            ("quick", .bool(plan.quick)),
            ("record_bytes", .int(recordBytes)),
            ("framed_bytes", .int(RecordFrame.size(payloadCount: recordBytes))),
            ("fsync_us", .micros(fsync.p50)),
            ("fsync_p99_us", .micros(fsync.p99)),
            ("fsync_samples", .int(fsync.count)),
            ("fsync_slices_us", .object(probe.slices.map { ($0.name, .micros($0.summary.p50)) })),
            ("baseline_commits_per_s", .number(baseline.commitsPerSecond, decimals: 0)),
            ("baseline_p50_us", .micros(baseline.latency.p50)),
            ("baseline_p99_us", .micros(baseline.latency.p99)),
            ("window_s", .number(plan.duration, decimals: 2)),
            ("commits_per_s", byLevel { .number($0.commitsPerSecond, decimals: 0) }),
            ("p50_us", byLevel { .micros($0.latency.p50) }),
            ("p99_us", byLevel { .micros($0.latency.p99) }),
            ("syncs", byLevel { .int($0.window.syncs) }),
            ("avg_batch", byLevel { .number($0.averageBatch) }),
            ("avg_batch_write_sync_us", byLevel { .number($0.window.batches == 0 ? 0 : Double($0.window.writeMicros) / Double($0.window.batches), decimals: 1) }),
            ("largest_batch", byLevel { .int($0.window.largestBatch) }),
            ("segments_created", byLevel { .int($0.total.createdSegments) }),
            ("hand_offs", byLevel { .int($0.total.handOffs) }),
            ("speedup_64", speedup64.map { .number($0) } ?? .string("n/a")),
            ("p99_64_over_fsync", p99Over64.map { .number($0) } ?? .string("n/a")),
            ("goals", .object([("speedup_64", .int(30)), ("p99_64_over_fsync", .int(4))])),
        ]

        var rows = results.map { r in
            [
                String(r.concurrency), fixed(r.commitsPerSecond, 0), fixed(r.latency.p50), fixed(r.latency.p99),
                String(r.window.syncs), fixed(r.averageBatch), String(r.window.largestBatch),
            ]
        }
        rows.insert(
            ["baseline", fixed(baseline.commitsPerSecond, 0), fixed(baseline.latency.p50), fixed(baseline.latency.p99), "", "1", "1"],
            at: 0
        )
        let table = [
            "ibdb: \(recordBytes)-byte transaction records, \(fixed(plan.duration)) s per level\(plan.quick ? " (quick)" : "")",
            "fsync (4 KiB append + fdatasync, preallocated): p50 \(fixed(fsync.p50)) us, p99 \(fixed(fsync.p99)) us"
                + " over \(fsync.count) samples",
            "fsync p50 by probe slice (us): " + probe.slices.map { "\($0.name) \(fixed($0.summary.p50))" }.joined(separator: ", "),
            "",
            renderTable(["concurrency", "commits/s", "p50 us", "p99 us", "syncs", "avg batch", "largest"], rows),
            "",
            "speedup at 64 over baseline: \(speedup64.map { fixed($0) } ?? "n/a") (goal 30)",
            "p99 at 64 / fsync: \(p99Over64.map { fixed($0) } ?? "n/a") (goal 4)",
        ].joined(separator: "\n")
        return SuiteReport(fields: fields, table: table)
    }
}
