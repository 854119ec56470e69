import CLMDB
import SMXStore

/// LMDB through its C library (Debian liblmdb-dev): one environment per directory with its
/// default durable commits (no `MDB_NOSYNC`, `MDB_NOMETASYNC` or `MDB_WRITEMAP`: a commit
/// writes the dirty pages, `fdatasync`s, writes the meta page and `fdatasync`s again), an
/// 8 GiB map, and two named databases: `records`, keyed by the 12-byte big-endian
/// (envelope id, index), and `next_try`, keyed by the 20-byte big-endian (next try,
/// envelope id, index) with empty values. One write transaction per batch; one read
/// transaction (reset and renewed, as LMDB recommends) per refill scan or point lookup.
/// `MDB_NOTLS` ties read slots to transactions rather than threads; it changes nothing
/// here, where one thread makes every call.
actor LMDBTarget: DeferredQueueBenchTarget {
    static let engine = DeferredQueueEngine(
        name: "lmdb",
        setup: "LMDB \(LMDBTarget.version): default durable sync, 8 GiB map, records + next_try databases, one write txn per batch",
        open: { directory in try await LMDBTarget.open(directory: directory) }
    )

    static var version: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        _ = mdb_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }
    static let mapSize = 8 << 30

    private let executor: DedicatedThreadExecutor
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    private let directory: String
    private var env: OpaquePointer?
    private var records: MDB_dbi = 0
    private var index: MDB_dbi = 0
    /// The read transaction, reset between reads and renewed for the next.
    private var reader: OpaquePointer?
    nonisolated(unsafe) private let recordKey = UnsafeMutableRawPointer.allocate(byteCount: KeyBytes.recipientSize, alignment: 8)
    nonisolated(unsafe) private let indexKey = UnsafeMutableRawPointer.allocate(byteCount: KeyBytes.nextTrySize, alignment: 8)

    private init(directory: String) {
        executor = DedicatedThreadExecutor()
        self.directory = directory
    }

    deinit {
        recordKey.deallocate()
        indexKey.deallocate()
        executor.stop()
    }

    /// Opens a new environment in `directory` (created if missing), on the target's thread.
    static func open(directory: String) async throws -> LMDBTarget {
        let target = LMDBTarget(directory: directory)
        try await target.setUp()
        return target
    }

    private func setUp() throws {
        try fileSystem.createDirectory(directory, intermediate: true)
        try check(mdb_env_create(&env), "mdb_env_create")
        try check(mdb_env_set_mapsize(env, Self.mapSize), "mdb_env_set_mapsize")
        try check(mdb_env_set_maxdbs(env, 4), "mdb_env_set_maxdbs")
        try check(mdb_env_open(env, directory, UInt32(MDB_NOTLS), 0o644), "mdb_env_open")
        try write { txn in
            try check(mdb_dbi_open(txn, "records", UInt32(MDB_CREATE), &records), "mdb_dbi_open records")
            try check(mdb_dbi_open(txn, "next_try", UInt32(MDB_CREATE), &index), "mdb_dbi_open next_try")
        }
    }

    func insert(batch: RecipientBatch) throws {
        try write { txn in
            for i in 0..<batch.count {
                try putRecord(txn, batch.keys[i], batch, at: i)
                try putIndex(txn, NextTryKey(nextTry: batch.nextTry[i], envelope: batch.keys[i].envelope, index: batch.keys[i].index))
            }
        }
    }

    func reschedule(batch: RecipientBatch) throws {
        try write { txn in
            for i in 0..<batch.count {
                let key = batch.keys[i]
                KeyBytes.store(NextTryKey(nextTry: batch.previousNextTry[i], envelope: key.envelope, index: key.index), at: indexKey)
                var old = MDB_val(mv_size: KeyBytes.nextTrySize, mv_data: indexKey)
                try check(mdb_del(txn, index, &old, nil), "mdb_del next_try")
                try putIndex(txn, NextTryKey(nextTry: batch.nextTry[i], envelope: key.envelope, index: key.index))
                try putRecord(txn, key, batch, at: i)
            }
        }
    }

    func scanDue(after: NextTryKey?, now: UInt64, limit: Int) throws -> DueChunk {
        try read { txn in
            var cursor: OpaquePointer?
            try check(mdb_cursor_open(txn, index, &cursor), "mdb_cursor_open")
            defer { mdb_cursor_close(cursor) }
            var chunk = DueChunk()
            chunk.entries.reserveCapacity(limit)
            var key = MDB_val()
            var empty = MDB_val()
            var rc: Int32
            if let after {
                KeyBytes.store(after, at: indexKey)
                key = MDB_val(mv_size: KeyBytes.nextTrySize, mv_data: indexKey)
                rc = mdb_cursor_get(cursor, &key, &empty, MDB_SET_RANGE)
                if rc == 0, KeyBytes.loadNextTryKey(key.mv_data!) == after {
                    rc = mdb_cursor_get(cursor, &key, &empty, MDB_NEXT)
                }
            } else {
                rc = mdb_cursor_get(cursor, &key, &empty, MDB_FIRST)
            }
            while rc == 0 && chunk.entries.count < limit {
                let entry = KeyBytes.loadNextTryKey(key.mv_data!)
                if entry.nextTry > now { break }
                KeyBytes.store(entry.recipient, at: recordKey)
                var recordKeyValue = MDB_val(mv_size: KeyBytes.recipientSize, mv_data: recordKey)
                var value = MDB_val()
                try check(mdb_get(txn, records, &recordKeyValue, &value), "mdb_get record of an index entry")
                chunk.add(value.mv_data, value.mv_size)
                chunk.entries.append(entry)
                rc = mdb_cursor_get(cursor, &key, &empty, MDB_NEXT)
            }
            if rc != 0 && rc != MDB_NOTFOUND { try check(rc, "mdb_cursor_get") }
            return chunk
        }
    }

    func lookup(_ keys: ArraySlice<RecipientKey>) throws -> LookupTotals {
        var totals = LookupTotals()
        for key in keys {
            try read { txn in
                KeyBytes.store(key, at: recordKey)
                var k = MDB_val(mv_size: KeyBytes.recipientSize, mv_data: recordKey)
                var value = MDB_val()
                let rc = mdb_get(txn, records, &k, &value)
                if rc == MDB_NOTFOUND { return }
                try check(rc, "mdb_get")
                totals.add(value.mv_data, value.mv_size)
            }
        }
        return totals
    }

    func delete(batch: ArraySlice<NextTryKey>) throws {
        try write { txn in
            for entry in batch {
                KeyBytes.store(entry.recipient, at: recordKey)
                var k = MDB_val(mv_size: KeyBytes.recipientSize, mv_data: recordKey)
                try check(mdb_del(txn, records, &k, nil), "mdb_del record")
                KeyBytes.store(entry, at: indexKey)
                var ik = MDB_val(mv_size: KeyBytes.nextTrySize, mv_data: indexKey)
                try check(mdb_del(txn, index, &ik, nil), "mdb_del next_try")
            }
        }
    }

    /// LMDB writes its pages at every commit: nothing is deferred.
    func finishPhase() {}

    func fileBytes() -> Int { directoryFileBytes(directory) }

    func close() {
        if let reader { mdb_txn_abort(reader) }
        reader = nil
        if let env { mdb_env_close(env) }
        env = nil
    }

    // MARK: - Helpers

    private func putRecord(_ txn: OpaquePointer?, _ key: RecipientKey, _ batch: RecipientBatch, at i: Int) throws {
        KeyBytes.store(key, at: recordKey)
        var k = MDB_val(mv_size: KeyBytes.recipientSize, mv_data: recordKey)
        try batch.withValue(i) { bytes in
            var v = MDB_val(mv_size: bytes.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
            try check(mdb_put(txn, records, &k, &v, 0), "mdb_put record")
        }
    }

    private func putIndex(_ txn: OpaquePointer?, _ entry: NextTryKey) throws {
        KeyBytes.store(entry, at: indexKey)
        var k = MDB_val(mv_size: KeyBytes.nextTrySize, mv_data: indexKey)
        var v = MDB_val(mv_size: 0, mv_data: nil)
        try check(mdb_put(txn, index, &k, &v, 0), "mdb_put next_try")
    }

    /// Runs `body` in a write transaction and commits it (durably), or aborts on error.
    private func write(_ body: (OpaquePointer?) throws -> Void) throws {
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, 0, &txn), "mdb_txn_begin")
        do {
            try body(txn)
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
        try check(mdb_txn_commit(txn), "mdb_txn_commit")
    }

    /// Runs `body` in a fresh read transaction (the reused handle, renewed), then resets it.
    private func read<R>(_ body: (OpaquePointer?) throws -> R) throws -> R {
        if let reader {
            try check(mdb_txn_renew(reader), "mdb_txn_renew")
        } else {
            try check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &reader), "mdb_txn_begin read-only")
        }
        defer { mdb_txn_reset(reader) }
        return try body(reader)
    }

    private func check(_ rc: Int32, _ what: String) throws {
        guard rc == 0 else { throw EngineError("LMDB \(what): \(String(cString: mdb_strerror(rc))) (\(rc))") }
    }
}
