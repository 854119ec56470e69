#if canImport(Glibc)
import Glibc
#endif
import SMXStore

/// smx's B+tree file (`BTreeFile`, the deferred queue's storage) under the `defedb`
/// workload, with the same layout as the LMDB target: a `records` tree keyed by the
/// 12-byte big-endian (envelope id, index) and a `next_try` tree keyed by the 20-byte
/// big-endian (next try, envelope id, index) with empty values. One write transaction per
/// batch, committed durably (its journal record synced; pages are written at checkpoints,
/// and one at the end of each write phase is timed with it); one snapshot per refill scan
/// or point lookup. Runs on its own thread, like the peers.
///
/// (The queue schema with its versioned record encodings, `DeferredQueue`, is not built yet;
/// this measures the storage engine it will sit on.)
actor SMXDeferredQueueTarget: DeferredQueueBenchTarget {
    static let engine = DeferredQueueEngine(
        name: "smx",
        setup: "smx BTreeFile: 4 KiB pages, records + next_try trees, one durable write transaction (journal sync) per batch, checkpoint at each phase end",
        open: { directory in try await SMXDeferredQueueTarget.open(directory: directory) }
    )

    private let executor: DedicatedThreadExecutor
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
    private let directory: String
    private var file: BTreeFile?

    private init(directory: String) {
        executor = DedicatedThreadExecutor()
        self.directory = directory
    }

    deinit { executor.stop() }

    static func open(directory: String) async throws -> SMXDeferredQueueTarget {
        let target = SMXDeferredQueueTarget(directory: directory)
        try await target.setUp()
        return target
    }

    private func setUp() throws {
        var configuration = BTreeFile.Configuration(queueID: QueueID(bytes: Array(repeating: 0x42, count: 16)), path: directory + "/queue.db")
        configuration.growthPages = 4096
        // SMX_BENCH_CHECKPOINTS=inline: checkpoints in the committing call, to compare.
        if let raw = getenv("SMX_BENCH_CHECKPOINTS"), String(cString: raw) == "inline" {
            configuration.checkpointScheduling = .inline
        }
        file = try BTreeFile.open(fileSystem: fileSystem, configuration: configuration)
    }

    private var btree: BTreeFile {
        get throws {
            guard let file else { throw EngineError("smx file is closed") }
            return file
        }
    }

    static func recordKey(_ key: RecipientKey) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: KeyBytes.recipientSize) { buffer, count in
            KeyBytes.store(key, at: buffer.baseAddress!)
            count = KeyBytes.recipientSize
        }
    }

    static func indexKey(_ key: NextTryKey) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: KeyBytes.nextTrySize) { buffer, count in
            KeyBytes.store(key, at: buffer.baseAddress!)
            count = KeyBytes.nextTrySize
        }
    }

    /// Key and value buffers reused across puts (the engine copies what it keeps), so the
    /// workload's own allocations do not count against the engine.
    private struct Buffers {
        var record = [UInt8](repeating: 0, count: KeyBytes.recipientSize)
        var index = [UInt8](repeating: 0, count: KeyBytes.nextTrySize)
        var oldIndex = [UInt8](repeating: 0, count: KeyBytes.nextTrySize)
        var value: [UInt8] = []
        let empty: [UInt8] = []

        mutating func load(_ i: Int, of batch: RecipientBatch, nextTry: UInt64) {
            let key = batch.keys[i]
            record.withUnsafeMutableBytes { KeyBytes.store(key, at: $0.baseAddress!) }
            index.withUnsafeMutableBytes { KeyBytes.store(NextTryKey(nextTry: nextTry, envelope: key.envelope, index: key.index), at: $0.baseAddress!) }
            value.removeAll(keepingCapacity: true)
            batch.withValue(i) { value.append(contentsOf: $0) }
        }
    }

    func insert(batch: RecipientBatch) throws {
        try btree.write { txn in
            var b = Buffers()
            for i in 0..<batch.count {
                b.load(i, of: batch, nextTry: batch.nextTry[i])
                try txn.put(b.record, b.value, in: "records")
                try txn.put(b.index, b.empty, in: "next_try")
            }
        }
    }

    func reschedule(batch: RecipientBatch) throws {
        try btree.write { txn in
            var b = Buffers()
            for i in 0..<batch.count {
                let key = batch.keys[i]
                b.oldIndex.withUnsafeMutableBytes {
                    KeyBytes.store(NextTryKey(nextTry: batch.previousNextTry[i], envelope: key.envelope, index: key.index), at: $0.baseAddress!)
                }
                guard try txn.delete(b.oldIndex, in: "next_try") else { throw EngineError("smx: index entry missing") }
                b.load(i, of: batch, nextTry: batch.nextTry[i])
                try txn.put(b.index, b.empty, in: "next_try")
                try txn.put(b.record, b.value, in: "records")
            }
        }
    }

    func scanDue(after: NextTryKey?, now: UInt64, limit: Int) throws -> DueChunk {
        let snapshot = try btree.snapshot()
        defer { snapshot.close() }
        let cursor = try snapshot.cursor("next_try")
        var chunk = DueChunk()
        chunk.entries.reserveCapacity(limit)
        var more: Bool
        if let after {
            let start = Self.indexKey(after)
            more = try cursor.seek(start)
            if more, cursor.key == start { more = try cursor.next() }
        } else {
            more = try cursor.first()
        }
        while more && chunk.entries.count < limit {
            guard let raw = cursor.key, raw.count == KeyBytes.nextTrySize else { throw EngineError("smx: bad index key") }
            let entry = raw.withUnsafeBytes { KeyBytes.loadNextTryKey($0.baseAddress!) }
            if entry.nextTry > now { break }
            guard try snapshot.withValue(Self.recordKey(entry.recipient), in: "records", { chunk.add($0.baseAddress, $0.count) }) != nil else {
                throw EngineError("smx: record of an index entry missing")
            }
            chunk.entries.append(entry)
            more = try cursor.next()
        }
        return chunk
    }

    func lookup(_ keys: ArraySlice<RecipientKey>) throws -> LookupTotals {
        var totals = LookupTotals()
        let file = try btree
        var recordKey = [UInt8](repeating: 0, count: KeyBytes.recipientSize)
        for key in keys {
            recordKey.withUnsafeMutableBytes { KeyBytes.store(key, at: $0.baseAddress!) }
            let snapshot = try file.snapshot()
            _ = try snapshot.withValue(recordKey, in: "records") { totals.add($0.baseAddress, $0.count) }
            snapshot.close()
        }
        return totals
    }

    func delete(batch: ArraySlice<NextTryKey>) throws {
        try btree.write { txn in
            var b = Buffers()
            for entry in batch {
                b.record.withUnsafeMutableBytes { KeyBytes.store(entry.recipient, at: $0.baseAddress!) }
                b.index.withUnsafeMutableBytes { KeyBytes.store(entry, at: $0.baseAddress!) }
                guard try txn.delete(b.record, in: "records") else { throw EngineError("smx: record missing") }
                guard try txn.delete(b.index, in: "next_try") else { throw EngineError("smx: index entry missing") }
            }
        }
    }

    /// Writes the pages of the phase's commits (their journal records already made them
    /// durable): the checkpoint is part of what the phase costs.
    func finishPhase() throws { try btree.checkpoint() }

    func fileBytes() -> Int { directoryFileBytes(directory) }

    func close() {
        file?.close()
        file = nil
    }
}
