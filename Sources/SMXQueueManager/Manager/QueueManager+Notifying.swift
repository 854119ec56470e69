import SMXStore

extension QueueManager {
    /// What the pass's notifications add to its deferred-queue commit: the recipients now
    /// reported (or whose report NOTIFY suppresses, or that are dropped), removed as
    /// `bounced`; the envelopes whose delayed recipients were warned, marked.
    struct NotificationWrites {
        var bounced: [DeferredRecipient] = []
        var delayMarks: [EnvelopeID] = []
    }

    /// How long the manager waits before it tries again to send notifications that the
    /// receiving side did not take.
    static let notificationRetryDelay = Duration.minutes(1)

    /// The manager has notifications to send now: the loop runs another pass at once
    /// instead of sleeping.
    var owesNotificationsNow: Bool {
        guard notifier != nil, notificationsRetryAt == nil else { return false }
        if !delayOwed.isEmpty { return true }
        guard !failuresAwaitingReport.isEmpty else { return false }
        let busy = busyEnvelopes
        return failuresAwaitingReport.keys.contains { !busy.contains($0.envelopeID) }
    }

    /// Envelopes with a recipient whose result is not committed yet: one in the active
    /// queue, or one from the incoming queue not yet there. Their failures wait, so that
    /// one notification reports every recipient that fails in the same round of delivery
    /// (the entries' timeouts bound the wait).
    var busyEnvelopes: Set<EnvelopeID> {
        var busy = Set(deferredEntries.keys.map(\.envelopeID))
        for id in Set(failuresAwaitingReport.keys.map(\.envelopeID)) where (incoming[id]?.remaining ?? 0) > 0 { busy.insert(id) }
        return busy
    }

    /// Step 4 of a pass when ``QueueManagerConfiguration/notifications`` is set, before its
    /// writes: sends the success notifications of this pass's deliveries, then, per
    /// envelope with a failure due or a delay warning owed, the one notification it calls
    /// for (``NotificationPass/plan(_:_:now:)``), all at once so the incoming log's group
    /// commit takes them together. Each is durable (rule 1) before this returns; the
    /// removals and marks ride on the pass's deferred-queue commit, after it (the seed:
    /// a DSN is safely queued before the recipients it reports go). A crash between the two
    /// sends the notification again after the restart: a duplicate, never a loss.
    ///
    /// A notification the receiving side does not take leaves its envelope's recipients
    /// as they are, and the manager tries again after ``notificationRetryDelay``; a success
    /// notification that fails is counted (``QueueManagerStatistics/Totals/notificationsLost``)
    /// and its deliveries are recorded anyway.
    func notify(results: [RecipientDisposition], now: Timestamp) async throws(QueueManagerError) -> NotificationWrites {
        var writes = NotificationWrites()
        guard let notifier else { return writes }
        let delivered = deliveredMessages(results, now: now)
        if let at = notificationsRetryAt, at <= now { notificationsRetryAt = nil }
        var owed: [(DeferredTransaction, NotificationPass.Plan)] = []
        if notificationsRetryAt == nil {
            owed = try owedNotifications(notifier, now: now, into: &writes)
        }
        guard !delivered.isEmpty || !owed.isEmpty else { return writes }

        enum Sent: Sendable {
            case success(SentNotification?)
            case owed(Int, SentNotification?)
            case failed(Int?, NotificationPassError)
        }
        let answers = await withTaskGroup(of: Sent.self, returning: [Sent].self) { group in
            for message in delivered {
                group.addTask {
                    do throws(NotificationPassError) {
                        return .success(try await notifier.notifyDelivered(message, now: now))
                    } catch {
                        return .failed(nil, error)
                    }
                }
            }
            for (n, (transaction, plan)) in owed.enumerated() {
                group.addTask {
                    do throws(NotificationPassError) {
                        return .owed(n, try await notifier.send(plan, about: transaction, now: now))
                    } catch {
                        return .failed(n, error)
                    }
                }
            }
            var answers: [Sent] = []
            for await answer in group { answers.append(answer) }
            return answers
        }
        var done = Array(repeating: false, count: owed.count)
        for answer in answers {
            switch answer {
            case .success(let sent):
                if sent != nil { totals.notificationsSent += 1 }
            case .owed(let n, let sent):
                done[n] = true
                if sent != nil { totals.notificationsSent += 1 }
            case .failed(let n, let error):
                totals.notificationsFailed += 1
                if n == nil { totals.notificationsLost += 1 }
                lastNotificationError = "\(error)"
                notificationsRetryAt = now + Self.notificationRetryDelay
            }
        }
        for (n, (transaction, plan)) in owed.enumerated() where done[n] {
            writes.bounced += plan.removed
            if !plan.delayed.isEmpty {
                writes.delayMarks.append(transaction.envelopeID)
                totals.delayWarned += plan.delayed.count
            }
            delayOwed.remove(transaction.envelopeID)
        }
        return writes
    }

    /// Reads the envelopes with a failure awaiting its report or a delay warning possibly
    /// owed, and plans each one's notification. Failures whose record moved on (an
    /// operation removed or released it) are forgotten; envelopes that owe nothing leave
    /// the delay list.
    func owedNotifications(_ notifier: NotificationPass, now: Timestamp, into writes: inout NotificationWrites) throws(QueueManagerError) -> [(DeferredTransaction, NotificationPass.Plan)] {
        let busy = busyEnvelopes
        let envelopes = Set(failuresAwaitingReport.keys.map(\.envelopeID)).subtracting(busy).union(delayOwed).sorted()
        guard !envelopes.isEmpty else { return [] }
        var owed: [(DeferredTransaction, NotificationPass.Plan)] = []
        do {
            let reader = try deferredQueue.reader()
            defer { reader.close() }
            for envelopeID in envelopes {
                guard let transaction = try reader.transaction(envelopeID) else {
                    forget(envelopeID)
                    continue
                }
                let plan = notifier.plan(transaction, try reader.recipients(of: envelopeID), now: now)
                let planned = Set(plan.removals)
                for id in failuresAwaitingReport.keys where id.envelopeID == envelopeID && !planned.contains(id) {
                    failuresAwaitingReport[id] = nil
                }
                if plan.reported.isEmpty && plan.delayed.isEmpty {
                    // Nothing to send: suppressed or dropped failures go at once.
                    writes.bounced += plan.removed
                    delayOwed.remove(envelopeID)
                    continue
                }
                owed.append((transaction, plan))
            }
        } catch {
            throw .store(operation: "reading recipients owed a notification", cause: error)
        }
        return owed
    }

    /// Drops an envelope that left the deferred queue from the notification lists.
    func forget(_ envelopeID: EnvelopeID) {
        for id in failuresAwaitingReport.keys where id.envelopeID == envelopeID { failuresAwaitingReport[id] = nil }
        delayOwed.remove(envelopeID)
    }

    /// This pass's deliveries whose recipients asked for a success notification, one
    /// message per envelope (read before the pass's writes, while the entries are known).
    func deliveredMessages(_ results: [RecipientDisposition], now: Timestamp) -> [DeliveredMessage] {
        var order: [EnvelopeID] = []
        var messages: [EnvelopeID: DeliveredMessage] = [:]
        for result in results {
            guard case .delivered(let reply) = result.outcome else { continue }
            let envelopeID = result.id.envelopeID
            let recipient: DeliveredRecipient
            let message: DeliveredMessage
            switch result.source {
            case .incoming:
                guard let envelope = incoming[envelopeID], Int(result.id.index) < envelope.transaction.recipients.count else { continue }
                let stored = envelope.transaction.recipients[Int(result.id.index)]
                recipient = DeliveredRecipient(
                    id: result.id, address: stored.address, notify: stored.notify, originalRecipient: stored.originalRecipient,
                    reply: reply, at: now
                )
                message = DeliveredMessage(envelope.transaction, recipients: [])
            case .deferred:
                guard let entry = deferredEntries[result.id] else { continue }
                recipient = DeliveredRecipient(
                    id: result.id, address: entry.recipient.address, notify: entry.recipient.notify,
                    originalRecipient: entry.recipient.originalRecipient, reply: reply, at: now
                )
                message = DeliveredMessage(entry.transaction, recipients: [])
            }
            guard recipient.wantsSuccessNotification, !message.sender.isEmpty else { continue }
            if messages[envelopeID] == nil {
                order.append(envelopeID)
                messages[envelopeID] = message
            }
            messages[envelopeID]?.recipients.append(recipient)
        }
        return order.compactMap { messages[$0] }
    }

    /// Called by the writes for a recipient that stays deferred: when its envelope may now
    /// owe a delay warning (a real sender, NOTIFY asking for delays, not yet warned, and
    /// the message older than its destination's warning time), the envelope goes on the
    /// list the next pass plans from.
    func noteDelay(of recipient: DeferredRecipient, sender: String, arrival: UInt64, now: Timestamp) {
        guard notifier != nil, !sender.isEmpty, !recipient.delayReported, recipient.wantsDelayNotification,
            let warnAfter = policy.rule(for: recipient.destination).warnAfter,
            now >= Timestamp(microsecondsSinceEpoch: arrival) + warnAfter
        else { return }
        delayOwed.insert(recipient.id.envelopeID)
    }
}
