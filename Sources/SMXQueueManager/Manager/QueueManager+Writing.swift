import SMXStore

extension QueueManager {
    /// Writes the results of one pass in the seed's order: one deferred-queue commit
    /// (adds first, then attempts and reschedules, then removals), durable, then the
    /// next-try cache, then one incoming-log commit (outcomes, and the close of every
    /// transaction whose recipients all have their result), then the releases of bodies
    /// whose last reference went (rules 2–4). `bounced` are failed recipients whose DSN
    /// the DSN pass reported: removed as `bounced` in the same commit; `delayMarks` are the
    /// envelopes whose delay notification is durable, marked (before the removals).
    func write(_ results: [RecipientDisposition], bounced: [DeferredRecipient] = [], delayMarks: [EnvelopeID] = [], now: Timestamp) async throws(QueueManagerError) {
        guard !results.isEmpty || !bounced.isEmpty || !delayMarks.isEmpty else { return }
        var addOrder: [EnvelopeID] = []
        var adds: [EnvelopeID: [DeferredRecipient]] = [:]
        var updates: [DeferredQueueChange] = []
        var removals: [DeferredQueueChange] = bounced.map { .remove($0.id, .bounced) }
        var newKeys: [NextTryKey] = []
        var finishedKeys: [NextTryKey] = []
        // Each with its envelope, looked up once (the loop changes it in place below). The
        // reference stays the one in `incoming` across the deferred-queue commit's await:
        // only this function removes envelopes from `incoming`, and passes do not overlap.
        var outcomes: [(RecipientID, RecipientState, StatusReply, IncomingEnvelope)] = []

        for result in results {
            switch result.source {
            case .incoming:
                guard let envelope = incoming[result.id.envelopeID], Int(result.id.index) < envelope.transaction.recipients.count else { continue }
                // The common case first.
                if case .delivered(let reply) = result.outcome {
                    outcomes.append((result.id, .delivered, reply, envelope))
                    continue
                }
                let recipient = envelope.transaction.recipients[Int(result.id.index)]
                let fate = fate(of: result, arrival: envelope.transaction.arrivalMicros, firstFailure: nil, address: recipient.address, now: now)
                func add(_ record: DeferredRecipient) {
                    if adds[result.id.envelopeID] == nil { addOrder.append(result.id.envelopeID) }
                    adds[result.id.envelopeID, default: []].append(record)
                    if let key = record.nextTryKey { newKeys.append(key) }
                }
                let destination = deferredDestination(result.nextHop, address: recipient.address)
                switch fate {
                case .delivered(let reply):
                    outcomes.append((result.id, .delivered, reply, envelope))
                case .deferred(let nextTry, let reply, let attempted):
                    let record = DeferredRecipient(
                        id: result.id, address: recipient.address, notify: recipient.notify, originalRecipient: recipient.originalRecipient,
                        destination: destination, status: .deferred, attempts: attempted ? 1 : 0,
                        firstFailureMicros: attempted ? now.microsecondsSinceEpoch : nil,
                        lastAttemptMicros: attempted ? now.microsecondsSinceEpoch : nil,
                        lastReply: reply.storedReply, nextTry: nextTry.microsecondsSinceEpoch
                    )
                    add(record)
                    noteDelay(of: record, sender: envelope.transaction.sender, arrival: envelope.transaction.arrivalMicros, now: now)
                    outcomes.append((result.id, .movedToDeferred, reply, envelope))
                case .failed(let reply, _):
                    add(DeferredRecipient(
                        id: result.id, address: recipient.address, notify: recipient.notify, originalRecipient: recipient.originalRecipient,
                        destination: destination, status: .failed, attempts: 1, firstFailureMicros: now.microsecondsSinceEpoch,
                        lastAttemptMicros: now.microsecondsSinceEpoch, lastReply: reply.storedReply, nextTry: now.microsecondsSinceEpoch
                    ))
                    outcomes.append((result.id, .failedPermanently, reply, envelope))
                }
            case .deferred:
                guard let entry = deferredEntries.removeValue(forKey: result.id) else { continue }
                finishedKeys.append(entry.key)
                let fate = fate(
                    of: result, arrival: entry.transaction.arrivalMicros, firstFailure: entry.recipient.firstFailureMicros,
                    address: entry.recipient.address, now: now
                )
                func key(_ nextTry: Timestamp) -> NextTryKey {
                    NextTryKey(nextTry: nextTry.microsecondsSinceEpoch, envelopeID: result.id.envelopeID, recipient: result.id.index)
                }
                switch fate {
                case .delivered:
                    removals.append(.remove(result.id, .delivered))
                case .deferred(let nextTry, let reply, let attempted):
                    if attempted {
                        updates.append(.recordAttempt(result.id, DeliveryAttempt(
                            atMicros: now.microsecondsSinceEpoch, reply: reply.storedReply, outcome: .retry(nextTry: nextTry.microsecondsSinceEpoch)
                        )))
                    } else {
                        updates.append(.requeue(.recipient(result.id), nextTry: nextTry.microsecondsSinceEpoch))
                    }
                    newKeys.append(key(nextTry))
                    noteDelay(of: entry.recipient, sender: entry.transaction.sender, arrival: entry.transaction.arrivalMicros, now: now)
                case .failed(let reply, _):
                    updates.append(.recordAttempt(result.id, DeliveryAttempt(
                        atMicros: now.microsecondsSinceEpoch, reply: reply.storedReply, outcome: .failed(reportAt: now.microsecondsSinceEpoch)
                    )))
                    newKeys.append(key(now))
                }
            }
        }

        // 1. The deferred queue, durable (rule 3: before any incoming-log mark).
        let changes = addOrder.compactMap { id -> DeferredQueueChange? in
            guard let envelope = incoming[id], let recipients = adds[id] else { return nil }
            return .add(envelope.deferredTransaction, recipients)
        } + updates + delayMarks.map { .noteDelayNotification($0, at: now.microsecondsSinceEpoch) } + removals
        var dropped: [ContentID] = []
        if !changes.isEmpty {
            let applied: [DeferredQueueChangeResult]
            do {
                applied = try await deferredQueue.apply(changes).results
            } catch {
                throw .store(operation: "deferred queue commit of \(changes.count) changes", cause: error)
            }
            // The commit's own results say which envelope records it created and removed, so
            // the counts stay true beside other writers (operations) of the same queue.
            for (change, result) in zip(changes, applied) {
                if result.createdEnvelope, case .add(let transaction, _) = change { references[transaction.content.id, default: 0] += 1 }
                if let released = result.releasedContent { dropped.append(released.id) }
            }
        }
        if let cache = nextTryCache {
            for record in bounced where failuresAwaitingReport.removeValue(forKey: record.id) == nil {
                if let key = record.nextTryKey { cache.remove(key) }
            }
            for key in finishedKeys { poppedKeys.remove(key) }
            for key in newKeys {
                cache.insert(key)
                if key.nextTry <= passTime.microsecondsSinceEpoch { fillAgain = true }
            }
        }

        // 2. The incoming log: outcomes (delivered ones may lag: rule 4), then closes. A
        // transaction closed by this commit gets its close record alone: the close says
        // every recipient has its result (delivered, or in the deferred queue, durable by
        // now), and its outcome records would leave the live set with it unread.
        var touched: [(id: EnvelopeID, envelope: IncomingEnvelope)] = []
        for (id, state, _, envelope) in outcomes {
            if envelope.transaction.recipients[Int(id.index)].state == .pending { envelope.remaining -= 1 }
            envelope.transaction.recipients[Int(id.index)].state = state
            if touched.last?.id != id.envelopeID { touched.append((id.envelopeID, envelope)) }
        }
        touched.sort { $0.id < $1.id }
        var closed: [(EnvelopeID, ContentID)] = []
        var closes: [LogRecord] = []
        for (position, (id, envelope)) in touched.enumerated() where position == 0 || touched[position - 1].id != id {
            guard envelope.isFinished else { continue }
            let completed = envelope.transaction.recipients.allSatisfy { $0.state == .delivered }
            closes.append(.closed(id, completed ? .completed : .movedToDeferred))
            closed.append((id, envelope.transaction.content.id))
        }
        var records: [LogRecord] = []
        // A finished envelope is closed by this commit (its close alone).
        for (id, state, reply, envelope) in outcomes where !envelope.isFinished {
            records.append(.outcome(id.envelopeID, recipient: Int(id.index), state, reply: reply.logText))
        }
        records += closes
        if !records.isEmpty {
            do {
                try await log.commit(records)
            } catch {
                throw .store(operation: "incoming log commit of \(records.count) records", cause: error)
            }
        }
        for (id, content) in closed {
            incoming[id] = nil
            dropped.append(content)
        }

        // 3. Bodies whose last reference went, now that the commits are durable (rule 2).
        try release(dropped)
        for result in results {
            switch result.outcome {
            case .delivered: totals.delivered += 1
            case .postponed: totals.postponed += 1
            case .temporaryFailure, .permanentFailure: break
            }
        }
        totals.bounced += bounced.count
    }

    /// Drops one reference per entry (each dropped by a durable commit) and releases the
    /// bodies whose count reached 0 (rule 2).
    func release(_ dropped: [ContentID]) throws(QueueManagerError) {
        var unreferenced: [ContentID] = []
        for content in dropped {
            guard let count = references[content] else { continue }
            if count > 1 {
                references[content] = count - 1
                continue
            }
            references[content] = nil
            unreferenced.append(content)
        }
        guard !unreferenced.isEmpty else { return }
        // One call for the pass: one lock, one wake of the store's flusher.
        do {
            try contentStore.release(unreferenced)
        } catch {
            throw .store(operation: "releasing \(unreferenced.count) bodies", cause: error)
        }
        totals.bodiesReleased += unreferenced.count
    }

    /// Applies what operations committed since the last pass (``operations(logger:)``): one
    /// reference less per envelope they removed, and the new next-try keys of the
    /// recipients they released, requeued or bounced (unless the active queue holds them:
    /// their result writes a key of its own); a requeued recipient's destination is marked
    /// up, so the retry is not postponed to the destination's own retry time.
    func applyOperations() throws(QueueManagerError) {
        guard !operationResults.isEmpty else { return }
        let applied = operationResults
        operationResults = []
        try release(applied.flatMap(\.envelopesRemoved).map(\.content.id))
        guard let cache = nextTryCache else { return }
        let rescheduled = applied.filter { [.release, .requeue, .bounce].contains($0.operation) }.flatMap(\.changed)
        guard !rescheduled.isEmpty else { return }
        do {
            let reader = try deferredQueue.reader()
            defer { reader.close() }
            let requeued = Set(applied.filter { $0.operation == .requeue }.flatMap(\.changed))
            for id in rescheduled where deferredEntries[id] == nil {
                guard let record = try reader.recipient(id) else { continue }
                // A requeue is the operator's word that the destination may work again
                // (Postfix's flush revives dead destinations too).
                if requeued.contains(id), let hop = NextHop(record.destination) { destinations.markUp(hop) }
                guard let key = record.nextTryKey, !poppedKeys.contains(key) else { continue }
                cache.insert(key)
            }
        } catch {
            throw .store(operation: "reading recipients an operation changed", cause: error)
        }
    }

    /// Applies the retry policy and the queue lifetime to a disposition. A temporary
    /// failure is retried at the destination's retry time when the destination is known
    /// down (every message waiting for it tries at the same moment: the seed's "Next Retry
    /// Time"), else at the policy's next try from the destination's (or the recipient's)
    /// first failure; never after the message's lifetime ends, and at or past it the
    /// recipient expires (a permanent failure, kept with its last reply).
    func fate(of result: RecipientDisposition, arrival: UInt64, firstFailure: UInt64?, address: String, now: Timestamp) -> RecipientFate {
        let reply: StatusReply
        var gate: Timestamp?
        switch result.outcome {
        case .delivered(let delivered):
            return .delivered(delivered)
        case .permanentFailure(let failure):
            totals.failed += 1
            return .failed(failure, expired: false)
        case .temporaryFailure(let failure):
            reply = failure
        case .postponed(let until, let failure):
            reply = failure
            gate = until
        }
        let arrivedAt = Timestamp(microsecondsSinceEpoch: arrival)
        let lifetimeEnd = arrivedAt + configuration.maximumQueueLifetime
        let host = result.nextHop?.host ?? StaticRouteResolver.domain(of: address)?.host ?? "invalid"
        let destination = result.nextHop.flatMap { destinations.state(of: $0) }
        let first = destination?.firstFailure ?? firstFailure.map(Timestamp.init(microsecondsSinceEpoch:)) ?? now
        guard now < lifetimeEnd,
            case .retry(let at, _, let expiresAt) = policy.decide(
                destination: host, firstFailure: first, messageArrival: arrivedAt, now: now, delayWarned: true, using: &random)
        else {
            totals.failed += 1
            totals.expired += 1
            return .failed(reply, expired: true)
        }
        var next = at
        if let gate {
            next = gate
        } else if let down = destination?.nextRetry, down > now {
            next = down
        }
        next = min(next, expiresAt, lifetimeEnd)
        if gate == nil { totals.deferred += 1 }
        return .deferred(nextTry: next, reply, attempted: gate == nil)
    }

    /// The deferred queue's destination for a recipient: its next hop when resolved, else
    /// its domain as startup writes it (`invalid` when it has none).
    func deferredDestination(_ nextHop: NextHop?, address: String) -> String {
        let name = nextHop?.name ?? QueueStartup.recipientDomain(address)
        return DeferredQueueSchema.destinationProblem(name) == nil ? name : "invalid"
    }
}
