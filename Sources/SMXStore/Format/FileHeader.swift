/// The 64-byte header at offset 0 of every smx file.
///
/// ```
/// offset size field
///      0    8 magic            FormatConstants.magic
///      8    2 format version   u16 LE
///     10    2 file kind        u16 LE (FileKind)
///     12    4 flags            u32 LE, 0 in version 1
///     16   16 queue id
///     32    8 segment number   u64 LE, unique for the life of the queue, never reused
///     40    8 base sequence    u64 LE, first record sequence the file may hold (logs)
///     48    8 created          u64 LE, microseconds since the Unix epoch
///     56    8 checksum         XXH3-64 (seed 0) of bytes 0..<56
/// ```
public struct FileHeader: Equatable, Sendable {
    public var kind: FileKind
    public var queueID: QueueID
    public var segmentNumber: UInt64
    public var baseSequence: UInt64
    public var createdMicros: UInt64
    public var flags: UInt32

    public init(
        kind: FileKind,
        queueID: QueueID,
        segmentNumber: UInt64,
        baseSequence: UInt64 = 0,
        createdMicros: UInt64,
        flags: UInt32 = 0
    ) {
        self.kind = kind
        self.queueID = queueID
        self.segmentNumber = segmentNumber
        self.baseSequence = baseSequence
        self.createdMicros = createdMicros
        self.flags = flags
    }

    public func encode() -> [UInt8] {
        var w = ByteWriter(capacity: FormatConstants.fileHeaderSize)
        w.raw(FormatConstants.magic)
        w.u16(FormatConstants.formatVersion)
        w.u16(kind.rawValue)
        w.u32(flags)
        w.raw(queueID.bytes)
        w.u64(segmentNumber)
        w.u64(baseSequence)
        w.u64(createdMicros)
        let sum = Checksum.xxh3(w.bytes)
        w.u64(sum)
        return w.bytes
    }

    /// Decodes and verifies a header. Throws ``StoreError/Code/corrupted`` for a bad magic,
    /// checksum or kind, ``StoreError/Code/unsupportedVersion`` for a newer format.
    public static func decode(_ bytes: [UInt8], path: String? = nil) throws -> FileHeader {
        func bad(_ what: String) -> StoreError {
            StoreError(.corrupted, "file header: \(what)", path: path)
        }
        guard bytes.count >= FormatConstants.fileHeaderSize else {
            throw bad("\(bytes.count) bytes, need \(FormatConstants.fileHeaderSize)")
        }
        guard Array(bytes[0..<8]) == FormatConstants.magic else { throw bad("bad magic") }
        var r = ByteReader(bytes[0..<FormatConstants.fileHeaderSize], context: "file header")
        _ = try r.raw(8)
        let version = try r.u16()
        let kindRaw = try r.u16()
        let flags = try r.u32()
        let queue = try r.raw(16)
        let segment = try r.u64()
        let base = try r.u64()
        let created = try r.u64()
        let stored = try r.u64()
        let computed = Checksum.xxh3(bytes[0..<56])
        guard stored == computed else { throw bad("checksum mismatch") }
        guard version <= FormatConstants.formatVersion, version > 0 else {
            throw StoreError(.unsupportedVersion, "file header: format version \(version)", path: path)
        }
        guard let kind = FileKind(rawValue: kindRaw) else { throw bad("unknown file kind \(kindRaw)") }
        return FileHeader(
            kind: kind,
            queueID: QueueID(bytes: queue),
            segmentNumber: segment,
            baseSequence: base,
            createdMicros: created,
            flags: flags
        )
    }
}
