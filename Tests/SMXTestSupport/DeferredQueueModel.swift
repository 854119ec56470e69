import SMXStore

/// The deferred queue's schema as plain dictionaries: what ``DeferredQueue`` must hold after
/// the same ``DeferredQueueChange``s. Model-based and crash tests apply every change to
/// both and compare (records, every index, and each change's result).
public struct DeferredQueueModel: Equatable, Sendable {
    public var transactions: [EnvelopeID: DeferredTransaction] = [:]
    public var recipients: [RecipientID: DeferredRecipient] = [:]

    public init() {}

    /// Applies one change as the queue specifies it; returns the result the queue must give.
    public mutating func apply(_ change: DeferredQueueChange) -> DeferredQueueChangeResult {
        var result = DeferredQueueChangeResult()
        switch change {
        case .add(let given, let added):
            let envelopeID = given.envelopeID
            var transaction: DeferredTransaction
            result.createdEnvelope = transactions[envelopeID] == nil
            if var stored = transactions[envelopeID] {
                stored.recipientCount = max(stored.recipientCount, given.recipientCount)
                transaction = stored
            } else {
                transaction = given
                transaction.deferred = 0
                transaction.held = 0
                transaction.failed = 0
            }
            for recipient in added where recipients[recipient.id] == nil {
                recipients[recipient.id] = recipient
                Self.count(recipient.status, in: &transaction, +1)
                result.recipients += 1
            }
            if transaction.accounted > UInt64(transaction.recipientCount) {
                transaction.recipientCount = UInt32(clamping: transaction.accounted)
            }
            transactions[envelopeID] = transaction
        case .recordAttempt(let id, let attempt):
            guard var recipient = recipients[id] else { break }
            let old = recipient.status
            recipient.attempts &+= 1
            recipient.lastAttemptMicros = attempt.atMicros
            recipient.lastReply = attempt.reply
            if recipient.firstFailureMicros == nil { recipient.firstFailureMicros = attempt.atMicros }
            switch attempt.outcome {
            case .retry(let nextTry):
                if recipient.status == .deferred { recipient.nextTry = nextTry }
            case .failed(let reportAt):
                recipient.status = .failed
                recipient.nextTry = reportAt
            }
            setStatus(recipient, from: old)
            result.recipients = 1
        case .remove(let id, let reason):
            guard let old = recipients.removeValue(forKey: id) else { break }
            result.recipients = 1
            guard var transaction = transactions[id.envelopeID] else { break }
            Self.count(old.status, in: &transaction, -1)
            switch reason {
            case .delivered: transaction.delivered &+= 1
            case .bounced: transaction.bounced &+= 1
            }
            if transaction.queued == 0 {
                result.releasedContent = transaction.content
                transactions[id.envelopeID] = nil
            } else {
                transactions[id.envelopeID] = transaction
            }
        case .hold(let selector):
            for var recipient in select(selector) where recipient.status == .deferred {
                recipient.status = .held
                recipient.nextTry = nil
                setStatus(recipient, from: .deferred)
                result.recipients += 1
            }
        case .release(let selector, let nextTry):
            for var recipient in select(selector) where recipient.status == .held {
                recipient.status = .deferred
                recipient.nextTry = nextTry
                setStatus(recipient, from: .held)
                result.recipients += 1
            }
        case .requeue(let selector, let nextTry):
            for var recipient in select(selector) where recipient.status == .deferred && recipient.nextTry != nextTry {
                recipient.nextTry = nextTry
                recipients[recipient.id] = recipient
                result.recipients += 1
            }
        case .noteDelayNotification(let envelopeID, let at):
            guard transactions[envelopeID] != nil else { break }
            transactions[envelopeID]!.delayNotifiedMicros = at
            for var recipient in select(.envelope(envelopeID)) where recipient.status != .failed && !recipient.delayReported {
                recipient.delayReported = true
                recipients[recipient.id] = recipient
                result.recipients += 1
            }
        case .fail(let selector, let reply, let reportAt):
            for var recipient in select(selector) where recipient.status != .failed {
                let old = recipient.status
                recipient.status = .failed
                recipient.nextTry = reportAt
                recipient.lastReply = reply
                setStatus(recipient, from: old)
                result.recipients += 1
            }
        case .deleteEnvelope(let envelopeID):
            for recipient in select(.envelope(envelopeID)) {
                recipients[recipient.id] = nil
                result.recipients += 1
            }
            if let transaction = transactions.removeValue(forKey: envelopeID) {
                result.releasedContent = transaction.content
            }
        }
        return result
    }

    private static func count(_ status: DeferredRecipient.Status, in transaction: inout DeferredTransaction, _ delta: Int) {
        func adjust(_ value: inout UInt32) { value = delta > 0 ? value + 1 : value - 1 }
        switch status {
        case .deferred: adjust(&transaction.deferred)
        case .held: adjust(&transaction.held)
        case .failed: adjust(&transaction.failed)
        }
    }

    /// Stores `recipient` and moves its count from `old` to its status.
    private mutating func setStatus(_ recipient: DeferredRecipient, from old: DeferredRecipient.Status) {
        recipients[recipient.id] = recipient
        guard old != recipient.status, var transaction = transactions[recipient.id.envelopeID] else { return }
        Self.count(old, in: &transaction, -1)
        Self.count(recipient.status, in: &transaction, +1)
        transactions[recipient.id.envelopeID] = transaction
    }

    public func select(_ selector: RecipientSelector) -> [DeferredRecipient] {
        switch selector {
        case .recipient(let id):
            return recipients[id].map { [$0] } ?? []
        case .envelope(let envelopeID):
            return recipients.values.filter { $0.id.envelopeID == envelopeID }.sorted { $0.id < $1.id }
        case .destination(let destination):
            return recipients.values.filter { $0.destination == destination }.sorted { $0.id < $1.id }
        }
    }

    /// The next-try index the model implies, in order.
    public var nextTryKeys: [NextTryKey] { recipients.values.compactMap(\.nextTryKey).sorted() }

    /// The hold set the model implies, in order.
    public var heldRecipients: [RecipientID] { recipients.values.filter { $0.status == .held }.map(\.id).sorted() }

    /// Every destination with its recipients, in order.
    public var destinations: [String: [RecipientID]] {
        Dictionary(grouping: recipients.values, by: \.destination).mapValues { $0.map(\.id).sorted() }
    }

    /// Reads the whole queue through `reader` into a model (records only: compare the
    /// indexes with ``differences(from:)``).
    public static func read(_ reader: DeferredQueueReader) throws -> DeferredQueueModel {
        var model = DeferredQueueModel()
        let cursor = try reader.snapshot.cursor(DeferredQueueSchema.transactions)
        var more = try cursor.first()
        while more, let key = cursor.key {
            if let id = DeferredQueueSchema.decodeTransactionKey(key), let transaction = try reader.transaction(id) {
                model.transactions[id] = transaction
                for recipient in try reader.recipients(of: id) { model.recipients[recipient.id] = recipient }
            }
            more = try cursor.next()
        }
        return model
    }

    /// What differs between the queue `reader` sees and this model: records, the next-try
    /// index, the hold set, each destination's entries and the counts. Empty when equal.
    public func differences(from reader: DeferredQueueReader) throws -> [String] {
        var out: [String] = []
        let stored = try Self.read(reader)
        if stored.transactions != transactions {
            let ids = Set(stored.transactions.keys).union(transactions.keys).sorted()
            for id in ids where stored.transactions[id] != transactions[id] {
                out.append("transaction \(id): queue \(String(describing: stored.transactions[id])), model \(String(describing: transactions[id]))")
                if out.count > 5 { return out }
            }
        }
        if stored.recipients != recipients {
            let ids = Set(stored.recipients.keys).union(recipients.keys).sorted()
            for id in ids where stored.recipients[id] != recipients[id] {
                out.append("recipient \(id): queue \(String(describing: stored.recipients[id])), model \(String(describing: recipients[id]))")
                if out.count > 5 { return out }
            }
        }
        let keys = try reader.keys(from: .min, limit: .max)
        if keys != nextTryKeys { out.append("next-try index: queue \(keys.count) keys, model \(nextTryKeys.count)") }
        let held = try reader.held()
        if held != heldRecipients { out.append("hold set: queue \(held.count), model \(heldRecipients.count)") }
        for (destination, ids) in destinations where try reader.recipients(destination: destination) != ids {
            out.append("destination \(destination) differs")
        }
        let counts = try reader.counts()
        let expected = DeferredQueueCounts(
            transactions: transactions.count, recipients: recipients.count,
            scheduled: nextTryKeys.count, held: heldRecipients.count
        )
        if counts != expected { out.append("counts: queue \(counts), model \(expected)") }
        return out
    }
}
