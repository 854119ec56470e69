/// A local resource whose use the receiving side's admission control watches (the seed's
/// "Load Control": the queue manager must keep its own server from overload and, by
/// default, favour delivery over accepting more mail). In this order ties are broken.
public enum LoadResource: Int, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// Transactions open in the incoming log: received, not yet delivered or moved to the
    /// deferred queue.
    case incomingTransactions = 0
    /// Bytes appended to the incoming log and waiting for their group commit.
    case incomingLogBytes = 1
    /// Entries in the active queue.
    case activeQueueEntries = 2
    /// Bytes written to the content store and waiting for their sync.
    case contentBytesPending = 3

    public var description: String {
        switch self {
        case .incomingTransactions: "incoming transactions"
        case .incomingLogBytes: "incoming log bytes pending"
        case .activeQueueEntries: "active queue entries"
        case .contentBytesPending: "content bytes pending"
        }
    }
}
