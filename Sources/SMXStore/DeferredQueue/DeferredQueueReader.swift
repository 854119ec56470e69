/// Reads one committed state of the deferred queue (a ``Snapshot`` underneath): records by
/// key, recipients in due order, by destination, the hold set, counts. Every answer comes
/// from the same commit. Stored records that do not decode throw
/// ``StoreError/Code/corrupted`` naming their key.
///
/// Close the reader (or let it go) when done: while it is open the pages of its state are
/// not reused.
public final class DeferredQueueReader: NextTrySource, Sendable {
    public let snapshot: Snapshot
    /// The file's path, for errors.
    let path: String

    init(_ snapshot: Snapshot, path: String) {
        self.snapshot = snapshot
        self.path = path
    }

    /// The transaction id of the state this reader sees.
    public var txid: UInt64 { snapshot.txid }

    public func close() { snapshot.close() }

    typealias Schema = DeferredQueueSchema

    public func transaction(_ id: EnvelopeID) throws -> DeferredTransaction? {
        guard let bytes = try snapshot.get(Schema.transactionKey(id), in: Schema.transactions) else { return nil }
        return try DeferredQueue.decodeTransaction(bytes, id: id, path: path)
    }

    public func recipient(_ id: RecipientID) throws -> DeferredRecipient? {
        guard let bytes = try snapshot.get(Schema.recipientKey(id), in: Schema.recipients) else { return nil }
        return try DeferredQueue.decodeRecipient(bytes, id: id, path: path)
    }

    /// The recipients of an envelope the queue holds, by index.
    public func recipients(of envelopeID: EnvelopeID) throws -> [DeferredRecipient] {
        let prefix = Schema.transactionKey(envelopeID)
        let cursor = try snapshot.cursor(Schema.recipients)
        var out: [DeferredRecipient] = []
        var more = try cursor.seek(prefix)
        while more, let key = cursor.key, key.starts(with: prefix) {
            guard let id = Schema.decodeRecipientKey(key), let value = try cursor.value() else {
                throw StoreError(.corrupted, "recipients tree: key of \(key.count) bytes", path: path)
            }
            out.append(try DeferredQueue.decodeRecipient(value, id: id, path: path))
            more = try cursor.next()
        }
        return out
    }

    /// Up to `limit` next-try index keys `>= from`, strictly increasing (``NextTrySource``).
    public func keys(from: NextTryKey, limit: Int) throws -> [NextTryKey] {
        guard limit > 0 else { return [] }
        return try scan(Schema.nextTry, from: Schema.nextTryKey(from), limit: limit) { key in
            guard let decoded = Schema.decodeNextTryKey(key) else {
                throw StoreError(.corrupted, "next-try index: key of \(key.count) bytes", path: path)
            }
            return decoded
        }
    }

    /// Decoded keys of `tree` from `start` on, in order, while `decode` returns one, at
    /// most `limit`.
    private func scan<T>(_ tree: String, from start: [UInt8], limit: Int, _ decode: ([UInt8]) throws -> T?) throws -> [T] {
        let cursor = try snapshot.cursor(tree)
        var out: [T] = []
        var more = try cursor.seek(start)
        while more, out.count < limit, let key = cursor.key, let decoded = try decode(key) {
            out.append(decoded)
            more = try cursor.next()
        }
        return out
    }

    /// Up to `limit` recipients due at or before `now` (µs since the epoch), in next-try
    /// order: deferred ones to try and failed ones whose bounce is due.
    public func due(now: UInt64, limit: Int) throws -> [DeferredRecipient] {
        var out: [DeferredRecipient] = []
        for key in try keys(from: .min, limit: limit) where key.nextTry <= now {
            let id = RecipientID(key.envelopeID, key.recipient)
            guard let recipient = try recipient(id) else {
                throw StoreError(.corrupted, "next-try index entry \(key) names no recipient", path: path)
            }
            out.append(recipient)
        }
        return out
    }

    /// Up to `limit` recipients whose destination is `destination`, by envelope and index.
    public func recipients(destination: String, limit: Int = .max) throws -> [RecipientID] {
        let prefix = Schema.destinationPrefix(destination)
        return try scan(Schema.destinations, from: prefix, limit: limit) { key in
            guard key.starts(with: prefix) else { return nil }
            guard let entry = Schema.decodeDestinationKey(key) else {
                throw StoreError(.corrupted, "destination index: malformed key of \(key.count) bytes", path: path)
            }
            return entry.id
        }
    }

    /// Up to `limit` held recipients at or after `from`, by envelope and index.
    public func held(from: RecipientID = RecipientID(EnvelopeID(0), 0), limit: Int = .max) throws -> [RecipientID] {
        try scan(Schema.hold, from: Schema.holdKey(from), limit: limit) { key in
            guard let id = Schema.decodeRecipientKey(key) else {
                throw StoreError(.corrupted, "hold set: key of \(key.count) bytes", path: path)
            }
            return id
        }
    }

    /// How many entries each tree holds (from the catalog: no scan).
    public func counts() throws -> DeferredQueueCounts {
        DeferredQueueCounts(
            transactions: try snapshot.count(Schema.transactions),
            recipients: try snapshot.count(Schema.recipients),
            scheduled: try snapshot.count(Schema.nextTry),
            held: try snapshot.count(Schema.hold)
        )
    }
}

/// Sizes of the deferred queue's trees. In a consistent queue `scheduled + held ==
/// recipients` and the destination index holds `recipients` entries.
public struct DeferredQueueCounts: Sendable, Equatable {
    public var transactions: Int
    public var recipients: Int
    /// Recipients with a next try (deferred or failed).
    public var scheduled: Int
    public var held: Int

    public init(transactions: Int, recipients: Int, scheduled: Int, held: Int) {
        self.transactions = transactions
        self.recipients = recipients
        self.scheduled = scheduled
        self.held = held
    }
}
