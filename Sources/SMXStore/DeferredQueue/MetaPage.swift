/// The two meta pages (pages 0 and 1) of a B+tree file. A checkpoint writes the meta page
/// of slot `checkpoint % 2` after every other page it writes is synced, then syncs it; an
/// open takes the valid meta with the highest checkpoint number (bbolt, LMDB) and replays
/// the journal's commits after its transaction id (``BTreeJournal``).
///
/// ```
/// offset size field
///      0    8 checksum        XXH3-64 of bytes 8..<128, seeded with the slot (0 or 1)
///      8    8 magic           "SMXDEFDB"
///     16    2 format version  1
///     18    2 reserved        0
///     20    4 page size       u32 LE
///     24   16 queue id
///     40    8 txid            u64 LE, the transaction this meta commits
///     48    8 catalog root    u64 LE, root page of the catalog tree (0: no trees)
///     56    8 freelist head   u64 LE, first freelist page (0: none)
///     64    8 page count      u64 LE, pages 0..<count are in use or free
///     72    8 created         u64 LE, microseconds since the Unix epoch
///     80    8 checkpoint      u64 LE, checkpoint number; the slot is checkpoint % 2 and
///                             the journal of this checkpoint has this generation
///     88   40 reserved        0
///    128    . zero up to the page size
/// ```
public struct MetaPage: Equatable, Sendable {
    public static let magic = Array("SMXDEFDB".utf8)
    public static let version: UInt16 = 1
    public static let coveredBytes = 128

    public var pageSize: Int
    public var queueID: QueueID
    public var txid: UInt64
    public var catalogRoot: UInt64
    public var freelistHead: UInt64
    public var pageCount: UInt64
    public var createdMicros: UInt64
    public var checkpoint: UInt64

    public var slot: Int { Int(checkpoint % 2) }

    public func encode() -> [UInt8] {
        var w = ByteWriter(capacity: pageSize)
        w.u64(0)
        w.raw(Self.magic)
        w.u16(Self.version)
        w.u16(0)
        w.u32(UInt32(pageSize))
        w.raw(queueID.bytes)
        w.u64(txid)
        w.u64(catalogRoot)
        w.u64(freelistHead)
        w.u64(pageCount)
        w.u64(createdMicros)
        w.u64(checkpoint)
        w.zeros(pageSize - w.bytes.count)
        var bytes = w.bytes
        let sum = Checksum.xxh3(bytes[8..<Self.coveredBytes], seed: UInt64(slot))
        bytes.withUnsafeMutableBytes { LittleEndian.store(sum, $0, 0) }
        return bytes
    }

    /// Decodes the meta page read from `slot`; nil when it does not verify (torn, never
    /// written, or damaged) or does not belong there.
    public static func decode(_ bytes: [UInt8], slot: Int) -> MetaPage? {
        guard bytes.count >= coveredBytes else { return nil }
        let stored = bytes.withUnsafeBytes { LittleEndian.u64($0, 0) }
        guard stored == Checksum.xxh3(bytes[8..<coveredBytes], seed: UInt64(slot)),
              Array(bytes[8..<16]) == magic else { return nil }
        return bytes.withUnsafeBytes { p -> MetaPage? in
            guard LittleEndian.u16(p, 16) == version else { return nil }
            let meta = MetaPage(
                pageSize: Int(LittleEndian.u32(p, 20)),
                queueID: QueueID(bytes: Array(bytes[24..<40])),
                txid: LittleEndian.u64(p, 40),
                catalogRoot: LittleEndian.u64(p, 48),
                freelistHead: LittleEndian.u64(p, 56),
                pageCount: LittleEndian.u64(p, 64),
                createdMicros: LittleEndian.u64(p, 72),
                checkpoint: LittleEndian.u64(p, 80)
            )
            guard meta.pageSize >= 4096, meta.pageSize <= 65536, meta.pageSize & (meta.pageSize - 1) == 0,
                  meta.slot == slot, meta.pageCount >= 2,
                  meta.catalogRoot < meta.pageCount, meta.freelistHead < meta.pageCount else { return nil }
            return meta
        }
    }
}
