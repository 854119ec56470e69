/// The content store's dead marks: `cdb/releases`, an append-only file of the content ids
/// the queue manager released. Blobs are never modified in place, so whether a body is
/// dead lives here. The journal is synced lazily (with the next batch that has to sync
/// anyway, or when the store goes idle): a crash may lose the newest marks, which only
/// keeps garbage longer (ARCHITECTURE.md rule 2); the queue manager's reference recount
/// after recovery releases it again.
///
/// ```
/// file header (64 bytes, kind 7 "content release journal", segment number = generation)
/// then record frames (docs/format/ibdb.md framing, checksums seeded with the generation):
///   type 1 "released": u32 LE count, then count content ids, u64 LE each
/// ```
///
/// When it grows past a limit the store writes a fresh generation holding only the marks
/// of blobs still on disk into `releases.new`, syncs it, renames it over `releases` and
/// syncs the directory. A `releases.new` found at open is an unfinished rewrite: removed.
public enum ReleaseJournal {
    public static let fileName = "releases"
    public static let rewriteName = "releases.new"
    public static let releasedType: UInt8 = 1
    /// Most ids one record carries.
    public static let maxIDsPerRecord = 65536

    /// Frames one record of released ids (at most ``maxIDsPerRecord``).
    public static func appendRecord(
        to buffer: inout [UInt8],
        ids: ArraySlice<ContentID>,
        sequence: UInt64,
        generation: UInt64
    ) {
        var w = ByteWriter(capacity: 4 + 8 * ids.count)
        w.u32(UInt32(ids.count))
        for id in ids { w.u64(id.rawValue) }
        RecordFrame.append(to: &buffer, type: releasedType, flags: 0, sequence: sequence, payload: w.bytes, seed: generation)
    }

    /// What a journal file holds.
    public struct Contents: Equatable, Sendable {
        public var generation: UInt64
        public var ids: [ContentID]
        /// Where the next record goes.
        public var end: Int
        public var lastSequence: UInt64
        /// Where reading stopped at bytes that were neither a record nor zeros, and why.
        /// Marks after that point are lost (garbage kept longer, never a body lost).
        public var stoppedAt: (offset: Int, reason: String)?

        public static func == (a: Contents, b: Contents) -> Bool {
            a.generation == b.generation && a.ids == b.ids && a.end == b.end && a.lastSequence == b.lastSequence
                && a.stoppedAt?.offset == b.stoppedAt?.offset && a.stoppedAt?.reason == b.stoppedAt?.reason
        }
    }

    /// Decodes a journal file. Throws ``StoreError/Code/corrupted`` only for a bad file
    /// header; damage after it ends the reading (see ``Contents/stoppedAt``).
    public static func decode(_ bytes: [UInt8], queueID: QueueID, path: String? = nil) throws -> Contents {
        let header = try FileHeader.decode(bytes, path: path)
        guard header.kind == .contentReleaseJournal, header.queueID == queueID else {
            throw StoreError(.corrupted, "not a release journal of this queue (\(header.kind))", path: path)
        }
        var contents = Contents(generation: header.segmentNumber, ids: [], end: FormatConstants.fileHeaderSize, lastSequence: 0)
        bytes.withUnsafeBytes { p in
            var offset = FormatConstants.fileHeaderSize
            while offset < p.count {
                switch RecordFrame.decode(p, at: offset, seed: header.segmentNumber, maxPayload: 4 + 8 * maxIDsPerRecord) {
                case .zeros:
                    return
                case .damaged(let problem):
                    if offset + FormatConstants.recordHeaderSize > p.count,
                       p[offset...].allSatisfy({ $0 == 0 }) { return }
                    contents.stoppedAt = (offset, problem.description)
                    return
                case .record(let h):
                    guard h.type == releasedType, h.length >= 4, h.sequence > contents.lastSequence else {
                        contents.stoppedAt = (offset, "unexpected record (type \(h.type), sequence \(h.sequence))")
                        return
                    }
                    let count = Int(LittleEndian.u32(p, h.payloadOffset))
                    guard h.length == 4 + 8 * count else {
                        contents.stoppedAt = (offset, "released record of \(h.length) bytes for \(count) ids")
                        return
                    }
                    for i in 0..<count {
                        contents.ids.append(ContentID(LittleEndian.u64(p, h.payloadOffset + 4 + 8 * i)))
                    }
                    contents.lastSequence = h.sequence
                    offset = h.nextOffset
                    contents.end = offset
                }
            }
        }
        return contents
    }
}
