import SMXStore

/// A message the receiving side acknowledged: its body and its incoming-log record are
/// durable (rule 1), so the SMTP server may answer 250 naming ``envelopeID``.
public struct AcceptedMessage: Equatable, Sendable {
    public var envelopeID: EnvelopeID
    /// Where the incoming log put the transaction record.
    public var receipt: IncomingLog.CommitReceipt
    /// The transaction as committed (every recipient pending), for the queue manager's
    /// incoming and active queues.
    public var transaction: IncomingTransaction
    /// Bytes the body occupies in the content store.
    public var storedBytes: Int

    public init(envelopeID: EnvelopeID, receipt: IncomingLog.CommitReceipt, transaction: IncomingTransaction, storedBytes: Int) {
        self.envelopeID = envelopeID
        self.receipt = receipt
        self.transaction = transaction
        self.storedBytes = storedBytes
    }
}
