/// Where a live body's blob is: a slot of a content segment, or its own large body file.
struct BlobLocation: Equatable, Sendable {
    /// Segment slot, or ``BlobLocation/largeFile``.
    var slot: Int
    var offset: Int
    /// Header plus chunk frames.
    var extent: Int
    var rawLength: UInt64
    var bodyChecksum: UInt64
    /// The file's segment number: the seed of the blob header's checksum.
    var seed: UInt64

    static let largeFile = -1
    var isLargeFile: Bool { slot == Self.largeFile }
}

/// One blob physically present in a segment (live, released, or superseded by a copy).
struct SegmentMember: Sendable {
    var id: ContentID
    var offset: Int
    var extent: Int
    var rawLength: UInt64
    var bodyChecksum: UInt64
    var commitBatch: UInt64
    /// Recovery found a chunk of it that does not verify.
    var damaged = false
}

/// One content segment file (a *slot*, reused when its bodies are all dead) and what the
/// store knows about it. Guarded by the store's lock; `handle` is used without it (reads
/// and the flusher's writes are positional).
final class ContentSegment: @unchecked Sendable {
    enum State: Equatable {
        /// No bodies; the slot waits to be reused.
        case free
        /// Receiving writes (at most one segment at a time).
        case active
        /// Ended by a seal; read only.
        case sealed
        /// Its file header did not verify: never read, never reused, left for `smx-fsck`.
        case damaged
    }

    let slot: Int
    let path: String
    var handle: (any FileHandle)?
    var number: UInt64
    var state: State
    /// Next write offset (end of allocated space).
    var allocated: Int
    /// Blobs made durable in this segment, in offset order.
    var members: [SegmentMember] = []
    /// Sum of the extents of members that the index points at.
    var liveBytes = 0
    /// Readers (and compaction) that may still read this segment's bytes.
    var pins = 0
    var sealOffset: Int?
    var sealBatch: UInt64 = 0
    /// True once a valid hint file describes this sealed segment.
    var hinted = false
    /// The flusher must (re)write the file header before writing blobs.
    var needsPreparation = false
    /// The file must be created (it never existed).
    var needsCreation = false
    /// When it was sealed, or the store was opened for a segment recovery found sealed
    /// (`Configuration.monotonicClock`): background compaction leaves young ones alone.
    var sealedAtMicros: UInt64 = 0

    init(slot: Int, path: String, number: UInt64, state: State, allocated: Int) {
        self.slot = slot
        self.path = path
        self.number = number
        self.state = state
        self.allocated = allocated
    }

    static func fileName(slot: Int) -> String {
        "segment-" + String(slot).leftPadded(to: 4) + ".cdb"
    }

    static func hintName(slot: Int) -> String {
        "segment-" + String(slot).leftPadded(to: 4) + ".hint"
    }

    /// The slot number in a segment or hint file name, or nil.
    static func slot(fromName name: String, suffix: String) -> Int? {
        guard name.hasPrefix("segment-"), name.hasSuffix(suffix) else { return nil }
        let digits = name.dropFirst("segment-".count).dropLast(suffix.count)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }

    /// Bytes of blobs written (live or not), the denominator of the live fraction.
    var usedBytes: Int { max(0, (sealOffset ?? allocated) - BlobFormat.segmentDataStart) }

    var liveFraction: Double {
        usedBytes == 0 ? 0 : Double(liveBytes) / Double(usedBytes)
    }
}

/// Names of large body files: `large-<ID>.blob`, written as `large-<ID>.tmp`.
enum LargeBodyFile {
    static func name(_ id: ContentID) -> String { "large-\(id).blob" }
    static func temporaryName(_ id: ContentID) -> String { "large-\(id).tmp" }

    static func id(fromName name: String, suffix: String) -> ContentID? {
        guard name.hasPrefix("large-"), name.hasSuffix(suffix) else { return nil }
        return ContentID(String(name.dropFirst("large-".count).dropLast(suffix.count)))
    }

    /// Offset of the blob header in a large body file, and of its first chunk.
    static let blobOffset = FormatConstants.fileHeaderSize
    static let firstChunkOffset = FormatConstants.fileHeaderSize + BlobFormat.headerSize
}
