import SMXStore

extension QueueManager {
    /// Resolves the recipients admitted this pass: a resolver that answers at once
    /// (``AddressResolver/resolveAtOnce(recipient:sender:)``, a table in memory) is applied
    /// here, so the recipient may get its job in this pass's dispatch; any other answer is
    /// awaited on a task of its own and comes back as an event.
    func resolveAdmitted(now: Timestamp, into results: inout [RecipientDisposition]) {
        let ids = toResolve
        toResolve = []
        let resolver = self.resolver
        let inbox = self.inbox
        for id in ids {
            guard let (address, sender) = addressAndSender(id) else { continue }
            if let resolution = resolver.resolveAtOnce(recipient: address, sender: sender) {
                apply(resolution, to: id, now: now, into: &results)
                continue
            }
            inbox.taskStarted(.resolution)
            Task.detached {
                let resolution = await resolver.resolve(recipient: address, sender: sender)
                inbox.taskFinished(.resolution, with: .resolved(id, resolution))
            }
        }
    }

    /// The address and the envelope's sender of an active-queue entry.
    func addressAndSender(_ id: RecipientID) -> (String, String)? {
        if let entry = deferredEntries[id] { return (entry.recipient.address, entry.transaction.sender) }
        guard let envelope = incoming[id.envelopeID], Int(id.index) < envelope.transaction.recipients.count else { return nil }
        return (envelope.transaction.recipients[Int(id.index)].address, envelope.transaction.sender)
    }

    /// Where a resolved recipient waits for a job: its delivery class and next hop.
    struct WaitingKey: Hashable {
        var deliveryClass: DeliveryClass
        var nextHop: NextHop
    }

    /// The recipients awaiting a job at one destination, grouped by envelope, envelopes in
    /// the order their first recipient was resolved. Ids of entries that moved on are
    /// dropped when their envelope is taken.
    struct WaitingList {
        private var order: [EnvelopeID] = []
        private var head = 0
        private(set) var recipients: [EnvelopeID: [RecipientID]] = [:]

        var isEmpty: Bool { recipients.isEmpty }

        mutating func append(_ id: RecipientID) {
            if let index = recipients.index(forKey: id.envelopeID) {
                recipients.values[index].append(id)
            } else {
                order.append(id.envelopeID)
                recipients[id.envelopeID] = [id]
            }
        }

        /// The first envelope's recipients, without taking them.
        func first() -> (EnvelopeID, [RecipientID])? {
            var index = head
            while index < order.count {
                if let ids = recipients[order[index]] { return (order[index], ids) }
                index += 1
            }
            return nil
        }

        /// Takes the first envelope and its recipients.
        mutating func popFirst() -> (EnvelopeID, [RecipientID])? {
            while head < order.count {
                let envelopeID = order[head]
                head += 1
                if let ids = recipients.removeValue(forKey: envelopeID) {
                    if head > 1_024, head * 2 > order.count {
                        order.removeFirst(head)
                        head = 0
                    }
                    return (envelopeID, ids)
                }
            }
            order.removeAll(keepingCapacity: true)
            head = 0
            return nil
        }

        /// Puts an envelope taken by ``popFirst()`` back in front.
        mutating func pushFront(_ envelopeID: EnvelopeID, _ ids: [RecipientID]) {
            if let present = recipients[envelopeID] {
                recipients[envelopeID] = ids + present
                return
            }
            recipients[envelopeID] = ids
            if head > 0 {
                head -= 1
                order[head] = envelopeID
            } else {
                order.insert(envelopeID, at: 0)
            }
        }

        /// Every id listed (for verify()).
        var all: [RecipientID] { recipients.values.flatMap { $0 } }
    }

    /// Notes a recipient that now awaits a job (the resolver answered).
    func noteAwaitingJob(_ id: RecipientID, deliveryClass: DeliveryClass, nextHop: NextHop) {
        awaitingJobs[WaitingKey(deliveryClass: deliveryClass, nextHop: nextHop), default: WaitingList()].append(id)
    }

    /// Whether `id` still awaits a job at `key` (entries leave the lists lazily).
    func isAwaitingJob(_ id: RecipientID, at key: WaitingKey) -> Bool {
        guard let entry = activeQueue.entry(id) else { return false }
        return entry.state == .awaitingJob && entry.nextHop == key.nextHop && entry.deliveryClass == key.deliveryClass
    }

    /// The second-level scheduler: per destination (delivery class and next hop), the
    /// recipients awaiting a job, grouped by envelope in the order they were resolved,
    /// become jobs while the destination allows one more (the others wait until a result
    /// frees it); destinations are taken longest waiting first. A pass costs what it
    /// starts: a destination at its limit costs one lookup, whatever waits for it. A
    /// destination known down until a later time defers its recipients to that time
    /// untried (the seed: "all entries for the same destination will be removed from
    /// active queue"); the `discard` class delivers without an agent.
    func dispatch(now: Timestamp, into results: inout [RecipientDisposition]) {
        guard !awaitingJobs.isEmpty else { return }
        var order: [(since: Timestamp, id: RecipientID, key: WaitingKey)] = []
        for (key, var list) in awaitingJobs {
            // Drop leading envelopes none of whose recipients still waits.
            var oldest: ActiveQueueEntry?
            while oldest == nil, let (_, ids) = list.first() {
                oldest = ids.first { isAwaitingJob($0, at: key) }.flatMap { activeQueue.entry($0) }
                if oldest == nil { _ = list.popFirst() }
            }
            guard let oldest else {
                awaitingJobs[key] = nil
                continue
            }
            awaitingJobs[key] = list
            order.append((oldest.since, oldest.id, key))
        }
        order.sort { $0.since != $1.since ? $0.since < $1.since : $0.id < $1.id }
        for (_, _, key) in order {
            let gated = destinations.nextRetry(key.nextHop).map { $0 > now } == true
            guard key.deliveryClass == .discard || gated || destinations.canStart(key.nextHop, now: now) else { continue }
            guard var list = awaitingJobs.removeValue(forKey: key) else { continue }
            defer { if !list.isEmpty { awaitingJobs[key] = list } }
            while let (envelopeID, listed) = list.popFirst() {
                // An id is listed twice when its entry left and came back to the same
                // destination before the old listing was dropped: a set beyond a handful.
                var seen = Set<RecipientID>()
                var envelope: DeliveryEnvelope?
                var recipients: [JobRecipient] = []
                recipients.reserveCapacity(listed.count)
                for (position, id) in listed.enumerated() where isAwaitingJob(id, at: key) {
                    guard listed.count <= 16 ? !listed[..<position].contains(id) : seen.insert(id).inserted else { continue }
                    guard let recipient = jobRecipient(id) else { continue }
                    if envelope == nil { envelope = deliveryEnvelope(id) }
                    recipients.append(recipient)
                }
                guard let envelope else { continue }
                var left: [RecipientID] = []
                for job in jobBuilder.jobs(for: envelope, deliveryClass: key.deliveryClass, nextHop: key.nextHop, recipients: recipients) {
                    if !left.isEmpty || !start(job, gated: gated, now: now, into: &results) { left += job.recipients.map(\.id) }
                }
                if !left.isEmpty {
                    list.pushFront(envelopeID, left)
                    break
                }
            }
        }
    }

    /// Delivers a discard job at once, postpones a gated one, or starts it at an agent;
    /// false when its destination takes no more jobs now (its recipients keep waiting).
    func start(_ job: DeliveryJob, gated: Bool, now: Timestamp, into results: inout [RecipientDisposition]) -> Bool {
        var sources: [(RecipientID, ActiveQueueEntry.Source)] {
            job.recipients.compactMap { activeQueue.entry($0.id).map { ($0.id, $0.source) } }
        }
        if job.deliveryClass == .discard {
            fillAgain = true
            for (id, source) in sources {
                activeQueue.remove(id)
                results.append(RecipientDisposition(id: id, source: source, outcome: .delivered(.discarded), nextHop: job.nextHop))
            }
            return true
        }
        if gated, let gate = destinations.nextRetry(job.nextHop) {
            fillAgain = true
            let reply = StatusReply.managerFailure(4, 1, "\(job.nextHop) is not tried before its retry time")
            for (id, source) in sources {
                activeQueue.remove(id)
                results.append(RecipientDisposition(id: id, source: source, outcome: .postponed(until: gate, reply), nextHop: job.nextHop))
            }
            return true
        }
        guard destinations.started(job.nextHop, now: now) else { return false }
        do {
            try activeQueue.dispatched(job.recipients.map(\.id), job: job.id, now: now)
        } catch {
            // Cannot happen for entries just checked as awaiting a job; give the slot back.
            destinations.finished(job.nextHop, outcome: .connected, now: now, using: &random)
            return true
        }
        jobs[job.id] = job
        totals.jobsStarted += 1
        inbox.taskStarted(.job)
        jobsToHandOut.append(job)
        return true
    }

    /// Hands the jobs the pass started to the agent, in one call on a task of its own
    /// (``DeliveryAgent/deliver(_:report:)``); each result comes back as an event.
    func handOutJobs() {
        guard !jobsToHandOut.isEmpty else { return }
        let batch = jobsToHandOut
        jobsToHandOut = []
        let agent = self.agent
        let inbox = self.inbox
        Task.detached {
            await agent.deliver(batch) { job, result in inbox.taskFinished(.job, with: .delivered(job, result)) }
        }
    }

    /// The job recipient of an active-queue entry, from the queue it came from.
    func jobRecipient(_ id: RecipientID) -> JobRecipient? {
        if let entry = deferredEntries[id] {
            let r = entry.recipient
            return JobRecipient(id: id, address: r.address, notify: r.notify, originalRecipient: r.originalRecipient)
        }
        guard let envelope = incoming[id.envelopeID], Int(id.index) < envelope.transaction.recipients.count else { return nil }
        let r = envelope.transaction.recipients[Int(id.index)]
        return JobRecipient(id: id, address: r.address, notify: r.notify, originalRecipient: r.originalRecipient)
    }

    /// The envelope of an active-queue entry, from the queue it came from.
    func deliveryEnvelope(_ id: RecipientID) -> DeliveryEnvelope? {
        if let entry = deferredEntries[id] {
            let t = entry.transaction
            return DeliveryEnvelope(envelopeID: t.envelopeID, sender: t.sender, mail: t.mail, content: t.content)
        }
        guard let envelope = incoming[id.envelopeID] else { return nil }
        return DeliveryEnvelope(
            envelopeID: id.envelopeID, sender: envelope.transaction.sender, mail: envelope.transaction.mail, content: envelope.transaction.content)
    }
}
