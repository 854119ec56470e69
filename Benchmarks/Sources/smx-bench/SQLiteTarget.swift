import CSQLite
import SMXStore

/// SQLite through its C library (Debian libsqlite3-dev): one database file per directory
/// in WAL mode with `synchronous=FULL` (every commit syncs the WAL; checkpoints, at the
/// default 1000 WAL pages, sync the WAL and the database), 4 KiB pages, and one table
///
///     CREATE TABLE recipients(envelope_id INTEGER NOT NULL, idx INTEGER NOT NULL,
///         next_try INTEGER NOT NULL, value BLOB NOT NULL,
///         PRIMARY KEY(envelope_id, idx)) WITHOUT ROWID
///     CREATE INDEX recipients_next_try ON recipients(next_try, envelope_id, idx)
///
/// `WITHOUT ROWID` (the table is a B-tree on the primary key, so a lookup is one tree
/// descent, not a primary-key index descent then a rowid descent): with a rowid table the
/// same quick run had the same insert, reschedule and delete rates, 20 % slower scans,
/// 40 % slower lookups and 10 % larger files. Prepared statements only; one
/// `BEGIN IMMEDIATE` … `COMMIT` per write batch; every read is its own autocommit
/// statement (a refill scan is one `SELECT … LIMIT`, a lookup one `SELECT`). The page
/// cache is raised to ``cacheKiB`` (1 GiB, allocated as used; the default is 2 MiB) so
/// that the whole database of the full run fits, as it does in LMDB's map: with the
/// default, scans ran at half the rate and lookups 35 % slower, writes unchanged.
actor SQLiteTarget: DeferredQueueBenchTarget {
    static let engine = DeferredQueueEngine(
        name: "sqlite",
        setup: "SQLite \(SQLiteTarget.version): WAL, synchronous=FULL, WITHOUT ROWID table + next-try index, "
            + "\(cacheKiB >> 10) MiB cache, one transaction per batch",
        open: { directory in try await SQLiteTarget.open(directory: directory) }
    )

    static var version: String { String(cString: sqlite3_libversion()) }
    static let cacheKiB = 1 << 20

    private let executor: DedicatedThreadExecutor
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    private let directory: String
    private let withoutRowID: Bool
    private var db: OpaquePointer?
    private var begin: OpaquePointer?
    private var commit: OpaquePointer?
    private var insertStatement: OpaquePointer?
    private var updateStatement: OpaquePointer?
    private var scanFirstStatement: OpaquePointer?
    private var scanAfterStatement: OpaquePointer?
    private var lookupStatement: OpaquePointer?
    private var deleteStatement: OpaquePointer?

    private init(directory: String, withoutRowID: Bool) {
        executor = DedicatedThreadExecutor()
        self.directory = directory
        self.withoutRowID = withoutRowID
    }

    deinit { executor.stop() }

    /// Creates the database in `directory` (created if missing), on the target's thread.
    static func open(directory: String, withoutRowID: Bool = true) async throws -> SQLiteTarget {
        let target = SQLiteTarget(directory: directory, withoutRowID: withoutRowID)
        try await target.setUp()
        return target
    }

    private func setUp() throws {
        try fileSystem.createDirectory(directory, intermediate: true)
        let path = Path.join(directory, "queue.sqlite")
        try check(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil), "open")
        let mode = try queryText("PRAGMA journal_mode=WAL")
        guard mode == "wal" else { throw EngineError("SQLite: journal_mode is \(mode), want wal") }
        try exec("PRAGMA synchronous=FULL")
        try exec("PRAGMA cache_size=-\(Self.cacheKiB)")
        let synchronous = try queryText("PRAGMA synchronous")
        guard synchronous == "2" else { throw EngineError("SQLite: synchronous is \(synchronous), want 2 (FULL)") }
        try exec(
            """
            CREATE TABLE recipients(envelope_id INTEGER NOT NULL, idx INTEGER NOT NULL,
                next_try INTEGER NOT NULL, value BLOB NOT NULL,
                PRIMARY KEY(envelope_id, idx))\(withoutRowID ? " WITHOUT ROWID" : "")
            """
        )
        try exec("CREATE INDEX recipients_next_try ON recipients(next_try, envelope_id, idx)")
        begin = try prepare("BEGIN IMMEDIATE")
        commit = try prepare("COMMIT")
        insertStatement = try prepare("INSERT INTO recipients(envelope_id, idx, next_try, value) VALUES(?1, ?2, ?3, ?4)")
        updateStatement = try prepare("UPDATE recipients SET next_try = ?3, value = ?4 WHERE envelope_id = ?1 AND idx = ?2")
        let scan = "SELECT next_try, envelope_id, idx, value FROM recipients"
        let order = "ORDER BY next_try, envelope_id, idx LIMIT ?5"
        scanFirstStatement = try prepare("\(scan) WHERE next_try <= ?4 \(order)")
        scanAfterStatement = try prepare("\(scan) WHERE (next_try, envelope_id, idx) > (?1, ?2, ?3) AND next_try <= ?4 \(order)")
        lookupStatement = try prepare("SELECT value FROM recipients WHERE envelope_id = ?1 AND idx = ?2")
        deleteStatement = try prepare("DELETE FROM recipients WHERE envelope_id = ?1 AND idx = ?2")
        progress("sqlite: refill scan plan: \(try scanPlan())")
    }

    /// The query plan of the refill scan, for the progress output: it must walk the
    /// next-try index, not sort.
    private func scanPlan() throws -> String {
        var plan: [String] = []
        let statement = try prepare(
            "EXPLAIN QUERY PLAN SELECT next_try, envelope_id, idx, value FROM recipients "
                + "WHERE (next_try, envelope_id, idx) > (?1, ?2, ?3) AND next_try <= ?4 ORDER BY next_try, envelope_id, idx LIMIT ?5"
        )
        defer { sqlite3_finalize(statement) }
        while sqlite3_step(statement) == SQLITE_ROW {
            plan.append(String(cString: sqlite3_column_text(statement, 3)))
        }
        return plan.joined(separator: "; ")
    }

    func insert(batch: RecipientBatch) throws {
        try transaction {
            for i in 0..<batch.count {
                try writeRecord(insertStatement, batch, i)
            }
        }
    }

    func reschedule(batch: RecipientBatch) throws {
        try transaction {
            for i in 0..<batch.count {
                try writeRecord(updateStatement, batch, i)
                guard sqlite3_changes(db) == 1 else { throw EngineError("SQLite: reschedule of a missing record") }
            }
        }
    }

    func scanDue(after: NextTryKey?, now: UInt64, limit: Int) throws -> DueChunk {
        let statement: OpaquePointer?
        if let after {
            statement = scanAfterStatement
            sqlite3_bind_int64(statement, 1, Int64(after.nextTry))
            sqlite3_bind_int64(statement, 2, Int64(after.envelope))
            sqlite3_bind_int64(statement, 3, Int64(after.index))
        } else {
            statement = scanFirstStatement
        }
        sqlite3_bind_int64(statement, 4, Int64(now))
        sqlite3_bind_int64(statement, 5, Int64(limit))
        defer { sqlite3_reset(statement) }
        var chunk = DueChunk()
        chunk.entries.reserveCapacity(limit)
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { try check(rc, "scan step"); break }
            chunk.add(sqlite3_column_blob(statement, 3), Int(sqlite3_column_bytes(statement, 3)))
            chunk.entries.append(
                NextTryKey(
                    nextTry: UInt64(sqlite3_column_int64(statement, 0)),
                    envelope: UInt64(sqlite3_column_int64(statement, 1)),
                    index: UInt32(sqlite3_column_int64(statement, 2))
                )
            )
        }
        return chunk
    }

    func lookup(_ keys: ArraySlice<RecipientKey>) throws -> LookupTotals {
        var totals = LookupTotals()
        let statement = lookupStatement
        for key in keys {
            sqlite3_bind_int64(statement, 1, Int64(key.envelope))
            sqlite3_bind_int64(statement, 2, Int64(key.index))
            let rc = sqlite3_step(statement)
            if rc == SQLITE_ROW {
                totals.add(sqlite3_column_blob(statement, 0), Int(sqlite3_column_bytes(statement, 0)))
            } else if rc != SQLITE_DONE {
                sqlite3_reset(statement)
                try check(rc, "lookup step")
            }
            sqlite3_reset(statement)
        }
        return totals
    }

    func delete(batch: ArraySlice<NextTryKey>) throws {
        try transaction {
            for entry in batch {
                sqlite3_bind_int64(deleteStatement, 1, Int64(entry.envelope))
                sqlite3_bind_int64(deleteStatement, 2, Int64(entry.index))
                try step(deleteStatement, "delete")
                guard sqlite3_changes(db) == 1 else { throw EngineError("SQLite: delete of a missing record") }
            }
        }
    }

    /// Copies the WAL's pages into the database (a passive checkpoint), as smx writes its
    /// pending pages at each phase's end; SQLite also does this by itself every 1000 pages.
    func finishPhase() throws { try exec("PRAGMA wal_checkpoint(PASSIVE)") }

    func fileBytes() -> Int { directoryFileBytes(directory) }

    func close() throws {
        for statement in [begin, commit, insertStatement, updateStatement, scanFirstStatement, scanAfterStatement, lookupStatement, deleteStatement] {
            sqlite3_finalize(statement)
        }
        begin = nil
        commit = nil
        insertStatement = nil
        updateStatement = nil
        scanFirstStatement = nil
        scanAfterStatement = nil
        lookupStatement = nil
        deleteStatement = nil
        if let db { try check(sqlite3_close(db), "close") }
        db = nil
    }

    // MARK: - Helpers

    /// Binds (envelope id, index, next try, value) and runs an insert or an update.
    private func writeRecord(_ statement: OpaquePointer?, _ batch: RecipientBatch, _ i: Int) throws {
        let key = batch.keys[i]
        sqlite3_bind_int64(statement, 1, Int64(key.envelope))
        sqlite3_bind_int64(statement, 2, Int64(key.index))
        sqlite3_bind_int64(statement, 3, Int64(batch.nextTry[i]))
        try batch.withValue(i) { bytes in
            // SQLITE_STATIC: the bytes stay valid until the statement has run and is reset.
            smx_sqlite3_bind_blob_static(statement, 4, bytes.baseAddress, Int32(bytes.count))
            try step(statement, "write")
        }
    }

    /// Runs `body` between `BEGIN IMMEDIATE` and `COMMIT` (durable at return), or rolls back.
    private func transaction(_ body: () throws -> Void) throws {
        try step(begin, "begin")
        do {
            try body()
        } catch {
            try? exec("ROLLBACK")
            throw error
        }
        try step(commit, "commit")
    }

    /// Steps a statement that returns no rows, then resets it.
    private func step(_ statement: OpaquePointer?, _ what: String) throws {
        let rc = sqlite3_step(statement)
        sqlite3_reset(statement)
        guard rc == SQLITE_DONE else { try check(rc, what); return }
    }

    private func prepare(_ sql: String) throws -> OpaquePointer? {
        var statement: OpaquePointer?
        try check(sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil), "prepare \(sql)")
        return statement
    }

    private func exec(_ sql: String) throws {
        try check(sqlite3_exec(db, sql, nil, nil, nil), sql)
    }

    private func queryText(_ sql: String) throws -> String {
        let statement = try prepare(sql)
        defer { sqlite3_finalize(statement) }
        guard sqlite3_step(statement) == SQLITE_ROW, let text = sqlite3_column_text(statement, 0) else {
            throw EngineError("SQLite: \(sql) returned no row")
        }
        return String(cString: text)
    }

    private func check(_ rc: Int32, _ what: String) throws {
        guard rc != SQLITE_OK else { return }
        let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
        throw EngineError("SQLite \(what): \(message) (\(rc))")
    }
}
