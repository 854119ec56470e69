/// What opening the content store found and did, for `smx-recover` to print.
public struct ContentRecoveryReport: Sendable, Equatable {
    /// The end of the segment that was being written at the crash, cut off because it
    /// did not verify: bodies there were never acknowledged.
    public struct TornTail: Sendable, Equatable {
        public var path: String
        public var segmentNumber: UInt64
        public var offset: Int
        public var length: Int
        /// Blobs after the damage that verified but belong to the unfinished batch.
        public var droppedBlobs: Int
    }

    public var segments = 0
    public var freeSlots = 0
    public var segmentsFromHints = 0
    public var segmentsScanned = 0
    /// Segments whose file header did not verify (left alone, reported).
    public var damagedSegments = 0
    public var liveBodies = 0
    /// Bodies on disk with a release mark.
    public var releasedBodies = 0
    /// Older copies of bodies that compaction had copied forward.
    public var supersededCopies = 0
    public var largeBodies = 0
    /// `.tmp` large body files removed (writes that never finished).
    public var unfinishedLargeBodiesRemoved = 0
    /// Large body files with a release mark, removed.
    public var releasedLargeBodiesRemoved = 0
    public var releaseMarks = 0
    /// Where reading the release journal stopped early, and why (marks after it are lost;
    /// only garbage is kept longer).
    public var journalStoppedAt: String?
    public var tornTails: [TornTail] = []
    /// Damage other than a torn tail (also passed to the reporter).
    public var corruption: [CorruptionReport] = []
    /// Live bodies with a chunk that does not verify: still indexed, reads fail naming them.
    public var damagedBodies: [ContentID] = []
    public var micros: UInt64 = 0

    public init() {}
}
