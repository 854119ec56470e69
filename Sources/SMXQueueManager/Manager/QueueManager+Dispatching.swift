import SMXStore

extension QueueManager {
    /// Sends the recipients admitted this pass to the resolver, each on its own task.
    func resolveAdmitted() {
        let ids = toResolve
        toResolve = []
        for id in ids {
            guard let (recipient, envelope) = jobParts(id) else { continue }
            let resolver = self.resolver
            let inbox = self.inbox
            inbox.taskStarted(.resolution)
            Task.detached {
                let resolution = await resolver.resolve(recipient: recipient.address, sender: envelope.sender)
                inbox.taskFinished(.resolution, with: .resolved(id, resolution))
            }
        }
    }

    /// The second-level scheduler: the resolved entries, longest waiting first, grouped
    /// by envelope, become jobs; a job starts when its destination allows one more (its
    /// recipients wait in the active queue otherwise, until a result frees the
    /// destination). A destination known down until later defers its recipients to that
    /// time untried (the seed: "all entries for the same destination will be removed from
    /// active queue"); the `discard` class delivers without an agent.
    func dispatch(now: Timestamp, into results: inout [RecipientDisposition]) {
        let waiting = activeQueue.entries(in: .awaitingJob)
        guard !waiting.isEmpty else { return }
        var order: [EnvelopeID] = []
        var groups: [EnvelopeID: [ActiveQueueEntry]] = [:]
        for entry in waiting {
            if groups[entry.id.envelopeID] == nil { order.append(entry.id.envelopeID) }
            groups[entry.id.envelopeID, default: []].append(entry)
        }
        for envelopeID in order {
            var envelope: DeliveryEnvelope?
            var resolved: [ResolvedRecipient] = []
            for entry in groups[envelopeID] ?? [] {
                guard let deliveryClass = entry.deliveryClass, let nextHop = entry.nextHop else { continue }
                // A destination at its limit (not one to postpone to its retry time, not
                // the discard class) takes no job this pass: its recipients keep waiting,
                // as `started` below would leave them, without building their job first,
                // so a pass costs what it can start, not what waits.
                if deliveryClass != .discard, destinations.nextRetry(nextHop).map({ $0 > now }) != true,
                    !destinations.canStart(nextHop, now: now)
                {
                    continue
                }
                guard let (recipient, parts) = jobParts(entry.id) else { continue }
                envelope = envelope ?? parts
                resolved.append(ResolvedRecipient(recipient, deliveryClass: deliveryClass, nextHop: nextHop))
            }
            guard let envelope else { continue }
            for job in jobBuilder.jobs(for: envelope, recipients: resolved) {
                let sources = job.recipients.compactMap { activeQueue.entry($0.id).map { ($0.id, $0.source) } }
                if job.deliveryClass == .discard {
                    for (id, source) in sources {
                        activeQueue.remove(id)
                        results.append(RecipientDisposition(id: id, source: source, outcome: .delivered(.discarded), nextHop: job.nextHop))
                    }
                    continue
                }
                if let gate = destinations.nextRetry(job.nextHop), gate > now {
                    let reply = StatusReply.managerFailure(4, 1, "\(job.nextHop) is not tried before its retry time")
                    for (id, source) in sources {
                        activeQueue.remove(id)
                        results.append(RecipientDisposition(id: id, source: source, outcome: .postponed(until: gate, reply), nextHop: job.nextHop))
                    }
                    continue
                }
                guard destinations.started(job.nextHop, now: now) else { continue }
                do {
                    try activeQueue.dispatched(job.recipients.map(\.id), job: job.id, now: now)
                } catch {
                    // Cannot happen for entries just listed as awaiting a job; give the slot back.
                    destinations.finished(job.nextHop, outcome: .connected, now: now, using: &random)
                    continue
                }
                jobs[job.id] = job
                totals.jobsStarted += 1
                let agent = self.agent
                let inbox = self.inbox
                inbox.taskStarted(.job)
                Task.detached {
                    let result = await agent.deliver(job)
                    inbox.taskFinished(.job, with: .delivered(job, result))
                }
            }
        }
    }

    /// The job recipient and envelope of an active-queue entry, from the queue it came from.
    func jobParts(_ id: RecipientID) -> (JobRecipient, DeliveryEnvelope)? {
        if let entry = deferredEntries[id] {
            let r = entry.recipient
            let t = entry.transaction
            return (
                JobRecipient(id: id, address: r.address, notify: r.notify, originalRecipient: r.originalRecipient),
                DeliveryEnvelope(envelopeID: t.envelopeID, sender: t.sender, mail: t.mail, content: t.content)
            )
        }
        guard let envelope = incoming[id.envelopeID], Int(id.index) < envelope.transaction.recipients.count else { return nil }
        let t = envelope.transaction
        let r = t.recipients[Int(id.index)]
        return (
            JobRecipient(id: id, address: r.address, notify: r.notify, originalRecipient: r.originalRecipient),
            DeliveryEnvelope(envelopeID: t.envelopeID, sender: t.sender, mail: t.mail, content: t.content)
        )
    }
}
