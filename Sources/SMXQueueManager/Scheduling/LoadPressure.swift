/// How much of each watched resource is in use now: what ``AdmissionControl`` decides from.
/// A plain snapshot the queue manager fills in from its stores' counters; negative values
/// count as zero.
public struct LoadPressure: Hashable, Sendable {
    public var incomingTransactions: Int
    public var incomingLogBytes: Int
    public var activeQueueEntries: Int
    public var contentBytesPending: Int

    public init(incomingTransactions: Int = 0, incomingLogBytes: Int = 0, activeQueueEntries: Int = 0, contentBytesPending: Int = 0) {
        self.incomingTransactions = incomingTransactions
        self.incomingLogBytes = incomingLogBytes
        self.activeQueueEntries = activeQueueEntries
        self.contentBytesPending = contentBytesPending
    }

    /// The use of `resource`.
    public subscript(resource: LoadResource) -> Int {
        switch resource {
        case .incomingTransactions: incomingTransactions
        case .incomingLogBytes: incomingLogBytes
        case .activeQueueEntries: activeQueueEntries
        case .contentBytesPending: contentBytesPending
        }
    }
}
