/// Applies ``DeferredQueueChange``s inside one write transaction, keeping every index
/// consistent with the records: each recipient change reads the stored record, removes
/// the index entries it implied and adds the ones the new record implies, and adjusts its
/// transaction's counters. Runs on the commit thread inside `BTreeFile.commit`; it throws
/// only when stored bytes are damaged (a record that does not decode), which fails the
/// whole commit and writes nothing.
struct SchemaWriter {
    let txn: WriteTransaction
    /// The file's path, for errors.
    let path: String
    /// Transactions read or changed by the current change (nil: absent or removed).
    private var transactions: [EnvelopeID: DeferredTransaction?] = [:]
    private var changedTransactions: Set<EnvelopeID> = []

    init(_ txn: WriteTransaction, path: String) {
        self.txn = txn
        self.path = path
    }

    typealias Schema = DeferredQueueSchema

    mutating func apply(_ change: DeferredQueueChange) throws -> DeferredQueueChangeResult {
        defer {
            transactions = [:]
            changedTransactions = []
        }
        var result = DeferredQueueChangeResult()
        switch change {
        case .add(let given, let recipients):
            result.createdEnvelope = try transaction(given.envelopeID) == nil
            result.recipients = try add(given, recipients)
        case .recordAttempt(let id, let attempt):
            if var recipient = try recipient(id) {
                let old = recipient
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
                try store(recipient, replacing: old)
                result.recipients = 1
            }
        case .remove(let id, let reason):
            if let old = try recipient(id) {
                try delete(old)
                if var transaction = try transaction(id.envelopeID) {
                    switch reason {
                    case .delivered: transaction.delivered &+= 1
                    case .bounced: transaction.bounced &+= 1
                    }
                    if transaction.queued == 0 {
                        result.releasedContent = transaction.content
                        setTransaction(id.envelopeID, nil)
                    } else {
                        setTransaction(id.envelopeID, transaction)
                    }
                }
                result.recipients = 1
            }
        case .hold(let selector):
            for var recipient in try select(selector) where recipient.status == .deferred {
                let old = recipient
                recipient.status = .held
                recipient.nextTry = nil
                try store(recipient, replacing: old)
                result.recipients += 1
            }
        case .release(let selector, let nextTry):
            for var recipient in try select(selector) where recipient.status == .held {
                let old = recipient
                recipient.status = .deferred
                recipient.nextTry = nextTry
                try store(recipient, replacing: old)
                result.recipients += 1
            }
        case .requeue(let selector, let nextTry):
            for var recipient in try select(selector) where recipient.status == .deferred && recipient.nextTry != nextTry {
                let old = recipient
                recipient.nextTry = nextTry
                try store(recipient, replacing: old)
                result.recipients += 1
            }
        case .noteDelayNotification(let envelopeID, let at):
            if var transaction = try transaction(envelopeID) {
                transaction.delayNotifiedMicros = at
                setTransaction(envelopeID, transaction)
                for var recipient in try select(.envelope(envelopeID)) where recipient.status != .failed && !recipient.delayReported {
                    let old = recipient
                    recipient.delayReported = true
                    try store(recipient, replacing: old)
                    result.recipients += 1
                }
            }
        case .fail(let selector, let reply, let reportAt):
            for var recipient in try select(selector) where recipient.status != .failed {
                let old = recipient
                recipient.status = .failed
                recipient.nextTry = reportAt
                recipient.lastReply = reply
                try store(recipient, replacing: old)
                result.recipients += 1
            }
        case .deleteEnvelope(let envelopeID):
            for recipient in try select(.envelope(envelopeID)) {
                try delete(recipient)
                result.recipients += 1
            }
            if let transaction = try transaction(envelopeID) {
                result.releasedContent = transaction.content
                setTransaction(envelopeID, nil)
            }
        }
        try flushTransactions()
        return result
    }

    private mutating func add(_ given: DeferredTransaction, _ recipients: [DeferredRecipient]) throws -> Int {
        let envelopeID = given.envelopeID
        var transaction: DeferredTransaction
        if var stored = try self.transaction(envelopeID) {
            stored.recipientCount = max(stored.recipientCount, given.recipientCount)
            transaction = stored
        } else {
            transaction = given
            transaction.deferred = 0
            transaction.held = 0
            transaction.failed = 0
        }
        setTransaction(envelopeID, transaction)
        var added = 0
        for recipient in recipients {
            guard try txn.get(Schema.recipientKey(recipient.id), in: Schema.recipients) == nil else { continue }
            try store(recipient, replacing: nil)
            added += 1
        }
        // An envelope's counters never account for more recipients than it has (a caller
        // re-adding a recipient that already left would otherwise overflow them).
        if var stored = self.transactions[envelopeID] ?? nil, stored.accounted > UInt64(stored.recipientCount) {
            stored.recipientCount = UInt32(clamping: stored.accounted)
            setTransaction(envelopeID, stored)
        }
        return added
    }

    // MARK: - Records and their index entries

    func recipient(_ id: RecipientID) throws -> DeferredRecipient? {
        guard let bytes = try txn.get(Schema.recipientKey(id), in: Schema.recipients) else { return nil }
        return try DeferredQueue.decodeRecipient(bytes, id: id, path: path)
    }

    private mutating func transaction(_ id: EnvelopeID) throws -> DeferredTransaction? {
        if let cached = transactions[id] { return cached }
        var value: DeferredTransaction?
        if let bytes = try txn.get(Schema.transactionKey(id), in: Schema.transactions) {
            value = try DeferredQueue.decodeTransaction(bytes, id: id, path: path)
        }
        transactions[id] = .some(value)
        return value
    }

    private mutating func setTransaction(_ id: EnvelopeID, _ value: DeferredTransaction?) {
        transactions[id] = .some(value)
        changedTransactions.insert(id)
    }

    private mutating func flushTransactions() throws {
        for id in changedTransactions.sorted() {
            if let transaction = transactions[id] ?? nil {
                try txn.put(Schema.transactionKey(id), transaction.encode(), in: Schema.transactions)
            } else {
                try txn.delete(Schema.transactionKey(id), in: Schema.transactions)
            }
        }
    }

    /// Adjusts the counter of `status` in the recipient's transaction by `delta`.
    private mutating func count(_ status: DeferredRecipient.Status, of envelopeID: EnvelopeID, _ delta: Int) throws {
        guard var transaction = try transaction(envelopeID) else { return }
        func adjust(_ value: inout UInt32) { value = delta > 0 ? value &+ 1 : (value == 0 ? 0 : value - 1) }
        switch status {
        case .deferred: adjust(&transaction.deferred)
        case .held: adjust(&transaction.held)
        case .failed: adjust(&transaction.failed)
        }
        setTransaction(envelopeID, transaction)
    }

    /// Writes `recipient` and its index entries, replacing `old` (the stored record of the
    /// same recipient, or nil for a new one) and the entries it had.
    private mutating func store(_ recipient: DeferredRecipient, replacing old: DeferredRecipient?) throws {
        let id = recipient.id
        try txn.put(Schema.recipientKey(id), recipient.encode(), in: Schema.recipients)
        if old?.nextTryKey != recipient.nextTryKey {
            if let key = old?.nextTryKey { try txn.delete(Schema.nextTryKey(key), in: Schema.nextTry) }
            if let key = recipient.nextTryKey { try txn.put(Schema.nextTryKey(key), [], in: Schema.nextTry) }
        }
        if old?.destination != recipient.destination {
            if let old { try txn.delete(Schema.destinationKey(old.destination, id), in: Schema.destinations) }
            try txn.put(Schema.destinationKey(recipient.destination, id), [], in: Schema.destinations)
        }
        let wasHeld = old?.status == .held
        if wasHeld != (recipient.status == .held) {
            if wasHeld {
                try txn.delete(Schema.holdKey(id), in: Schema.hold)
            } else {
                try txn.put(Schema.holdKey(id), [], in: Schema.hold)
            }
        }
        if old?.status != recipient.status {
            if let old { try count(old.status, of: id.envelopeID, -1) }
            try count(recipient.status, of: id.envelopeID, +1)
        }
    }

    /// Removes `recipient` (as stored), its index entries, and its count.
    private mutating func delete(_ recipient: DeferredRecipient) throws {
        let id = recipient.id
        try txn.delete(Schema.recipientKey(id), in: Schema.recipients)
        if let key = recipient.nextTryKey { try txn.delete(Schema.nextTryKey(key), in: Schema.nextTry) }
        try txn.delete(Schema.destinationKey(recipient.destination, id), in: Schema.destinations)
        if recipient.status == .held { try txn.delete(Schema.holdKey(id), in: Schema.hold) }
        try count(recipient.status, of: id.envelopeID, -1)
    }

    /// The stored recipients a selector names, read before any of them changes.
    private func select(_ selector: RecipientSelector) throws -> [DeferredRecipient] {
        var ids: [RecipientID] = []
        switch selector {
        case .recipient(let id):
            ids = [id]
        case .envelope(let envelopeID):
            let prefix = Schema.transactionKey(envelopeID)
            let cursor = try txn.cursor(Schema.recipients)
            var more = try cursor.seek(prefix)
            while more, let key = cursor.key, key.starts(with: prefix) {
                if let id = Schema.decodeRecipientKey(key) { ids.append(id) }
                more = try cursor.next()
            }
        case .destination(let destination):
            let prefix = Schema.destinationPrefix(destination)
            let cursor = try txn.cursor(Schema.destinations)
            var more = try cursor.seek(prefix)
            while more, let key = cursor.key, key.starts(with: prefix) {
                if let entry = Schema.decodeDestinationKey(key), entry.destination == destination { ids.append(entry.id) }
                more = try cursor.next()
            }
        }
        return try ids.compactMap { try recipient($0) }
    }
}
