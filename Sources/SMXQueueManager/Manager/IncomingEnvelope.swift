import SMXStore

/// One transaction of the in-memory incoming queue (the seed's IQDB), from its
/// acknowledgement until the incoming log closes it: the transaction as received, with
/// each recipient's state as last committed, how many of its recipients went to the active
/// queue (in RCPT TO order: the incoming queue is FIFO), and whether the deferred queue
/// holds the envelope (so the manager knows when an add creates it: one more reference to
/// the body).
///
/// A class: the manager's loop reads and changes it in place many times per recipient, and
/// a struct in the dictionary was copied out (retaining every field) at each read.
final class IncomingEnvelope {
    var transaction: IncomingTransaction
    /// Recipients `0 ..< admitted` have been taken into the active queue.
    var admitted = 0
    /// Recipients whose result is not committed yet.
    var remaining: Int

    init(_ transaction: IncomingTransaction) {
        self.transaction = transaction
        remaining = transaction.recipients.count { $0.state == .pending }
        admitted = 0
    }

    /// Recipients not yet taken into the active queue.
    var waiting: Int { transaction.recipients.count - admitted }

    /// Every recipient has its result committed: the transaction can be closed.
    var isFinished: Bool { remaining == 0 }

    /// The deferred queue's envelope record for this transaction (counters are the
    /// queue's to keep; `delivered` counts the recipients delivered from the incoming queue
    /// so far, as startup does).
    var deferredTransaction: DeferredTransaction {
        let t = transaction
        return DeferredTransaction(
            envelopeID: t.envelopeID, sender: t.sender, mail: t.mail, content: t.content, arrivalMicros: t.arrivalMicros,
            recipientCount: UInt32(t.recipients.count), delivered: UInt32(t.recipients.count { $0.state == .delivered })
        )
    }
}
