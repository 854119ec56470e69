/// Every number the on-disk formats share, in one place that writers and readers both
/// import (LevelDB's `log_format.h` habit). `docs/format/*.md` describe the same bytes in
/// prose; change both together.
public enum FormatConstants {
    /// First eight bytes of every smx file: a non-ASCII byte, "SMX", CR LF, ^Z, LF
    /// (the PNG trick: text-mode transfers and truncation to 7 bits are detected).
    public static let magic: [UInt8] = [0x89, 0x53, 0x4D, 0x58, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Version of the file header layout and of the record framing.
    public static let formatVersion: UInt16 = 1

    /// Size of ``FileHeader`` on disk.
    public static let fileHeaderSize = 64

    /// Size of a record frame's header; the payload follows.
    public static let recordHeaderSize = 24

    /// Records start at multiples of this, padding with zero bytes, so a resynchronising
    /// scan after damage only tries aligned offsets.
    public static let recordAlignment = 8

    /// The unit a simulated crash tears writes at, and the unit the docs reason in.
    public static let sectorSize = 512

    /// Largest payload a record frame may carry (sanity bound for readers).
    public static let maxRecordPayload = 16 << 20

    /// Rounds `n` up to a multiple of ``recordAlignment``.
    @inline(__always)
    public static func aligned(_ n: Int) -> Int {
        (n + recordAlignment - 1) & ~(recordAlignment - 1)
    }
}

/// What a file holds, stored in its header.
public enum FileKind: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    case queueIdentity = 1
    case incomingLogSegment = 2
    case contentSegment = 3
    case contentLargeBody = 4
    case deferredQueue = 5
    case contentSegmentHint = 6
    case contentReleaseJournal = 7
    case deferredQueueJournal = 8

    public var description: String {
        switch self {
        case .queueIdentity: "queue identity"
        case .incomingLogSegment: "incoming log segment"
        case .contentSegment: "content segment"
        case .contentLargeBody: "large content body"
        case .deferredQueue: "deferred queue"
        case .contentSegmentHint: "content segment hint"
        case .contentReleaseJournal: "content release journal"
        case .deferredQueueJournal: "deferred queue journal"
        }
    }
}
