import SMXStore

/// Counts of a queue by store and state, read from the stores themselves (not from the
/// queue manager's memory), for `smx-qdump` summaries and monitoring. Reading takes one
/// deferred-queue snapshot and walks its transaction records once, a page at a time; it
/// never blocks a writer.
public struct QueueStatistics: Equatable, Sendable {
    /// Transactions open in the incoming log (received, not yet closed).
    public var incomingOpenTransactions = 0
    /// Their recipients still pending (neither delivered nor failed nor moved).
    public var incomingPendingRecipients = 0
    /// Envelopes in the deferred queue.
    public var deferredEnvelopes = 0
    /// Deferred-queue recipients by status.
    public var deferredRecipients = 0
    public var heldRecipients = 0
    /// Failed permanently, their failure notification still owed.
    public var failedRecipients = 0
    /// The earliest arrival among the envelopes of both queues (µs since the epoch), nil
    /// when both are empty.
    public var oldestArrivalMicros: UInt64?
    /// How long the oldest envelope has been queued at the time of reading.
    public var oldestAgeMicros: UInt64?

    public init() {}

    /// Transaction records decoded at a time (one snapshot for the whole walk), so memory
    /// stays bounded however large the queue.
    static let pageSize = 1_024

    /// Reads the counts at `now`. Throws ``QueueOperationError/reading(_:)`` when the
    /// deferred queue cannot be read.
    public static func read(incomingLog: IncomingLog, deferredQueue: DeferredQueue, now: Timestamp) throws(QueueOperationError) -> QueueStatistics {
        var statistics = QueueStatistics()
        var oldest: UInt64?
        func saw(_ arrival: UInt64) { oldest = min(oldest ?? arrival, arrival) }
        for transaction in incomingLog.openTransactions() {
            statistics.incomingOpenTransactions += 1
            statistics.incomingPendingRecipients += transaction.recipients.count { $0.state == .pending }
            saw(transaction.arrivalMicros)
        }
        do {
            let reader = try deferredQueue.reader()
            defer { reader.close() }
            var after: EnvelopeID?
            while true {
                let page = try reader.transactions(after: after, limit: Self.pageSize)
                for transaction in page {
                    statistics.deferredEnvelopes += 1
                    statistics.deferredRecipients += Int(transaction.deferred)
                    statistics.heldRecipients += Int(transaction.held)
                    statistics.failedRecipients += Int(transaction.failed)
                    saw(transaction.arrivalMicros)
                }
                guard page.count == Self.pageSize, let last = page.last else { break }
                after = last.envelopeID
            }
        } catch {
            throw QueueOperationError.wrapping(error) { .reading($0) }
        }
        statistics.oldestArrivalMicros = oldest
        statistics.oldestAgeMicros = oldest.map { now.microsecondsSinceEpoch > $0 ? now.microsecondsSinceEpoch - $0 : 0 }
        return statistics
    }
}
