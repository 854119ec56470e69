/// Walking every envelope of the deferred queue: what recovery needs to check each
/// envelope's body and to recount the bodies' references, and what `smx-qdump` lists.
extension DeferredQueueReader {
    /// Up to `limit` transactions with an envelope id greater than `after` (all of them
    /// from the start when nil), by envelope id. Page through the queue by passing the last
    /// id returned; fewer than `limit` means the walk reached the end. Every answer comes
    /// from this reader's one committed state.
    ///
    /// Throws ``StoreError/Code/corrupted`` when a key of the transactions tree has the
    /// wrong size or a record does not decode or names another envelope.
    public func transactions(after: EnvelopeID? = nil, limit: Int = .max) throws -> [DeferredTransaction] {
        guard limit > 0 else { return [] }
        let start: [UInt8]
        if let after {
            guard after.rawValue < .max else { return [] }
            start = Schema.transactionKey(EnvelopeID(after.rawValue + 1))
        } else {
            start = []
        }
        let cursor = try snapshot.cursor(Schema.transactions)
        var out: [DeferredTransaction] = []
        var more = try cursor.seek(start)
        while more, out.count < limit, let key = cursor.key {
            guard let id = Schema.decodeTransactionKey(key), let value = try cursor.value() else {
                throw StoreError(.corrupted, "transactions tree: key of \(key.count) bytes", path: path)
            }
            out.append(try DeferredQueue.decodeTransaction(value, id: id, path: path))
            more = try cursor.next()
        }
        return out
    }
}
