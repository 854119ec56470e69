/// Rule 1 across the two stores: a message is acknowledged only when its body (content
/// store) and its envelope (incoming log) are both durable. The two syncs run at the same
/// time, each in its own store's group commit, so accepting N messages costs one sync per
/// content file touched plus the log's sync, and a message waits about one sync, not two:
/// the body was queued for its sync when the writer finished, before the records are
/// committed here, so waiting for the log first and for the body after adds no wait (the
/// body is usually durable by then, and the second wait returns at once). No child task
/// is needed for the two waits, which matters at tens of thousands of messages a second.
///
/// Because they run concurrently, a crash can leave an envelope durable whose body is not
/// (or the reverse). Such an envelope was never acknowledged; recovery finds it with
/// ``IncomingLog/discardTransactionsWithoutBody(in:)`` and closes it. A body without an
/// envelope is garbage that the queue manager's recount releases.
extension IncomingLog {
    /// Commits `records` and waits until `bodies` are durable too; returns when both hold.
    /// If either fails, the error is thrown and the message must not be acknowledged.
    public func commit(_ records: [LogRecord], bodies: [StoredContent], in store: ContentStore) async throws -> CommitReceipt {
        let receipt = try await commit(records)
        try await store.waitDurable(bodies)
        return receipt
    }

    /// An open transaction recovery closed because its body is missing or does not verify.
    public struct DiscardedTransaction: Sendable, Equatable {
        public var envelopeID: EnvelopeID
        public var content: ContentReference
        public var finding: ContentValidation
    }

    /// Checks the body of every open transaction against the content store and closes
    /// (``CloseReason/discarded``) those whose body is missing, of another size or
    /// checksum, or damaged: they were never acknowledged (rule 1). Returns them so the
    /// caller can say so.
    public func discardTransactionsWithoutBody(in store: ContentStore) async throws -> [DiscardedTransaction] {
        var discarded: [DiscardedTransaction] = []
        for transaction in openTransactions() {
            let finding = store.validate(transaction.content)
            if finding != .valid {
                discarded.append(DiscardedTransaction(envelopeID: transaction.envelopeID, content: transaction.content, finding: finding))
            }
        }
        if !discarded.isEmpty {
            _ = try await commit(discarded.map { .closed($0.envelopeID, .discarded) })
        }
        return discarded
    }
}
