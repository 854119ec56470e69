/// What opening the incoming log found: per directory, how much was read, where the log
/// ends, what was torn or damaged, and how many transactions are still open.
/// `smx-recover` prints it.
public struct RecoveryReport: Sendable {
    public struct Directory: Sendable, Equatable {
        public var path: String
        public var segments = 0
        public var records = 0
        public var openTransactions = 0
        public var damagedRegions = 0
        /// Bytes of an unacknowledged write torn by the crash, discarded at the log's end.
        public var tornTailBytes = 0
        public var endSegment: UInt64 = 0
        public var endOffset = 0

        public init(path: String) { self.path = path }
    }

    public var directories: [Directory] = []
    public var corruption: [CorruptionReport] = []
    public var durationMicros: UInt64 = 0

    public var openTransactions: Int { directories.reduce(0) { $0 + $1.openTransactions } }
    public var records: Int { directories.reduce(0) { $0 + $1.records } }
}
