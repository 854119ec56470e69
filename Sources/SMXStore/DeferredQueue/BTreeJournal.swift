/// The B+tree file's redo journal, `<file>.journal` (for `queue.db`: `queue.db.journal`).
///
/// **Why it exists.** A copy-on-write commit that writes its pages and then its meta page
/// costs two syncs and writes every page it touched: 100 rescheduled recipients dirty some
/// 300 leaves scattered over the file, over a megabyte of random writes per commit. The
/// journal makes a commit one sequential append of its *operations* (a few kilobytes) and
/// one `fdatasync`; the pages are written later, at a *checkpoint*, once for many commits.
///
/// **Durability.** A commit is acknowledged after its journal record is synced. The state
/// after a crash is the newest checkpoint (the valid meta page with the highest
/// checkpoint number and the pages it reaches) plus the journal's commits after it,
/// replayed in order. Only the last commit can be torn (a commit waits for its sync before
/// the next record is written); damage followed by a later commit is corruption and the
/// open fails rather than silently dropping acknowledged commits.
///
/// **Checkpoint** (``BTreeFile/checkpoint()``, also when the journal or the unwritten pages
/// pass a limit, and at close): every page committed since the last checkpoint is sealed
/// and written, synced; the meta page of slot `checkpoint % 2` is written, synced; then a
/// fresh journal (generation = the new checkpoint number, base = its transaction id) is
/// written to `<file>.journal.new`, synced, renamed over the old one, and the directory
/// synced. A crash before the meta sync leaves the old meta and the old journal (replayed
/// as before); after it, the old journal's commits are all at or below the new meta's
/// transaction id and are skipped. A checkpoint that runs behind the commits creates the
/// next journal first (`<file>.journal.next`, ``createNext(fileSystem:file:queueID:generation:base:growthBytes:)``),
/// and renames it over the journal after the meta sync (``BTreeFile`` documents how an
/// open replays what a crash leaves of the two).
///
/// ```
/// file header (64 bytes, kind 8 "deferred queue journal",
///              segment number = generation, base sequence = checkpoint transaction id)
/// then record frames (docs/format/ibdb.md framing, checksums seeded with the generation),
/// each of type 1 "commit", sequence = the commit's transaction id; a commit larger than
/// one frame spans several frames with the same sequence, the last one flagged batch-end.
/// payload: operations, back to back, until the payload ends:
///   u8 kind (1 put, 2 delete), varint name length, tree name (UTF-8),
///   varint key length, key, and for a put: varint value length, value
/// ```
public enum BTreeJournal {
    public static let commitType: UInt8 = 1
    static let putKind: UInt8 = 1
    static let deleteKind: UInt8 = 2
    /// Payload bytes per frame before a commit continues in another frame.
    static let framePayloadLimit = 4 << 20
    /// Largest value a journaled put may carry (it must fit one frame with its key).
    public static let maxValueSize = framePayloadLimit - 2048

    public static func path(for file: String) -> String { file + ".journal" }
    public static func rewritePath(for file: String) -> String { file + ".journal.new" }
    /// The journal commits go to while a checkpoint's writes run behind them.
    public static func nextPath(for file: String) -> String { file + ".journal.next" }

    // MARK: - Encoding

    /// Appends one operation to a commit's payload.
    static func encodePut(_ key: [UInt8], _ value: [UInt8], tree: String, into writer: inout ByteWriter) {
        writer.u8(putKind)
        writer.lengthPrefixed(tree)
        writer.lengthPrefixed(key)
        writer.lengthPrefixed(value)
    }

    static func encodeDelete(_ key: [UInt8], tree: String, into writer: inout ByteWriter) {
        writer.u8(deleteKind)
        writer.lengthPrefixed(tree)
        writer.lengthPrefixed(key)
    }

    /// Frames one commit's operations (`payload`, a sequence of whole operations whose
    /// boundaries are `boundaries`) into `buffer`: one frame, or several at operation
    /// boundaries when it is larger than ``framePayloadLimit``.
    static func appendCommit(to buffer: inout [UInt8], txid: UInt64, payload: [UInt8], boundaries: [Int], generation: UInt64) {
        payload.withUnsafeBytes { all in
            var start = 0
            var cut = 0
            while start < payload.count {
                // The furthest operation boundary within the limit (at least one operation).
                var end = start
                while cut < boundaries.count, boundaries[cut] - start <= framePayloadLimit || end == start {
                    end = boundaries[cut]
                    cut += 1
                }
                let last = end >= payload.count
                RecordFrame.append(
                    to: &buffer, type: commitType, flags: last ? RecordFrame.flagBatchEnd : 0, sequence: txid,
                    payload: UnsafeRawBufferPointer(rebasing: all[start..<end]), seed: generation
                )
                start = end
            }
        }
    }

    /// The operations of one frame's payload.
    public static func decodeOperations(_ payload: ArraySlice<UInt8>) throws -> [BTreeOperation] {
        var reader = ByteReader(payload, context: "deferred queue journal commit")
        var operations: [BTreeOperation] = []
        while !reader.isAtEnd {
            let kind = try reader.u8("operation kind")
            let nameBytes = try reader.lengthPrefixed("tree name", limit: 255)
            guard !nameBytes.isEmpty, let name = String(validating: nameBytes, as: UTF8.self) else {
                throw reader.corrupted("tree name is empty or not UTF-8")
            }
            let key = try reader.lengthPrefixed("key", limit: 1024)
            switch kind {
            case putKind:
                let value = try reader.lengthPrefixed("value", limit: maxValueSize)
                operations.append(.put(tree: name, key: key, value: value))
            case deleteKind:
                operations.append(.delete(tree: name, key: key))
            default:
                throw reader.corrupted("operation kind \(kind)")
            }
        }
        return operations
    }

    // MARK: - Reading

    /// What reading a journal found.
    public struct Contents: Sendable {
        public var generation: UInt64
        /// Transaction id of the checkpoint the journal continues.
        public var base: UInt64
        /// Transaction id of the last complete commit (`base` when there is none).
        public var lastTxid: UInt64
        /// Offset after the last complete commit.
        public var end: Int
        /// Where reading stopped at bytes that were neither a record nor zeros, and why:
        /// the torn last commit of a crash.
        public var damage: (offset: Int, reason: String)?
        /// A complete frame of a later commit lies after the damage: acknowledged
        /// commits are missing from the middle of the journal.
        public var commitAfterDamage: UInt64?
    }

    /// The journal's file header (generation and base), checked to be a journal of this
    /// queue.
    public static func header(_ bytes: [UInt8], queueID: QueueID, path: String? = nil) throws -> FileHeader {
        let header = try FileHeader.decode(bytes, path: path)
        guard header.kind == .deferredQueueJournal, header.queueID == queueID else {
            throw StoreError(.corrupted, "not a deferred queue journal of this queue (\(header.kind))", path: path)
        }
        return header
    }

    /// Reads the journal in `bytes`, handing each complete commit (transaction id and
    /// operations, in order) to `commit`. Throws ``StoreError/Code/corrupted`` for a bad
    /// header or a commit whose operations do not decode, and whatever `commit` throws.
    public static func read(
        _ bytes: [UInt8],
        queueID: QueueID,
        path: String? = nil,
        commit: (UInt64, [BTreeOperation]) throws -> Void
    ) throws -> Contents {
        let header = try header(bytes, queueID: queueID, path: path)
        let generation = header.segmentNumber
        var contents = Contents(
            generation: generation, base: header.baseSequence, lastTxid: header.baseSequence,
            end: FormatConstants.fileHeaderSize
        )
        var pending: [BTreeOperation] = []
        var pendingTxid: UInt64?
        var offset = FormatConstants.fileHeaderSize
        try bytes.withUnsafeBytes { p in
            while offset < p.count {
                switch RecordFrame.decode(p, at: offset, seed: generation) {
                case .zeros:
                    return
                case .damaged(let problem):
                    if offset + FormatConstants.recordHeaderSize > p.count, p[offset...].allSatisfy({ $0 == 0 }) { return }
                    contents.damage = (offset, problem.description)
                    return
                case .record(let frame):
                    let expected = pendingTxid ?? contents.lastTxid + 1
                    guard frame.type == commitType, frame.sequence == expected else {
                        contents.damage = (offset, "unexpected record (type \(frame.type), transaction \(frame.sequence), expected \(expected))")
                        return
                    }
                    let payload = bytes[frame.payloadOffset..<(frame.payloadOffset + frame.length)]
                    do {
                        pending += try decodeOperations(payload)
                    } catch let error as StoreError {
                        throw StoreError(.corrupted, "journal commit \(frame.sequence) at offset \(offset): \(error.message)", path: path)
                    }
                    offset = frame.nextOffset
                    if frame.isBatchEnd {
                        try commit(frame.sequence, pending)
                        pending = []
                        pendingTxid = nil
                        contents.lastTxid = frame.sequence
                        contents.end = offset
                    } else {
                        pendingTxid = frame.sequence
                    }
                }
            }
        }
        if let damage = contents.damage {
            contents.commitAfterDamage = laterCommit(in: bytes, after: damage.offset, than: contents.lastTxid, generation: generation)
        }
        return contents
    }

    /// The transaction id of a complete, verifying commit frame anywhere after `offset`
    /// with a transaction id above `txid`, if there is one.
    static func laterCommit(in bytes: [UInt8], after offset: Int, than txid: UInt64, generation: UInt64) -> UInt64? {
        bytes.withUnsafeBytes { p -> UInt64? in
            var at = FormatConstants.aligned(offset + FormatConstants.recordAlignment)
            while at + FormatConstants.recordHeaderSize <= p.count {
                if case .record(let frame) = RecordFrame.decode(p, at: at, seed: generation),
                   frame.type == commitType, frame.sequence > txid {
                    return frame.sequence
                }
                at += FormatConstants.recordAlignment
            }
            return nil
        }
    }

    // MARK: - Writing

    /// Creates a journal for checkpoint `generation` at transaction `base`: header and
    /// preallocated room written to the rewrite path, synced, renamed into place, the
    /// directory synced. Returns the open appender.
    static func create(
        fileSystem: any FileSystem,
        file: String,
        queueID: QueueID,
        generation: UInt64,
        base: UInt64,
        growthBytes: Int
    ) throws -> BTreeJournalWriter {
        try writeNew(
            fileSystem: fileSystem, at: rewritePath(for: file), renamedTo: path(for: file), file: file,
            queueID: queueID, generation: generation, base: base, growthBytes: growthBytes
        )
    }
}

extension BTreeJournal {
    /// Creates the journal that continues checkpoint `generation` at transaction `base`
    /// while that checkpoint's pages are still being written: `<file>.journal.next`,
    /// header and preallocated room synced, then the directory, before any commit goes
    /// in it (a leftover of a crash is replaced). The checkpoint renames it over the
    /// journal once its meta page is durable (``promoteNext(fileSystem:file:)``).
    static func createNext(
        fileSystem: any FileSystem,
        file: String,
        queueID: QueueID,
        generation: UInt64,
        base: UInt64,
        growthBytes: Int
    ) throws -> BTreeJournalWriter {
        try writeNew(
            fileSystem: fileSystem, at: nextPath(for: file), renamedTo: nil, file: file,
            queueID: queueID, generation: generation, base: base, growthBytes: growthBytes
        )
    }

    /// A new journal file at `path` (a leftover there is removed first): header and
    /// preallocated room, synced; then renamed to `renamedTo` if given; then the directory
    /// synced. Returns the open appender.
    private static func writeNew(
        fileSystem: any FileSystem,
        at path: String,
        renamedTo: String?,
        file: String,
        queueID: QueueID,
        generation: UInt64,
        base: UInt64,
        growthBytes: Int
    ) throws -> BTreeJournalWriter {
        if try fileSystem.itemType(path) != nil { try fileSystem.removeFile(path) }
        let handle = try fileSystem.openFile(path, mode: .createNew)
        do {
            let header = FileHeader(
                kind: .deferredQueueJournal, queueID: queueID, segmentNumber: generation, baseSequence: base,
                createdMicros: wallClockMicros()
            )
            try handle.allocate(offset: 0, length: growthBytes)
            try handle.write(header.encode(), at: 0)
            try handle.fullSync()
            if let renamedTo { try fileSystem.rename(path, to: renamedTo) }
            try fileSystem.syncDirectory(Path.directory(of: file))
        } catch {
            try? handle.close()
            throw error
        }
        return BTreeJournalWriter(
            handle: handle, generation: generation, offset: FormatConstants.fileHeaderSize, capacity: growthBytes,
            growthBytes: growthBytes
        )
    }

    /// Renames the next journal over the journal and syncs the directory: the last step
    /// of a checkpoint whose commits went on in it. (Appends continue through the open
    /// descriptor.)
    static func promoteNext(fileSystem: any FileSystem, file: String) throws {
        try fileSystem.rename(nextPath(for: file), to: path(for: file))
        try fileSystem.syncDirectory(Path.directory(of: file))
    }
}

/// Appends commits to the open journal; used only under the file's writer lock.
final class BTreeJournalWriter {
    let handle: any FileHandle
    let generation: UInt64
    /// Where the next commit goes.
    private(set) var offset: Int
    private var capacity: Int
    private let growthBytes: Int
    private var buffer: [UInt8] = []

    init(handle: any FileHandle, generation: UInt64, offset: Int, capacity: Int, growthBytes: Int) {
        self.handle = handle
        self.generation = generation
        self.offset = offset
        self.capacity = capacity
        self.growthBytes = growthBytes
    }

    /// Bytes of commits since the checkpoint.
    var bytesSinceCheckpoint: Int { offset - FormatConstants.fileHeaderSize }

    /// Writes one commit and syncs it; when this returns the commit is durable.
    /// Writes `bytes`, the part of the next commit's payload starting at `payloadOffset`,
    /// where a single-frame commit's payload goes, and starts their writeback: done while
    /// the transaction runs, so that its commit has less to write and sync. No durability;
    /// until the commit writes its frame header these bytes are not part of the journal.
    func stream(_ bytes: UnsafeRawBufferPointer, at payloadOffset: Int) throws {
        let at = offset + FormatConstants.recordHeaderSize + payloadOffset
        try reserve(through: at + bytes.count)
        try handle.write(bytes, at: at)
        try? handle.startWriteback(offset: at, length: bytes.count)
    }

    /// Appends one commit and syncs. `streamed`: payload bytes already written by
    /// ``stream(_:at:)``, where a single frame puts them (a commit framed in several
    /// frames is written whole).
    func append(txid: UInt64, payload: [UInt8], boundaries: [Int], streamed: Int = 0) throws {
        buffer.removeAll(keepingCapacity: true)
        BTreeJournal.appendCommit(to: &buffer, txid: txid, payload: payload, boundaries: boundaries, generation: generation)
        try reserve(through: offset + buffer.count)
        let header = FormatConstants.recordHeaderSize
        let skip = buffer.count == RecordFrame.size(payloadCount: payload.count) ? streamed : 0
        try buffer.withUnsafeBytes { frame in
            if skip == 0 {
                try handle.write(frame, at: offset)
            } else {
                try handle.write(UnsafeRawBufferPointer(rebasing: frame[..<header]), at: offset)
                if header + skip < frame.count {
                    try handle.write(UnsafeRawBufferPointer(rebasing: frame[(header + skip)...]), at: offset + header + skip)
                }
            }
        }
        try handle.sync()
        offset += buffer.count
    }

    /// Preallocates the journal through byte `end`.
    private func reserve(through end: Int) throws {
        guard end > capacity else { return }
        let target = max(end, capacity + growthBytes)
        try handle.allocate(offset: capacity, length: target - capacity)
        capacity = target
    }

    func close() { try? handle.close() }
}
