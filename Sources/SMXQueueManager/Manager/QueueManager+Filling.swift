import SMXStore

extension QueueManager {
    /// The first-level scheduler: fills the active queue per ``FillPlanner`` from the
    /// incoming queue (oldest first) and from the deferred recipients that are due
    /// (popped from the next-try cache, read from the deferred queue in one snapshot per
    /// fill), and repeats while a fill makes progress: a popped key may turn out to be a
    /// failed recipient (handed to the DSN pass, not admitted), which leaves room.
    func fill(now: Timestamp) throws(QueueManagerError) {
        guard let cache = nextTryCache else { return }
        while true {
            let due = cache.nextDueTime.map { $0 <= now.microsecondsSinceEpoch } == true ? Int.max : 0
            let plan = planner.plan(for: activeQueue, waitingIncoming: waitingIncoming, dueDeferred: due)
            guard plan.total > 0 else { return }
            var progress = false
            if plan.deferred > 0 {
                progress = try admitDeferred(limit: plan.deferred, cache: cache, now: now) > 0
            }
            if plan.incoming > 0 {
                progress = admitIncoming(limit: plan.incoming, now: now) > 0 || progress
            }
            guard progress else { return }
        }
    }

    /// Moves up to `limit` recipients from the head of the incoming queue into the active
    /// queue; returns how many.
    func admitIncoming(limit: Int, now: Timestamp) -> Int {
        var admitted = 0
        while admitted < limit, incomingHead < incomingOrder.count {
            let envelopeID = incomingOrder[incomingHead]
            guard let envelope = incoming[envelopeID] else {
                incomingHead += 1
                continue
            }
            var full = false
            let count = envelope.transaction.recipients.count
            var next = envelope.admitted
            while admitted < limit, next < count {
                let id = RecipientID(envelopeID, UInt32(next))
                if envelope.transaction.recipients[next].state == .pending {
                    do {
                        try activeQueue.admit(id, from: .incoming, now: now)
                    } catch {
                        full = true
                        break
                    }
                    toResolve.append(id)
                    admitted += 1
                }
                next += 1
                waitingIncoming -= 1
            }
            envelope.admitted = next
            if next == count { incomingHead += 1 }
            if full { break }
        }
        if incomingHead > 1_024, incomingHead * 2 > incomingOrder.count {
            incomingOrder.removeFirst(incomingHead)
            incomingHead = 0
        }
        return admitted
    }

    /// Pops up to `limit` due keys and admits their deferred recipients; failed ones go to
    /// the DSN pass's list, and stale keys (the record moved on) are dropped. Returns how
    /// many keys were taken (popped and not put back).
    func admitDeferred(limit: Int, cache: NextTryCache, now: Timestamp) throws(QueueManagerError) -> Int {
        let skipped = poppedKeys.union(failuresAwaitingReport.values)
        let source = SkippingNextTrySource(base: deferredQueue, skipped: skipped)
        let keys: [NextTryKey]
        do {
            keys = try cache.popDue(now: now.microsecondsSinceEpoch, limit: limit, refillFrom: source)
        } catch {
            throw .store(operation: "refilling the next-try cache", cause: error)
        }
        guard !keys.isEmpty else { return 0 }
        var putBack = 0
        do {
            let reader = try deferredQueue.reader()
            defer { reader.close() }
            var transactions: [EnvelopeID: DeferredTransaction] = [:]
            for key in keys {
                let id = RecipientID(key.envelopeID, key.recipient)
                guard let recipient = try reader.recipient(id), recipient.nextTryKey == key else { continue }
                switch recipient.status {
                case .failed:
                    failuresAwaitingReport[id] = key
                case .held:
                    continue
                case .deferred:
                    guard let transaction = try transactions[key.envelopeID] ?? reader.transaction(key.envelopeID) else { continue }
                    transactions[key.envelopeID] = transaction
                    do {
                        try activeQueue.admit(id, from: .deferred, now: now)
                    } catch {
                        // The plan said it fits; if not, the key goes back for a later fill.
                        cache.insert(key)
                        putBack += 1
                        continue
                    }
                    poppedKeys.insert(key)
                    deferredEntries[id] = DeferredEntry(recipient: recipient, transaction: transaction, key: key)
                    toResolve.append(id)
                }
            }
        } catch {
            throw .store(operation: "reading due deferred recipients", cause: error)
        }
        return keys.count - putBack
    }
}
