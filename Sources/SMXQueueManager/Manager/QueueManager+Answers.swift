import SMXStore

extension QueueManager {
    /// Failed recipients the DSN pass reported, and who waits for the answer.
    typealias Report = ([RecipientID], CheckedContinuation<Result<Int, QueueManagerError>, Never>)

    /// Applies one event to the in-memory state: a new message joins the incoming queue
    /// with a reference to its body; a resolution moves its entry on, a resolver failure
    /// takes it out as a result; an agent result finishes its job in the destination table
    /// and takes its recipients out with their outcomes (a result that does not cover the
    /// job counts as a failed connection, a recipient it misses as temporarily failed).
    /// Answers for entries or jobs no longer waiting are counted as late and ignored.
    func handle(_ event: ManagerEvent, now: Timestamp, into results: inout [RecipientDisposition], reports: inout [Report]) {
        switch event {
        case .reported(let ids, let continuation):
            reports.append((ids, continuation))
        case .operation(let result):
            operationResults.append(result)
        case .accepted(let message):
            let transaction = message.transaction
            guard incoming[transaction.envelopeID] == nil, !transaction.recipients.isEmpty else { return }
            let envelope = IncomingEnvelope(transaction)
            incoming[transaction.envelopeID] = envelope
            incomingOrder.append(transaction.envelopeID)
            waitingIncoming += envelope.waiting
            references[transaction.content.id, default: 0] += 1
            totals.acceptedMessages += 1
            totals.acceptedRecipients += transaction.recipients.count
        case .resolved(let id, let resolution):
            apply(resolution, to: id, now: now, into: &results)
        case .delivered(let job, let result):
            guard jobs.removeValue(forKey: job.id) != nil else {
                totals.lateAnswers += 1
                return
            }
            // The usual result lists the job's recipients in the job's order; any other is
            // matched by id (the first result for a recipient counts).
            let inOrder = result.listsInOrder(job)
            let complete = inOrder || result.covers(job)
            destinations.finished(job.nextHop, outcome: complete ? result.connection : .failed, now: now, using: &random)
            var outcomes: [RecipientID: RecipientOutcome] = [:]
            if result.jobID == job.id, !inOrder {
                for recipient in result.recipients where outcomes[recipient.id] == nil { outcomes[recipient.id] = recipient.outcome }
            }
            for (position, recipient) in job.recipients.enumerated() {
                guard let entry = try? activeQueue.finished(recipient.id, job: job.id) else { continue }
                let outcome: RecipientDisposition.Outcome
                switch inOrder ? result.recipients[position].outcome : outcomes[recipient.id] {
                case .delivered(let reply): outcome = .delivered(reply)
                case .temporaryFailure(let reply): outcome = .temporaryFailure(reply)
                case .permanentFailure(let reply): outcome = .permanentFailure(reply)
                case nil: outcome = .temporaryFailure(.managerFailure(3, 0, "the delivery agent gave no result for this recipient"))
                }
                results.append(RecipientDisposition(id: recipient.id, source: entry.source, outcome: outcome, nextHop: job.nextHop))
            }
        }
    }

    /// Applies a resolver's answer to an entry awaiting it: it awaits a job at its
    /// destination, or leaves the active queue with the failure as its result. An answer
    /// for an entry no longer awaiting one is counted as late and ignored.
    func apply(_ resolution: Resolution, to id: RecipientID, now: Timestamp, into results: inout [RecipientDisposition]) {
        if case .deliver(let deliveryClass, let nextHop) = resolution {
            // `resolved` refuses an entry not awaiting its resolution: a late answer.
            do {
                try activeQueue.resolved(id, deliveryClass: deliveryClass, nextHop: nextHop, now: now)
                noteAwaitingJob(id, deliveryClass: deliveryClass, nextHop: nextHop)
            } catch {
                totals.lateAnswers += 1
            }
            return
        }
        guard let entry = activeQueue.entry(id), entry.state == .awaitingResolution else {
            totals.lateAnswers += 1
            return
        }
        switch resolution {
        case .deliver:
            return
        case .temporaryFailure(let reply):
            activeQueue.remove(id)
            fillAgain = true
            results.append(RecipientDisposition(id: id, source: entry.source, outcome: .temporaryFailure(reply), nextHop: nil))
        case .permanentFailure(let reply):
            activeQueue.remove(id)
            fillAgain = true
            results.append(RecipientDisposition(id: id, source: entry.source, outcome: .permanentFailure(reply), nextHop: nil))
        }
    }

    /// The seed's "Cleanup of Active Queue": entries that waited too long for the resolver
    /// or an agent leave with a temporary error; a timed-out job counts as a failed
    /// connection for its destination, and its late result is ignored.
    func cleanUp(now: Timestamp, into results: inout [RecipientDisposition]) {
        let expired = activeQueue.expired(now: now, resolverTimeout: configuration.resolverTimeout, agentTimeout: configuration.agentTimeout)
        for entry in expired {
            activeQueue.remove(entry.id)
            let reply: StatusReply
            if entry.state == .atAgent {
                if let jobID = entry.job, let job = jobs.removeValue(forKey: jobID) {
                    destinations.finished(job.nextHop, outcome: .failed, now: now, using: &random)
                }
                reply = .managerFailure(4, 1, "no result from the delivery agent within \(configuration.agentTimeout)")
            } else {
                reply = .managerFailure(4, 3, "no answer from the address resolver within \(configuration.resolverTimeout)")
            }
            totals.timedOut += 1
            results.append(RecipientDisposition(id: entry.id, source: entry.source, outcome: .temporaryFailure(reply), nextHop: entry.nextHop))
        }
    }
}
