/// Reading the incoming log without opening it for writing: the records recovery would
/// trust, in commit order, with where each one lies. For tools (`smx-qdump`, `smx-fsck`)
/// and tests; safe against a live queue because it only reads.
extension IncomingLog {
    public struct ReplayedRecord: Sendable, Equatable {
        public var sequence: UInt64
        public var directory: Int
        public var path: String
        public var segmentNumber: UInt64
        public var offset: Int
        public var record: LogRecord
    }

    public struct Replay: Sendable {
        /// Every trusted record of every directory, merged in sequence (commit) order.
        public var records: [ReplayedRecord]
        /// The transactions still open after applying them.
        public var openTransactions: [IncomingTransaction]
        public var corruption: [CorruptionReport]
    }

    /// Reads every directory of `configuration` and merges the records in commit order.
    /// `queueID` nil accepts segments of any queue.
    public static func replay(
        fileSystem: any FileSystem,
        directories: [String],
        queueID: QueueID?,
        reporter: (any CorruptionReporter)? = nil
    ) throws -> Replay {
        var records: [ReplayedRecord] = []
        var corruption: [CorruptionReport] = []
        var live: [EnvelopeID: IncomingTransaction] = [:]
        for (index, path) in directories.enumerated() {
            let scan = try LogDirectory.scan(
                fileSystem: fileSystem, path: path, queueID: queueID,
                readOnly: true, reporter: reporter, quarantine: nil
            )
            defer { for slot in scan.slots { try? slot.handle.close() } }
            corruption += scan.corruption
            var directoryLive: [EnvelopeID: IncomingTransaction] = [:]
            for segment in scan.segments {
                for entry in segment.contents.entries {
                    records.append(ReplayedRecord(
                        sequence: entry.sequence, directory: index, path: scan.slots[segment.slot].path,
                        segmentNumber: segment.header.segmentNumber, offset: entry.offset, record: entry.record
                    ))
                    LogDirectory.fold(entry.record, into: &directoryLive)
                }
            }
            live.merge(directoryLive) { first, _ in first }
        }
        records.sort { ($0.sequence, $0.directory) < ($1.sequence, $1.directory) }
        return Replay(
            records: records,
            openTransactions: live.values.sorted { $0.envelopeID < $1.envelopeID },
            corruption: corruption
        )
    }
}
