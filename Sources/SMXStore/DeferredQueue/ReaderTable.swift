#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The deferred queue's reader table: how readers in other processes tell the writer which
/// committed state they still read, so that it does not reuse those pages
/// (`docs/format/defedb.md`, "Readers in other processes"; LMDB's `lock.mdb` is the model).
///
/// The table is a small file beside the queue file (``path(forQueueFile:)``): a 32-byte
/// header, then 32-byte slots. A reader claims a slot by taking an exclusive byte-range lock
/// on it (an open-file-description lock, which the kernel drops when the process dies, and
/// which two opens in one process hold separately), writes its snapshot's transaction id
/// there, then reads the newest transaction id of the queue file again: only when it is
/// unchanged is the snapshot pinned (otherwise it publishes the newer id and checks again).
/// The writer, before each write transaction, takes the smallest transaction id among the
/// slots that verify *and* are locked by someone; a slot that verifies but is not locked was
/// left by a reader that died, and counts for nothing.
///
/// The header's first bytes are also the writer lock: one writer per queue file, in any
/// process.
///
/// Nothing here is durable state: the table is never synced, and after a power loss (no
/// process is left, so no lock is held) whatever it holds is ignored.
///
/// Thread-safe. Every method throws ``StoreError``.
public final class ReaderTable: @unchecked Sendable {
    public enum Role: Sendable, Equatable {
        /// Holds the writer lock; reads the slots (``oldestReader()``). Never pins.
        case writer
        /// Pins snapshots (``pin(_:)``).
        case reader
    }

    /// What a slot says: the transaction a reader reads, which process, since when.
    public struct Record: Sendable, Equatable {
        public var txid: UInt64
        /// The reader's process id (for listings; the lock, not this, says the reader is alive).
        public var pid: UInt32
        /// When the slot was written, microseconds since the Unix epoch.
        public var publishedMicros: UInt64

        public init(txid: UInt64, pid: UInt32, publishedMicros: UInt64) {
            self.txid = txid
            self.pid = pid
            self.publishedMicros = publishedMicros
        }

        /// The 32 bytes of slot `slot`: XXH3-64 of bytes 8..<32 seeded with the slot number,
        /// txid, pid, 4 zero bytes, published time.
        public func encode(slot: Int) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: ReaderTable.slotSize)
            bytes.withUnsafeMutableBytes { p in
                LittleEndian.store(txid, p, 8)
                LittleEndian.store(pid, p, 16)
                LittleEndian.store(publishedMicros, p, 24)
                let checksum = Checksum.xxh3(UnsafeRawBufferPointer(rebasing: p[8..<ReaderTable.slotSize]), seed: UInt64(slot))
                LittleEndian.store(checksum, p, 0)
            }
            return bytes
        }

        /// The record in `bytes` (32 bytes of slot `slot`), or nil when its checksum does not
        /// verify (an empty, released, torn or damaged slot).
        public static func decode(_ bytes: ArraySlice<UInt8>, slot: Int) -> Record? {
            guard bytes.count == ReaderTable.slotSize else { return nil }
            return bytes.withUnsafeBytes { p in
                let checksum = Checksum.xxh3(UnsafeRawBufferPointer(rebasing: p[8..<ReaderTable.slotSize]), seed: UInt64(slot))
                guard checksum == LittleEndian.u64(p, 0), LittleEndian.u32(p, 20) == 0 else { return nil }
                return Record(txid: LittleEndian.u64(p, 8), pid: LittleEndian.u32(p, 16), publishedMicros: LittleEndian.u64(p, 24))
            }
        }
    }

    /// A live reader: its slot and what the slot says.
    public struct Reader: Sendable, Equatable {
        public var slot: Int
        public var record: Record
    }

    public static let headerSize = 32
    public static let slotSize = 32
    /// Slots a table can have; a reader finding all of them taken fails with
    /// ``StoreError/Code/noSpace``.
    public static let maximumSlots = 4096
    /// Attempts of ``pin(_:)`` to publish a transaction that is still the newest.
    static let maximumAttempts = 10_000
    static let magic = Array("SMXREADR".utf8)
    static let formatVersion: UInt32 = 1

    /// The header: magic, version, slot size, 16 zero bytes.
    static let header: [UInt8] = {
        var bytes = magic + [UInt8](repeating: 0, count: headerSize - magic.count)
        bytes.withUnsafeMutableBytes { p in
            LittleEndian.store(formatVersion, p, 8)
            LittleEndian.store(UInt32(slotSize), p, 12)
        }
        return bytes
    }()

    /// The table of the queue file at `path`: `<path>-readers` (for `<queue>/defedb/queue.db`,
    /// `<queue>/defedb/queue.db-readers`).
    public static func path(forQueueFile path: String) -> String { path + "-readers" }

    /// Byte offset of slot `slot`.
    public static func offset(of slot: Int) -> Int { headerSize + slot * slotSize }

    public let path: String
    public let role: Role
    let handle: any FileHandle
    private let lock = SimpleLock()
    /// Slots this table holds, by the transaction they publish, with their pins' count.
    private var held: [UInt64: (slot: Int, pins: Int)] = [:]
    private var closed = false
    private var handleClosed = false
    private var retries = 0

    private init(path: String, role: Role, handle: any FileHandle) {
        self.path = path
        self.role = role
        self.handle = handle
    }

    deinit {
        if !handleClosed { try? handle.close() }
    }

    /// Opens the table at `path`, creating it when missing (for a reader too: a reader needs
    /// write access to this file, never to the queue file, and to the directory only when the
    /// table does not exist yet). A missing or damaged header is written anew (the table is
    /// not durable; a power loss can leave anything in it); a header of another version is
    /// ``StoreError/Code/unsupportedVersion``.
    ///
    /// A `.writer` takes the writer lock and fails with ``StoreError/Code/locked`` while
    /// another table of the same file holds it, in this process or another. Then, if no
    /// reader holds a slot (one lock attempt over all of them), it cuts the table back to its
    /// header: every record left is stale. Records of live readers are never touched.
    public static func open(fileSystem: any FileSystem, path: String, role: Role) throws -> ReaderTable {
        let handle = try fileSystem.openFile(path, mode: .createIfMissing)
        do {
            if role == .writer {
                guard try handle.tryLockRange(offset: 0, length: headerSize, kind: .exclusive) else {
                    throw StoreError(
                        .locked, "the deferred queue file is open for writing elsewhere (another process, or another open in this one)",
                        path: path, errno: EWOULDBLOCK)
                }
            }
            try prepareHeader(handle, path: path)
            if role == .writer, try handle.tryLockRange(offset: headerSize, length: 0, kind: .exclusive) {
                // Holding every slot's lock: no reader can claim one while the table shrinks.
                if try handle.size() > headerSize { try handle.truncate(to: headerSize) }
                try handle.unlockRange(offset: headerSize, length: 0)
            }
        } catch {
            try? handle.close()
            throw error
        }
        return ReaderTable(path: path, role: role, handle: handle)
    }

    private static func prepareHeader(_ handle: any FileHandle, path: String) throws {
        let bytes = try handle.read(at: 0, count: headerSize)
        if bytes == header { return }
        if bytes.count == headerSize, Array(bytes[0..<magic.count]) == magic {
            let version = bytes.withUnsafeBytes { LittleEndian.u32($0, 8) }
            // 0: a header being written right now by another opener (same bytes as ours).
            if version != 0 && version != formatVersion {
                throw StoreError(
                    .unsupportedVersion, "reader table version \(version); this build knows version \(formatVersion)", path: path)
            }
        }
        // Every opener writes the same bytes, so concurrent openers agree.
        try handle.write(header, at: 0)
    }

    // MARK: Readers

    /// Pins the newest checkpoint for a read-only open: `newest` reads the transaction id of
    /// the queue file's newest meta page; the returned pin's ``ReaderPin/txid`` is the value
    /// of the last call of `newest`, published in a slot before that call, so the writer
    /// reuses none of the pages that checkpoint reaches until the pin is released.
    ///
    /// Why the second read makes this safe: the writer reads the slots at the start of each
    /// transaction and checkpoint, when its newest checkpoint N is on disk, and it reuses
    /// only pages freed by N or earlier, or pages no checkpoint wrote. If the writer read
    /// the slots before this reader's record was written, N was on disk before the check
    /// read, which found T as the newest, so N ≤ T and no page it reused is reachable from
    /// T; every transaction that reads the slots after the record is written sees it
    /// (`docs/format/defedb.md`, "Why the race is safe").
    ///
    /// Pins of one table for the same transaction share a slot. Fails with
    /// ``StoreError/Code/noSpace`` when every slot is taken, ``StoreError/Code/locked`` if the
    /// newest transaction changed between every pair of reads of 10,000 attempts,
    /// ``StoreError/Code/invalidArgument`` for a writer's table, ``StoreError/Code/closed``
    /// after ``close()``, and with `newest`'s or the file's errors; then nothing stays held.
    public func pin(_ newest: () throws -> UInt64) throws -> ReaderPin {
        try lock.withLock {
            guard role == .reader else {
                throw StoreError(.invalidArgument, "the writer's reader table pins no snapshots", path: path)
            }
            if closed { throw StoreError(.closed, "reader table is closed", path: path) }
            var txid = try newest()
            var claimed: Int?
            do {
                for _ in 0..<Self.maximumAttempts {
                    if let entry = held[txid] {
                        // Published continuously since it was checked: still protected.
                        held[txid] = (entry.slot, entry.pins + 1)
                        if let slot = claimed { releaseSlot(slot) }
                        return ReaderPin(table: self, txid: txid, slot: entry.slot)
                    }
                    let slot = try claimed ?? claimSlot()
                    claimed = slot
                    let record = Record(txid: txid, pid: UInt32(bitPattern: getpid()), publishedMicros: wallClockMicros())
                    try handle.write(record.encode(slot: slot), at: Self.offset(of: slot))
                    let check = try newest()
                    if check == txid {
                        held[txid] = (slot, 1)
                        return ReaderPin(table: self, txid: txid, slot: slot)
                    }
                    retries += 1
                    txid = check
                }
                throw StoreError(
                    .locked, "the newest transaction changed during each of \(Self.maximumAttempts) attempts to pin it", path: path)
            } catch {
                if let slot = claimed { releaseSlot(slot) }
                throw error
            }
        }
    }

    /// How often ``pin(_:)`` found the newest transaction changed after publishing and
    /// published again.
    public var pinRetries: Int { lock.withLock { retries } }

    /// The first slot that neither this table nor any other holds, now locked by this one.
    private func claimSlot() throws -> Int {
        let ours = Set(held.values.map(\.slot))
        for slot in 0..<Self.maximumSlots where !ours.contains(slot) {
            // Own locks never conflict: a slot this handle holds must be skipped above.
            if try handle.tryLockRange(offset: Self.offset(of: slot), length: Self.slotSize, kind: .exclusive) {
                return slot
            }
        }
        throw StoreError(.noSpace, "all \(Self.maximumSlots) reader slots are taken", path: path)
    }

    /// Clears a slot this table holds, then unlocks it (in that order: once unlocked, the
    /// slot may be someone else's). Errors leave a stale record (ignored: it is unlocked) or,
    /// if the unlock fails, a held lock until the handle closes (the writer keeps pages longer).
    private func releaseSlot(_ slot: Int) {
        try? handle.write([UInt8](repeating: 0, count: Self.slotSize), at: Self.offset(of: slot))
        try? handle.unlockRange(offset: Self.offset(of: slot), length: Self.slotSize)
    }

    fileprivate func release(_ txid: UInt64) {
        lock.withLock {
            guard let entry = held[txid] else { return }
            if entry.pins > 1 {
                held[txid] = (entry.slot, entry.pins - 1)
                return
            }
            held[txid] = nil
            releaseSlot(entry.slot)
            closeHandleIfDone()
        }
    }

    // MARK: Writer

    /// The readers of other tables (other processes, or other opens in this one) whose
    /// record verifies and whose slot is locked, in slot order. A record that does not
    /// verify is not counted even when locked: its reader has not finished publishing, and
    /// checks the newest transaction again after it has (see ``pin(_:)``). A verified record
    /// in an unlocked slot is a dead reader's, and is skipped.
    public func liveReaders() throws -> [Reader] {
        // One lock test covers the common case: no reader at all.
        guard try handle.isRangeLockedByOthers(offset: Self.headerSize, length: 0, kind: .exclusive) else { return [] }
        let slots = min(Self.maximumSlots, max(0, (try handle.size() - Self.headerSize) / Self.slotSize))
        guard slots > 0 else { return [] }
        let bytes = try handle.read(at: Self.headerSize, count: slots * Self.slotSize)
        var readers: [Reader] = []
        for slot in 0..<(bytes.count / Self.slotSize) {
            let start = slot * Self.slotSize
            guard let record = Record.decode(bytes[start..<(start + Self.slotSize)], slot: slot) else { continue }
            // The record first, then the lock: a slot released and claimed again in between
            // shows the old record under the new lock, which only holds pages longer.
            guard try handle.isRangeLockedByOthers(offset: Self.offset(of: slot), length: Self.slotSize, kind: .exclusive) else {
                continue
            }
            readers.append(Reader(slot: slot, record: record))
        }
        return readers
    }

    /// The oldest transaction a live reader of another table reads, or nil when none does.
    /// The writer calls it at the start of each write transaction (see ``pin(_:)``).
    public func oldestReader() throws -> UInt64? {
        try liveReaders().map(\.record.txid).min()
    }

    // MARK: Closing

    /// Stops pinning. A writer's table releases the writer lock and closes its file at once;
    /// a reader's closes it when its last pin is released (the slots stay locked until then).
    /// Calling it again does nothing.
    public func close() {
        lock.withLock {
            closed = true
            closeHandleIfDone()
        }
    }

    private func closeHandleIfDone() {
        guard closed, held.isEmpty, !handleClosed else { return }
        handleClosed = true
        // Closing the handle drops its locks, the writer lock included.
        try? handle.close()
    }
}

/// A snapshot's published slot in a ``ReaderTable``: the writer reuses no page reachable
/// from ``txid`` until ``release()`` (or deinit, or the death of the process).
public final class ReaderPin: Sendable {
    public let txid: UInt64
    public let slot: Int
    private let table: ReaderTable
    private let released = Atomic<Bool>(false)

    fileprivate init(table: ReaderTable, txid: UInt64, slot: Int) {
        self.table = table
        self.txid = txid
        self.slot = slot
    }

    deinit { release() }

    /// Gives the slot up (when no other pin of the table shares it). Calling it again does
    /// nothing.
    public func release() {
        if !released.exchange(true, ordering: .acquiringAndReleasing) { table.release(txid) }
    }
}
