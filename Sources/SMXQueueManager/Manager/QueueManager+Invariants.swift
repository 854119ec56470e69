import SMXStore

extension QueueManager {
    /// The manager's invariants, as code; tests call it after every step. Returns the
    /// problems found (empty when sound):
    ///
    /// 1. The active queue's, the destination table's and the next-try cache's own
    ///    invariants.
    /// 2. Every active-queue entry has its data: an incoming one a pending recipient of an
    ///    open incoming envelope already taken from the FIFO, a deferred one its record
    ///    and popped key; every job in flight has its recipients at an agent in it.
    /// 3. The waiting-incoming count matches the envelopes; each envelope's remaining
    ///    count matches its pending recipients.
    /// 4. Reference counts are positive, and every body of an open incoming envelope is
    ///    counted.
    /// 5. When idle (the active queue empty, no job in flight), the counts equal a recount
    ///    from the stores: one per deferred envelope and one per open incoming transaction
    ///    (what startup counts), and every counted body is live in the content store.
    ///
    /// Exact between passes (after ``waitUntilIdle(agentJobs:)``): while a pass awaits its
    /// store writes it may see a result half applied.
    public func verify() -> [String] {
        var problems = activeQueue.verify().map { "active queue: \($0)" }
        problems += destinations.verify().map { "destinations: \($0)" }
        if let cache = nextTryCache {
            do { try cache.verify() } catch { problems.append("next-try cache: \(error)") }
            for key in poppedKeys where cache.contains(key) { problems.append("popped key \(key) still in the cache") }
        }
        var waiting = 0
        for (id, envelope) in incoming {
            waiting += envelope.waiting
            let pending = envelope.transaction.recipients.count { $0.state == .pending }
            if pending != envelope.remaining { problems.append("incoming \(id): remaining \(envelope.remaining), pending \(pending)") }
            if (references[envelope.transaction.content.id] ?? 0) < 1 { problems.append("incoming \(id): body \(envelope.transaction.content.id) not referenced") }
        }
        if waiting != waitingIncoming { problems.append("waiting incoming \(waitingIncoming), envelopes say \(waiting)") }
        // Every entry awaiting a job is listed under its destination (or it would never
        // be dispatched).
        let listed = Set(awaitingJobs.flatMap { key, list in list.all.filter { isAwaitingJob($0, at: key) } })
        for entry in activeQueue.entries(in: .awaitingJob) where !listed.contains(entry.id) {
            problems.append("\(entry): awaiting a job but not listed under its destination")
        }
        for state in ActiveQueueEntry.State.allCases {
            for entry in activeQueue.entries(in: state) {
                switch entry.source {
                case .incoming:
                    guard let envelope = incoming[entry.id.envelopeID], Int(entry.id.index) < envelope.admitted,
                        envelope.transaction.recipients[Int(entry.id.index)].state == .pending
                    else {
                        problems.append("\(entry): no pending admitted incoming recipient")
                        continue
                    }
                case .deferred:
                    guard let data = deferredEntries[entry.id], poppedKeys.contains(data.key) else {
                        problems.append("\(entry): no deferred record or popped key")
                        continue
                    }
                }
            }
        }
        if deferredEntries.count != activeQueue.count(from: .deferred) {
            problems.append("\(deferredEntries.count) deferred records for \(activeQueue.count(from: .deferred)) deferred entries")
        }
        for (id, job) in jobs {
            for recipient in job.recipients where activeQueue.entry(recipient.id)?.job != id {
                problems.append("\(id): recipient \(recipient.id) not at the agent in it")
            }
        }
        for (content, count) in references where count < 1 { problems.append("body \(content): \(count) references") }
        if activeQueue.count == 0, jobs.isEmpty {
            problems += recountProblems()
        }
        return problems
    }

    /// Reference counts against a recount from the stores.
    func recountProblems() -> [String] {
        var recount: [ContentID: Int] = [:]
        do {
            let reader = try deferredQueue.reader()
            defer { reader.close() }
            for transaction in try reader.transactions() { recount[transaction.content.id, default: 0] += 1 }
        } catch {
            return ["recount: \(error)"]
        }
        for transaction in log.openTransactions() { recount[transaction.content.id, default: 0] += 1 }
        var problems: [String] = []
        if recount != references {
            problems.append("reference counts \(references.sorted { $0.key < $1.key }) differ from the stores' \(recount.sorted { $0.key < $1.key })")
        }
        for content in recount.keys where !contentStore.contains(content) { problems.append("referenced body \(content) is not live") }
        return problems
    }
}
