import ArgumentParser
import SMXStore
import Synchronization

/// `smx-bench cdb`: the content store's durable body writes against one file per body.
///
/// Measures, in one run and on one disk: the latency of a 4 KiB append + `fdatasync`; the
/// compression of a generated mail corpus (``MailCorpus``) by the store's encoder; then,
/// for each body size, 64 threads spooling one file per body as Postfix and Exim do (the
/// baseline), and 64 tasks writing the same bodies to a fresh ``ContentStore`` and waiting
/// until they are durable.
struct CDBBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cdb",
        abstract: "Content store: durable bodies per second against one file per body, and compression."
    )

    @OptionGroup var options: BenchmarkOptions

    func run() async throws {
        let plan = CDBPlan(quick: options.quick)
        try await options.runSuite("cdb") { directory in
            try await CDBSuite(plan: plan).run(in: directory)
        }
    }
}

struct CDBPlan: Sendable {
    var quick: Bool
    /// Samples of the fsync probe, spread over the run in slices (at the start, before
    /// each body size, at the end).
    var fsyncSamples: Int
    var warmUp: Double
    var duration: Double
    /// Writers in both phases: tasks for the store, threads for the baseline.
    var concurrency = 64
    var sizes: [(name: String, bytes: Int)] = [("1k", 1024), ("32k", 32 << 10), ("1m", 1 << 20)]
    /// Distinct bodies per size, taken in turn by the writers.
    var bodiesPerSize = 32
    /// A large body reaches the store in pieces of this size, as an SMTP server reads it.
    var appendPiece = 64 << 10
    /// Messages of the corpus the compression figures come from.
    var corpusMessages: Int
    static let corpusSeed: UInt64 = 0x0C0D_B5EE_D000_0001

    init(quick: Bool) {
        self.quick = quick
        fsyncSamples = quick ? 300 : 1000
        warmUp = quick ? 0.3 : 0.5
        duration = quick ? 1.5 : 4.0
        corpusMessages = quick ? 600 : 2000
    }
}

/// The bodies of one size, generated once and shared by both phases: whole for the
/// baseline's single write, and cut into ``CDBPlan/appendPiece`` pieces for the store.
struct BodySet: Sendable {
    let name: String
    let size: Int
    let whole: [[UInt8]]
    let pieces: [[[UInt8]]]

    init(name: String, size: Int, count: Int, piece: Int) {
        var corpus = MailCorpus(seed: CDBPlan.corpusSeed &+ UInt64(size))
        let whole = (0..<count).map { _ in corpus.body(size: size) }
        self.name = name
        self.size = size
        self.whole = whole
        pieces = whole.map { body in
            stride(from: 0, to: body.count, by: piece).map { Array(body[$0..<min($0 + piece, body.count)]) }
        }
    }
}

/// One phase (baseline or store) at one body size.
struct CDBPhaseResult {
    var messages: Int
    var seconds: Double
    var latency: LatencySummary
    /// Stored bytes of the messages counted (the store's figure; the body size for the
    /// baseline).
    var storedBytes: Int
    /// Over the measured window; zero for the baseline.
    var syncs = 0
    var batches = 0
    var blobs = 0
    /// Time the store's flusher spent writing and syncing, over the measured window.
    var passMicros = 0
    /// Over the whole phase (warm-up included); zero for the baseline.
    var segmentsCreated = 0
    var backPressureWaits = 0

    var messagesPerSecond: Double { Double(messages) / seconds }
    var storedBytesPerMessage: Double { messages == 0 ? 0 : Double(storedBytes) / Double(messages) }
    var averageBatch: Double { batches == 0 ? 0 : Double(blobs) / Double(batches) }
    var averagePassMicros: Double { batches == 0 ? 0 : Double(passMicros) / Double(batches) }
    func megabytesPerSecond(bodySize: Int) -> Double { messagesPerSecond * Double(bodySize) / 1e6 }
}

/// Compression of the corpus by the store's encoder, with the store's defaults.
struct CompressionResult {
    struct Totals {
        var messages = 0
        var rawBytes = 0
        var storedBytes = 0
        var ratio: Double { storedBytes == 0 ? 0 : Double(rawBytes) / Double(storedBytes) }
    }

    var all = Totals()
    var text = Totals()
    var byKind: [MailCorpus.Kind: Totals] = [:]
    /// Thread CPU time spent encoding `all` (text view not included).
    var encodeNanos: UInt64 = 0

    var megabytesPerSecond: Double { encodeNanos == 0 ? 0 : Double(all.rawBytes) / 1e6 / (Double(encodeNanos) / 1e9) }

    /// Generates `messages` messages and encodes each one (whole, then its text view) as
    /// one blob: 64 KiB chunks, zstd level 1, chunks kept raw when they shrink by less than
    /// 10 %. Stored bytes count the 64-byte blob header.
    static func measure(messages: Int, seed: UInt64) -> CompressionResult {
        var corpus = MailCorpus(seed: seed)
        var result = CompressionResult()
        for index in 0..<messages {
            let message = corpus.next()
            let start = threadCPUNanos()
            let stored = encodedSize(message.bytes, id: UInt64(index + 1))
            result.encodeNanos += threadCPUNanos() - start
            let storedText = encodedSize(message.text, id: UInt64(index + 1))
            result.all.add(raw: message.bytes.count, stored: stored)
            result.text.add(raw: message.text.count, stored: storedText)
            result.byKind[message.kind, default: Totals()].add(raw: message.bytes.count, stored: stored)
        }
        return result
    }

    private static func encodedSize(_ body: [UInt8], id: UInt64) -> Int {
        var encoder = BlobEncoder(
            contentID: ContentID(id), chunkSize: BlobFormat.maxChunkSize, compressionLevel: 1, minimumGain: 0.1, hint: .automatic
        )
        encoder.append(body)
        encoder.finishChunks()
        return BlobFormat.headerSize + encoder.storedLength
    }
}

extension CompressionResult.Totals {
    mutating func add(raw: Int, stored: Int) {
        messages += 1
        rawBytes += raw
        storedBytes += stored
    }
}

/// The Postfix/Exim pattern, one file per body: create a temporary file in the spool
/// directory, write the body, `fsync` it, close it, rename it to its final name, `fsync`
/// the directory. `concurrency` threads (not tasks: these are blocking syscalls) each run
/// that loop for the window, through the same file layer as the store.
enum SpoolBaseline {
    static func run(directory: String, bodies: BodySet, concurrency: Int, window: Window) async throws -> CDBPhaseResult {
        try fileSystem.createDirectory(directory, intermediate: true)
        try fileSystem.syncDirectory(Path.directory(of: directory))
        let workers = try await BlockingThreads.run(count: concurrency) { thread in
            try worker(thread, directory: directory, bodies: bodies, concurrency: concurrency, window: window)
        }
        return CDBPhaseResult(
            messages: workers.reduce(0) { $0 + $1.messages },
            seconds: window.seconds,
            latency: LatencySummary(nanoseconds: workers.flatMap(\.latencies)),
            storedBytes: workers.reduce(0) { $0 + $1.messages } * bodies.size
        )
    }

    private static func worker(
        _ thread: Int, directory: String, bodies: BodySet, concurrency: Int, window: Window
    ) throws -> (messages: Int, latencies: [UInt64]) {
        var latencies: [UInt64] = []
        latencies.reserveCapacity(4096)
        var messages = 0
        var sequence = 0
        while true {
            let body = bodies.whole[(thread + sequence * concurrency) % bodies.whole.count]
            let name = "\(thread).\(sequence)"
            sequence += 1
            let start = monotonicNanos()
            if start >= window.end { break }
            let temporary = Path.join(directory, "t" + name)
            let handle = try fileSystem.openFile(temporary, mode: .createNew)
            do {
                try handle.write(body, at: 0)
                try handle.fullSync()
            } catch {
                try? handle.close()
                throw error
            }
            try handle.close()
            try fileSystem.rename(temporary, to: Path.join(directory, "m" + name))
            try fileSystem.syncDirectory(directory)
            let end = monotonicNanos()
            if start >= window.measureStart { latencies.append(end - start) }
            if window.counts(completedAt: end) { messages += 1 }
        }
        return (messages, latencies)
    }
}

/// The store's statistics at the start and the end of the measured window, taken by the
/// first worker that crosses each deadline (no timer task, no sleep).
final class ContentWindowStatistics: Sendable {
    private let store: ContentStore
    private let startTaken = Atomic<Bool>(false)
    private let endTaken = Atomic<Bool>(false)
    private let snapshots = Mutex<(start: ContentStore.Statistics?, end: ContentStore.Statistics?)>((nil, nil))

    init(store: ContentStore) { self.store = store }

    @inline(__always)
    func markStart() {
        guard !startTaken.load(ordering: .relaxed),
              startTaken.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged
        else { return }
        let s = store.statistics
        snapshots.withLock { $0.start = s }
    }

    @inline(__always)
    func markEnd() {
        guard !endTaken.load(ordering: .relaxed),
              endTaken.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged
        else { return }
        let s = store.statistics
        snapshots.withLock { $0.end = s }
    }

    /// End minus start (syncs, batches, blobs); whole-run figures if a deadline was never seen.
    func delta() -> (syncs: Int, batches: Int, blobs: Int, passMicros: Int) {
        let (start, end) = snapshots.withLock { ($0.start, $0.end) }
        let last = end ?? store.statistics
        guard let first = start else { return (last.syncs, last.batches, last.blobs, last.passMicros) }
        return (last.syncs - first.syncs, last.batches - first.batches, last.blobs - first.blobs, last.passMicros - first.passMicros)
    }
}


struct CDBSizeResult {
    var bodies: BodySet
    var baseline: CDBPhaseResult
    var store: CDBPhaseResult
    var speedup: Double { store.messagesPerSecond / baseline.messagesPerSecond }
}

struct CDBSuite {
    let plan: CDBPlan

    func run(in directory: String) async throws -> SuiteReport {
        var probe = SyncMeasurement.SpreadProbe(
            directory: directory, totalSamples: plan.fsyncSamples, slices: plan.sizes.count + 2
        )
        func measureProbe(_ name: String) throws {
            try probe.measure(name)
            let slice = probe.slices[probe.slices.count - 1].summary
            progress("fsync probe [\(name)] (4 KiB append + fdatasync, preallocated): p50 \(fixed(slice.p50)) us, p99 \(fixed(slice.p99)) us")
        }
        try measureProbe("start")

        let compression = CompressionResult.measure(messages: plan.corpusMessages, seed: CDBPlan.corpusSeed)
        progress(
            "corpus: \(compression.all.messages) messages, \(fixed(Double(compression.all.rawBytes) / 1e6)) MB, "
                + "ratio \(fixed(compression.all.ratio, 2)) (text \(fixed(compression.text.ratio, 2))), "
                + "encode \(fixed(compression.megabytesPerSecond, 0)) MB/s; by kind: "
                + MailCorpus.Kind.allCases.map { kind in
                    let t = compression.byKind[kind] ?? .init()
                    return "\(kind.rawValue) \(t.messages) msgs \(fixed(Double(t.rawBytes) / 1e6)) MB ratio \(fixed(t.ratio, 2))"
                }.joined(separator: ", ")
        )

        var results: [CDBSizeResult] = []
        for size in plan.sizes {
            let bodies = BodySet(name: size.name, size: size.bytes, count: plan.bodiesPerSize, piece: plan.appendPiece)
            try measureProbe(size.name)
            let baselineDirectory = Path.join(directory, "spool-\(size.name)")
            let baseline = try await SpoolBaseline.run(
                directory: baselineDirectory, bodies: bodies, concurrency: plan.concurrency,
                window: Window(warmUp: plan.warmUp, duration: plan.duration)
            )
            TemporaryDirectory.removeTree(baselineDirectory)
            progress(
                "\(size.name) baseline (file per body, \(plan.concurrency) threads): \(fixed(baseline.messagesPerSecond, 0)) msgs/s, "
                    + "\(fixed(baseline.megabytesPerSecond(bodySize: size.bytes))) MB/s, p50 \(fixed(baseline.latency.p50)) us, p99 \(fixed(baseline.latency.p99)) us"
            )
            let store = try await runStore(bodies, in: directory)
            progress(
                "\(size.name) store (\(plan.concurrency) tasks): \(fixed(store.messagesPerSecond, 0)) msgs/s, "
                    + "\(fixed(store.megabytesPerSecond(bodySize: size.bytes))) MB/s, p50 \(fixed(store.latency.p50)) us, p99 \(fixed(store.latency.p99)) us, "
                    + "\(store.syncs) syncs, avg batch \(fixed(store.averageBatch)), \(fixed(store.storedBytesPerMessage, 0)) stored bytes/msg, "
                    + "segments created \(store.segmentsCreated), back-pressure waits \(store.backPressureWaits)"
            )
            results.append(CDBSizeResult(bodies: bodies, baseline: baseline, store: store))
        }
        try measureProbe("end")
        let fsync = probe.summary
        progress("fsync over the run: p50 \(fixed(fsync.p50)) us, p99 \(fixed(fsync.p99)) us over \(fsync.count) samples")
        return report(fsync: fsync, probe: probe, compression: compression, results: results)
    }

    /// One body size on a fresh store: `concurrency` tasks each write a body, wait until
    /// it is durable, and start the next, until the window ends.
    func runStore(_ bodies: BodySet, in parent: String) async throws -> CDBPhaseResult {
        let sizeDirectory = Path.join(parent, "store-\(bodies.name)")
        let configuration = ContentStore.Configuration(queueID: .random(), directory: Path.join(sizeDirectory, "cdb"))
        let store = try ContentStore.open(fileSystem: fileSystem, configuration: configuration)
        let window = Window(warmUp: plan.warmUp, duration: plan.duration)
        let statistics = ContentWindowStatistics(store: store)
        let concurrency = plan.concurrency

        var latencies: [UInt64] = []
        var messages = 0
        var storedBytes = 0
        do {
            try await withThrowingTaskGroup(of: (messages: Int, storedBytes: Int, latencies: [UInt64]).self) { group in
                for index in 0..<concurrency {
                    group.addTask {
                        try await Self.storeWorker(
                            index, store: store, bodies: bodies, concurrency: concurrency, window: window, statistics: statistics
                        )
                    }
                }
                for try await worker in group {
                    messages += worker.messages
                    storedBytes += worker.storedBytes
                    latencies.append(contentsOf: worker.latencies)
                }
            }
        } catch {
            store.close()
            TemporaryDirectory.removeTree(sizeDirectory)
            throw error
        }
        let delta = statistics.delta()
        store.close()
        let total = store.statistics
        TemporaryDirectory.removeTree(sizeDirectory)
        return CDBPhaseResult(
            messages: messages, seconds: window.seconds, latency: LatencySummary(nanoseconds: latencies),
            storedBytes: storedBytes, syncs: delta.syncs, batches: delta.batches, blobs: delta.blobs, passMicros: delta.passMicros,
            segmentsCreated: total.segmentsCreated, backPressureWaits: total.backPressureWaits
        )
    }

    private static func storeWorker(
        _ index: Int,
        store: ContentStore,
        bodies: BodySet,
        concurrency: Int,
        window: Window,
        statistics: ContentWindowStatistics
    ) async throws -> (messages: Int, storedBytes: Int, latencies: [UInt64]) {
        var latencies: [UInt64] = []
        latencies.reserveCapacity(4096)
        var messages = 0
        var storedBytes = 0
        var sequence = 0
        while true {
            let pieces = bodies.pieces[(index + sequence * concurrency) % bodies.pieces.count]
            sequence += 1
            let start = monotonicNanos()
            if start >= window.end {
                statistics.markEnd()
                break
            }
            let measured = start >= window.measureStart
            if measured { statistics.markStart() }
            let writer = try store.makeWriter()
            let content: StoredContent
            do {
                for piece in pieces { try await writer.append(piece) }
                content = try await writer.finish()
            } catch {
                writer.abort()
                throw error
            }
            try await store.waitDurable([content])
            let end = monotonicNanos()
            if measured { latencies.append(end - start) }
            if window.counts(completedAt: end) {
                messages += 1
                storedBytes += content.storedBytes
            }
        }
        return (messages, storedBytes, latencies)
    }

    private func report(
        fsync: LatencySummary,
        probe: SyncMeasurement.SpreadProbe,
        compression: CompressionResult,
        results: [CDBSizeResult]
    ) -> SuiteReport {
        func bySize(_ value: (CDBSizeResult) -> JSON) -> JSON {
            .object(results.map { ($0.bodies.name, value($0)) })
        }
        func speedup(_ name: String) -> JSON {
            results.first { $0.bodies.name == name }.map { .number($0.speedup) } ?? .string("n/a")
        }

        let fields: [(String, JSON)] = [
            ("suite", .string("cdb")),
            ("quick", .bool(plan.quick)),
            ("concurrency", .int(plan.concurrency)),
            ("fsync_us", .micros(fsync.p50)),
            ("fsync_p99_us", .micros(fsync.p99)),
            ("fsync_samples", .int(fsync.count)),
            ("fsync_slices_us", .object(probe.slices.map { ($0.name, .micros($0.summary.p50)) })),
            ("window_s", .number(plan.duration, decimals: 2)),
            ("body_bytes", bySize { .int($0.bodies.size) }),
            ("msgs_per_s", bySize { .number($0.store.messagesPerSecond, decimals: 0) }),
            ("mb_per_s", bySize { .number($0.store.megabytesPerSecond(bodySize: $0.bodies.size), decimals: 1) }),
            ("p50_us", bySize { .micros($0.store.latency.p50) }),
            ("p99_us", bySize { .micros($0.store.latency.p99) }),
            ("stored_bytes_per_msg", bySize { .number($0.store.storedBytesPerMessage, decimals: 0) }),
            ("syncs", bySize { .int($0.store.syncs) }),
            ("avg_batch", bySize { .number($0.store.averageBatch) }),
            ("avg_pass_write_sync_us", bySize { .number($0.store.averagePassMicros, decimals: 1) }),
            ("segments_created", bySize { .int($0.store.segmentsCreated) }),
            ("back_pressure_waits", bySize { .int($0.store.backPressureWaits) }),
            ("baseline_msgs_per_s", bySize { .number($0.baseline.messagesPerSecond, decimals: 0) }),
            ("baseline_mb_per_s", bySize { .number($0.baseline.megabytesPerSecond(bodySize: $0.bodies.size), decimals: 1) }),
            ("baseline_p50_us", bySize { .micros($0.baseline.latency.p50) }),
            ("baseline_p99_us", bySize { .micros($0.baseline.latency.p99) }),
            ("speedup_1k", speedup("1k")),
            ("speedup_32k", speedup("32k")),
            ("speedup_1m", speedup("1m")),
            ("corpus_messages", .int(compression.all.messages)),
            ("corpus_mb", .number(Double(compression.all.rawBytes) / 1e6, decimals: 1)),
            ("corpus_text_mb", .number(Double(compression.text.rawBytes) / 1e6, decimals: 1)),
            ("compression_ratio", .number(compression.all.ratio)),
            ("compression_ratio_text", .number(compression.text.ratio)),
            ("compression_ratio_by_kind", .object(MailCorpus.Kind.allCases.map { ($0.rawValue, .number(compression.byKind[$0]?.ratio ?? 0)) })),
            ("compress_mb_per_s", .number(compression.megabytesPerSecond, decimals: 0)),
            ("goals", .object([("speedup_1k", .int(10)), ("speedup_32k", .int(5)), ("compression_ratio_text", .number(2.5, decimals: 1))])),
        ]

        let rows = results.map { r in
            [
                r.bodies.name, fixed(r.baseline.messagesPerSecond, 0), fixed(r.store.messagesPerSecond, 0), fixed(r.speedup, 2),
                fixed(r.store.megabytesPerSecond(bodySize: r.bodies.size)), fixed(r.store.latency.p50), fixed(r.store.latency.p99),
                fixed(r.store.storedBytesPerMessage, 0), fixed(r.store.averageBatch),
            ]
        }
        let table = [
            "cdb: \(plan.concurrency) writers, \(fixed(plan.duration)) s per phase\(plan.quick ? " (quick)" : "")",
            "fsync (4 KiB append + fdatasync, preallocated): p50 \(fixed(fsync.p50)) us, p99 \(fixed(fsync.p99)) us"
                + " over \(fsync.count) samples",
            "fsync p50 by probe slice (us): " + probe.slices.map { "\($0.name) \(fixed($0.summary.p50))" }.joined(separator: ", "),
            "",
            renderTable(["size", "baseline msgs/s", "msgs/s", "speedup", "MB/s", "p50 us", "p99 us", "stored/msg", "avg batch"], rows),
            "",
            "corpus: \(compression.all.messages) messages, \(fixed(Double(compression.all.rawBytes) / 1e6)) MB; "
                + "compression ratio \(fixed(compression.all.ratio, 2)), text only \(fixed(compression.text.ratio, 2)) (goal 2.5); "
                + "encoding \(fixed(compression.megabytesPerSecond, 0)) MB/s on one thread",
            "speedup 1k: \(speedup("1k").rendered) (goal 10), 32k: \(speedup("32k").rendered) (goal 5), 1m: \(speedup("1m").rendered)",
        ].joined(separator: "\n")
        return SuiteReport(fields: fields, table: table)
    }
}
