import ArgumentParser
import Glibc
import SMXStore

/// `smx-bench defedb`: the deferred queue's workload on each engine, side by side.
///
/// Measures, in one run and on one disk: the latency of a 4 KiB append + `fdatasync`; then,
/// for each engine (``DefEDBSuite/engines``) on a fresh directory, the same generated
/// workload (``DeferredWorkload``): durable inserts, durable reschedules, the scheduler's
/// in-order scan of the next-try index, random point lookups and durable deletes.
struct DefEDBBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "defedb",
        abstract: "Deferred queue: recipient inserts, reschedules, due scans, lookups and deletes against SQLite and LMDB."
    )

    @OptionGroup var options: BenchmarkOptions

    func run() async throws {
        let plan = DefEDBPlan(quick: options.quick)
        try await options.runSuite("defedb") { directory in
            try await DefEDBSuite(plan: plan).run(in: directory)
        }
    }
}

struct DefEDBPlan: Sendable {
    var quick: Bool
    var recipients: Int
    var insertBatch = 1000
    var rescheduleShare = 0.2
    var rescheduleBatch = 100
    /// Entries per refill scan of the next-try index (the scheduler's window refill).
    var scanLimit = 1000
    var lookups: Int
    /// Lookups handed to the engine per call (each one is still its own read).
    var lookupCall = 1000
    var deleteBatch = 1000
    /// Samples of the fsync probe, spread over the run in slices (at the start, before
    /// each engine, at the end).
    var fsyncSamples: Int

    init(quick: Bool) {
        self.quick = quick
        recipients = quick ? 100_000 : 1_000_000
        lookups = recipients / 2
        fsyncSamples = quick ? 300 : 1000
    }
}

/// One engine's figures.
struct DefEDBEngineResult {
    var name: String
    var inserted = 0
    var rescheduled = 0
    var popped = 0
    var looked = 0
    var deleted = 0
    var insertNanos: UInt64 = 0
    var rescheduleNanos: UInt64 = 0
    var popNanos: UInt64 = 0
    var lookupNanos: UInt64 = 0
    var deleteNanos: UInt64 = 0
    var fileBytes = 0

    static func rate(_ count: Int, _ nanos: UInt64) -> Double { nanos == 0 ? 0 : Double(count) / (Double(nanos) / 1e9) }
    var insertPerSecond: Double { Self.rate(inserted, insertNanos) }
    var updatePerSecond: Double { Self.rate(rescheduled, rescheduleNanos) }
    var popPerSecond: Double { Self.rate(popped, popNanos) }
    var lookupPerSecond: Double { Self.rate(looked, lookupNanos) }
    var deletePerSecond: Double { Self.rate(deleted, deleteNanos) }
    var seconds: Double { Double(insertNanos + rescheduleNanos + popNanos + lookupNanos + deleteNanos) / 1e9 }
}

struct DefEDBSuite {
    let plan: DefEDBPlan

    /// The engines, run in this order on the same workload. smx's `DeferredQueue` goes
    /// first as a third ``DeferredQueueBenchTarget`` named `"smx"`: the report adds its
    /// ratios to the peers when a result of that name exists.
    static let engines: [DeferredQueueEngine] = [SMXDeferredQueueTarget.engine, SQLiteTarget.engine, LMDBTarget.engine]

    /// `engines`, or those named in `SMX_BENCH_ENGINES` (comma-separated; for profiling one
    /// engine: ratios need both engines of a pair and are left out otherwise).
    static var selectedEngines: [DeferredQueueEngine] {
        guard let raw = getenv("SMX_BENCH_ENGINES"), case let list = String(cString: raw), !list.isEmpty else { return engines }
        let names = Set(list.split(separator: ",").map(String.init))
        return engines.filter { names.contains($0.name) }
    }

    /// Measures the NextTryCache's memory per entry, for `edbc_bytes_per_entry`: a window of
    /// capacity 1,000,000 holding 1,000,000 keys (the issue's size, in quick runs too), with
    /// next-try times spread over four hours and random envelope ids, inserted in random order.
    static let edbcBytesPerEntry: (@Sendable (_ workload: DeferredWorkload) async throws -> Double)? = { _ in
        var state: UInt64 = 0x5EED_EDBC
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let base: UInt64 = 1_800_000_000_000_000
        let keys = (0..<1_000_000).map { _ in
            SMXStore.NextTryKey(
                nextTry: base + next() % 14_400_000_000, envelopeID: EnvelopeID(next() >> 8), recipient: UInt32(next() % 4)
            )
        }
        return NextTryCache.measuredBytesPerEntry(inserting: keys)
    }

    func run(in directory: String) async throws -> SuiteReport {
        var probe = SyncMeasurement.SpreadProbe(directory: directory, totalSamples: plan.fsyncSamples, slices: Self.selectedEngines.count + 2)
        func measureProbe(_ name: String) throws {
            try probe.measure(name)
            let slice = probe.slices[probe.slices.count - 1].summary
            progress("fsync probe [\(name)] (4 KiB append + fdatasync, preallocated): p50 \(fixed(slice.p50)) us, p99 \(fixed(slice.p99)) us")
        }
        try measureProbe("start")

        let generated = monotonicNanos()
        let workload = DeferredWorkload(
            recipients: plan.recipients, insertBatch: plan.insertBatch, rescheduleShare: plan.rescheduleShare,
            rescheduleBatch: plan.rescheduleBatch, lookups: plan.lookups
        )
        progress(
            "workload: \(workload.recipients) recipients in \(workload.insertBatches.count) batches, "
                + "\(workload.rescheduled) reschedules in \(workload.rescheduleBatches.count) batches, \(workload.lookupKeys.count) lookups; "
                + "values \(workload.valueBytesMin)..\(workload.valueBytesMax) bytes, mean \(fixed(workload.valueBytesMean)); "
                + "generated in \(fixed(Double(monotonicNanos() - generated) / 1e9, 2)) s"
        )

        var results: [DefEDBEngineResult] = []
        for engine in Self.selectedEngines {
            try measureProbe(engine.name)
            progress("\(engine.name): \(engine.setup)")
            results.append(try await runEngine(engine, workload: workload, in: directory))
        }
        var edbc: Double?
        if let measure = Self.edbcBytesPerEntry { edbc = try await measure(workload) }
        try measureProbe("end")
        let fsync = probe.summary
        progress("fsync over the run: p50 \(fixed(fsync.p50)) us, p99 \(fixed(fsync.p99)) us over \(fsync.count) samples")
        return report(fsync: fsync, probe: probe, workload: workload, results: results, edbc: edbc)
    }

    /// The whole workload on one engine, in a fresh directory removed afterwards. Every
    /// phase checks what the engine returned against the workload's model.
    func runEngine(_ engine: DeferredQueueEngine, workload: DeferredWorkload, in parent: String) async throws -> DefEDBEngineResult {
        let directory = Path.join(parent, engine.name)
        let target = try await engine.open(directory)
        defer { TemporaryDirectory.removeTree(directory) }
        do {
            let result = try await runPhases(engine.name, target, workload)
            try await target.close()
            return result
        } catch {
            try? await target.close()
            throw error
        }
    }

    private func runPhases(_ name: String, _ target: any DeferredQueueBenchTarget, _ workload: DeferredWorkload) async throws -> DefEDBEngineResult {
        var result = DefEDBEngineResult(name: name)
        func failed(_ what: String) -> EngineError { EngineError("\(name): \(what)") }

        var written = processWriteBytes()
        var start = monotonicNanos()
        for batch in workload.insertBatches {
            try await target.insert(batch: batch)
            result.inserted += batch.count
        }
        try await target.finishPhase()
        result.insertNanos = monotonicNanos() - start
        progress("\(name) insert: \(result.inserted) in \(fixed(Double(result.insertNanos) / 1e9, 2)) s, \(fixed(result.insertPerSecond, 0))/s, \(fixed(Double(processWriteBytes() - written) / Double(result.inserted), 0)) bytes written per recipient")
        written = processWriteBytes()

        start = monotonicNanos()
        for batch in workload.rescheduleBatches {
            try await target.reschedule(batch: batch)
            result.rescheduled += batch.count
        }
        try await target.finishPhase()
        result.rescheduleNanos = monotonicNanos() - start
        result.fileBytes = try await target.fileBytes()
        progress(
            "\(name) reschedule: \(result.rescheduled) in \(fixed(Double(result.rescheduleNanos) / 1e9, 2)) s, "
                + "\(fixed(result.updatePerSecond, 0))/s; files \(fixed(Double(result.fileBytes) / 1e6)) MB "
                + "(\(fixed(Double(result.fileBytes) / Double(workload.recipients), 0)) bytes per recipient), "
                + "\(fixed(Double(processWriteBytes() - written) / Double(result.rescheduled), 0)) bytes written per reschedule"
        )

        // Pop: the scheduler's refill scans over the whole index, each entry's record read.
        let now = workload.lastNextTry
        var after: NextTryKey?
        var valueBytes = 0
        var versionSum = 0
        start = monotonicNanos()
        while true {
            let chunk = try await target.scanDue(after: after, now: now, limit: plan.scanLimit)
            guard let last = chunk.entries.last else { break }
            let expected = workload.finalIndex[result.popped..<min(workload.finalIndex.count, result.popped + chunk.entries.count)]
            guard chunk.entries.count <= plan.scanLimit, chunk.entries.elementsEqual(expected) else {
                throw failed("the due scan after entry \(result.popped) does not return the index entries in order")
            }
            result.popped += chunk.entries.count
            valueBytes += chunk.valueBytes
            versionSum += chunk.versionSum
            after = last
        }
        result.popNanos = monotonicNanos() - start
        guard result.popped == workload.recipients, valueBytes == workload.finalValueBytes, versionSum == workload.recipients else {
            throw failed("the due scan returned \(result.popped) entries and \(valueBytes) value bytes, want \(workload.recipients) and \(workload.finalValueBytes)")
        }
        progress("\(name) pop (in-order scan + record reads): \(result.popped) in \(fixed(Double(result.popNanos) / 1e9, 2)) s, \(fixed(result.popPerSecond, 0))/s")

        var totals = LookupTotals()
        start = monotonicNanos()
        for call in stride(from: 0, to: workload.lookupKeys.count, by: plan.lookupCall) {
            let found = try await target.lookup(workload.lookupKeys[call..<min(workload.lookupKeys.count, call + plan.lookupCall)])
            totals.found += found.found
            totals.valueBytes += found.valueBytes
            totals.versionSum += found.versionSum
        }
        result.lookupNanos = monotonicNanos() - start
        result.looked = totals.found
        guard totals.found == workload.lookupKeys.count, totals.valueBytes == workload.lookupValueBytes, totals.versionSum == totals.found else {
            throw failed("lookups found \(totals.found) records and \(totals.valueBytes) value bytes, want \(workload.lookupKeys.count) and \(workload.lookupValueBytes)")
        }
        progress("\(name) lookup: \(result.looked) in \(fixed(Double(result.lookupNanos) / 1e9, 2)) s, \(fixed(result.lookupPerSecond, 0))/s")

        // Deletes in next-try order, as recipients are delivered (or bounced) after a scan.
        start = monotonicNanos()
        for first in stride(from: 0, to: workload.finalIndex.count, by: plan.deleteBatch) {
            let batch = workload.finalIndex[first..<min(workload.finalIndex.count, first + plan.deleteBatch)]
            try await target.delete(batch: batch)
            result.deleted += batch.count
        }
        try await target.finishPhase()
        result.deleteNanos = monotonicNanos() - start
        let left = try await target.scanDue(after: nil, now: UInt64(Int64.max), limit: 1)
        let found = try await target.lookup(workload.lookupKeys.prefix(100))
        guard left.entries.isEmpty, found.found == 0 else { throw failed("records or index entries are left after deleting all") }
        progress("\(name) delete: \(result.deleted) in \(fixed(Double(result.deleteNanos) / 1e9, 2)) s, \(fixed(result.deletePerSecond, 0))/s")
        return result
    }

    private func report(
        fsync: LatencySummary,
        probe: SyncMeasurement.SpreadProbe,
        workload: DeferredWorkload,
        results: [DefEDBEngineResult],
        edbc: Double?
    ) -> SuiteReport {
        func engine(_ r: DefEDBEngineResult) -> JSON {
            .object([
                ("insert_per_s", .number(r.insertPerSecond, decimals: 0)),
                ("update_per_s", .number(r.updatePerSecond, decimals: 0)),
                ("pop_per_s", .number(r.popPerSecond, decimals: 0)),
                ("lookup_per_s", .number(r.lookupPerSecond, decimals: 0)),
                ("delete_per_s", .number(r.deletePerSecond, decimals: 0)),
                ("file_bytes", .int(r.fileBytes)),
            ])
        }
        let byName = Dictionary(results.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })

        var fields: [(String, JSON)] = [
            ("suite", .string("defedb")),
            ("quick", .bool(plan.quick)),
            ("n", .int(workload.recipients)),
            ("rescheduled", .int(workload.rescheduled)),
            ("lookups", .int(workload.lookupKeys.count)),
            ("value_bytes", .number(workload.valueBytesMean, decimals: 1)),
            ("fsync_us", .micros(fsync.p50)),
            ("fsync_p99_us", .micros(fsync.p99)),
            ("fsync_samples", .int(fsync.count)),
            ("fsync_slices_us", .object(probe.slices.map { ($0.name, .micros($0.summary.p50)) })),
        ]
        for name in ["smx", "sqlite", "lmdb"] {
            if let r = byName[name] { fields.append((name, engine(r))) }
        }
        if let edbc { fields.append(("edbc_bytes_per_entry", .number(edbc, decimals: 1))) }
        var ratios: [(String, Double)] = []
        if let smx = byName["smx"] {
            if let sqlite = byName["sqlite"] {
                ratios.append(("insert_vs_sqlite", smx.insertPerSecond / sqlite.insertPerSecond))
                ratios.append(("update_vs_sqlite", smx.updatePerSecond / sqlite.updatePerSecond))
            }
            if let lmdb = byName["lmdb"] {
                ratios.append(("insert_vs_lmdb", smx.insertPerSecond / lmdb.insertPerSecond))
                ratios.append(("update_vs_lmdb", smx.updatePerSecond / lmdb.updatePerSecond))
                ratios.append(("lookup_vs_lmdb", smx.lookupPerSecond / lmdb.lookupPerSecond))
            }
        }
        fields += ratios.map { ($0.0, .number($0.1)) }
        fields.append((
            "goals",
            .object([
                ("insert_vs_sqlite", .int(2)), ("update_vs_sqlite", .int(2)), ("insert_vs_lmdb", .int(1)),
                ("update_vs_lmdb", .int(1)), ("lookup_vs_lmdb", .number(0.5, decimals: 1)), ("edbc_bytes_per_entry", .int(24)),
            ])
        ))

        let rows = results.map { r in
            [
                r.name, fixed(r.insertPerSecond, 0), fixed(r.updatePerSecond, 0), fixed(r.popPerSecond, 0),
                fixed(r.lookupPerSecond, 0), fixed(r.deletePerSecond, 0), fixed(Double(r.fileBytes) / 1e6),
                fixed(r.seconds),
            ]
        }
        var lines = [
            "defedb: \(workload.recipients) recipients (values \(fixed(workload.valueBytesMean)) bytes on average), "
                + "inserts in batches of \(plan.insertBatch), \(workload.rescheduled) reschedules in batches of \(plan.rescheduleBatch), "
                + "\(workload.lookupKeys.count) lookups, deletes in batches of \(plan.deleteBatch)\(plan.quick ? " (quick)" : "")",
            "fsync (4 KiB append + fdatasync, preallocated): p50 \(fixed(fsync.p50)) us, p99 \(fixed(fsync.p99)) us over \(fsync.count) samples",
            "",
            renderTable(["engine", "insert/s", "update/s", "pop/s", "lookup/s", "delete/s", "file MB", "phases s"], rows),
        ]
        if !ratios.isEmpty || edbc != nil {
            lines.append("")
            lines.append(
                (ratios.map { "\($0.0) \(fixed($0.1, 2))" } + (edbc.map { ["edbc_bytes_per_entry \(fixed($0))"] } ?? []))
                    .joined(separator: ", ")
            )
        }
        return SuiteReport(fields: fields, table: lines.joined(separator: "\n"))
    }
}
