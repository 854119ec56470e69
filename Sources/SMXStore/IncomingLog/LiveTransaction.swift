/// An open transaction as a log directory keeps it in memory: the encoded transaction
/// record (already built for the commit) and each recipient's current state. Compact on
/// purpose: the incoming log may hold many open transactions, and commits insert one per
/// call, so an entry is one byte buffer and one small array rather than a tree of strings.
struct LiveTransaction {
    /// The payload of a transaction (or carried-forward) record.
    var payload: [UInt8]
    var states: [RecipientState]

    init(payload: [UInt8], states: [RecipientState]) {
        self.payload = payload
        self.states = states
    }

    init(_ transaction: IncomingTransaction) {
        payload = LogRecord.transaction(transaction).encodePayload()
        states = transaction.recipients.map(\.state)
    }

    /// The transaction with its recipients' current states.
    var transaction: IncomingTransaction {
        guard case .transaction(var t) = try? LogRecord.decode(type: LogRecordType.transaction.rawValue, payload: payload) else {
            preconditionFailure("a live transaction's own payload does not decode")
        }
        for i in t.recipients.indices where i < states.count {
            t.recipients[i].state = states[i]
        }
        return t
    }
}
