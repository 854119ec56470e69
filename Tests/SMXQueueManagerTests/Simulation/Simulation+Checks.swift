import SMXQueueManager
import SMXStore
import SMXTestSupport

/// The simulation's checker: after every step (``checkStep()``), the drain when every
/// destination comes back (``drain()``), and at the end (``finalChecks()``).
extension Simulation {
    /// After a step, with the manager settled:
    /// - the manager's and the deferred queue's own invariants (`verify()`);
    /// - **retry times**: every deferred recipient's next try is at most one interval
    ///   stretched by the fuzz after now, and not past its message's lifetime; one whose
    ///   attempt was recorded since the last scan is retried no earlier than that attempt
    ///   and at most that long after it; a failed one's report time has come;
    /// - **fairness**: the active queue within its capacity and its deferred maximum; and
    ///   when it is at or below its low watermark (a fill ran and could take more), no
    ///   incoming recipient waits, and no due deferred recipient waits unless the deferred
    ///   entries are at their maximum (so the reserve was served).
    func checkStep() async {
        guard !failed else { return }
        for text in await manager.verify() { problem("verify: \(text)") }
        if step % 5 == 0 {
            let verification = stores.deferred.verify()
            if !verification.isClean { problem("deferred queue: \(verification.allProblems.prefix(3))") }
        }
        guard let due = scanDeferred() else { return }
        let statistics = await manager.statistics()
        let deferredEntries = statistics.activeQueue[.deferred]?.values.reduce(0, +) ?? 0
        let configuration = Self.activeQueue
        if statistics.activeQueueCount > configuration.capacity { problem("active queue holds \(statistics.activeQueueCount) > capacity") }
        if deferredEntries > configuration.maximumDeferred { problem("active queue holds \(deferredEntries) deferred entries > maximum \(configuration.maximumDeferred)") }
        if statistics.activeQueueCount <= configuration.lowWatermark {
            if statistics.incomingWaiting > 0 {
                problem("\(statistics.incomingWaiting) incoming recipients wait while the active queue holds only \(statistics.activeQueueCount)")
            }
            if due > deferredEntries, deferredEntries < configuration.maximumDeferred {
                problem("\(due - deferredEntries) due deferred recipients wait while the active queue holds \(statistics.activeQueueCount) (\(deferredEntries) deferred)")
            }
        }
    }

    /// The retry-time checks of ``checkStep()`` (run at every stop of the clock, so that an
    /// attempt and a later postponement of the same recipient are seen apart); returns how
    /// many deferred recipients are due, nil when the deferred queue could not be read.
    func scanDeferred() -> Int? {
        let now = self.now
        var due = 0
        var nextDue: UInt64?
        var current: [RecipientID: (UInt32, UInt64?, UInt64?)] = [:]
        do {
            let reader = try stores.deferred.reader()
            defer { reader.close() }
            for transaction in try reader.transactions() {
                let lifetimeEnd = transaction.arrivalMicros + UInt64(Self.lifetime.components.seconds) * 1_000_000
                for recipient in try reader.recipients(of: transaction.envelopeID) {
                    let state = (recipient.attempts, recipient.lastAttemptMicros, recipient.nextTry)
                    current[recipient.id] = state
                    guard let next = recipient.nextTry else {
                        if recipient.status != .held { problem("\(recipient.address): \(recipient.status) without a next try") }
                        continue
                    }
                    if next > now, recipient.status != .held { nextDue = min(nextDue ?? next, next) }
                    switch recipient.status {
                    case .failed:
                        if next > now { problem("\(recipient.address): failed, its report due only at \(next) (now \(now))") }
                        continue
                    case .held:
                        continue
                    case .deferred:
                        break
                    }
                    if next <= now { due += 1 }
                    if next > lifetimeEnd { problem("\(recipient.address): next try \(next) after the lifetime ends at \(lifetimeEnd)") }
                    if next > now + Self.longestWait { problem("\(recipient.address): next try \(next) more than an interval and its fuzz after now \(now)") }
                    let old = seen[recipient.id]
                    let attempted = old.map { recipient.attempts > $0.0 } ?? (recipient.attempts > 0 && (recipient.lastAttemptMicros ?? 0) >= lastScan)
                    if attempted, let last = recipient.lastAttemptMicros {
                        if last < lastScan || last > now { problem("\(recipient.address): last attempt \(last) outside the step [\(lastScan), \(now)]") }
                        if next < last || next > last + Self.longestWait {
                            problem("\(recipient.address): retry at \(next) for an attempt at \(last): not within one interval and its fuzz (\(Self.longestWait) µs); record \(recipient), seen before \(String(describing: old)), last scan \(lastScan), now \(now); \(world.state.withLock { $0.history[recipient.address] ?? [] })")
                        }
                    }
                }
            }
        } catch {
            problem("reading the deferred queue: \(error)")
            return nil
        }
        seen = current
        lastScan = now
        nextRecordDue = nextDue
        return due
    }

    /// Every destination comes back (up, answering at once); the clock moves in retry
    /// intervals until the queue has drained: nothing in the active queue, no open incoming
    /// transaction, and the deferred queue holding only failed recipients awaiting their
    /// report (none with notifications on). Six hours at most.
    func drain() async {
        for host in hosts { world.set(.up, for: host) }
        step += 1
        for _ in 0..<36 {
            await advance(by: Self.retryInterval)
            await checkStep()
            if failed { return }
            if await drained() { return }
        }
        let statistics = await manager.statistics(countingDeferredRecipients: true)
        problem("the queue did not drain within 6 hours of every destination up: \(statistics)")
    }

    func drained() async -> Bool {
        let statistics = await manager.statistics(countingDeferredRecipients: true)
        guard statistics.activeQueueCount == 0, statistics.incomingTransactions == 0, stores.log.openTransactions().isEmpty else { return false }
        let left = statistics.deferredRecipients ?? [:]
        guard left[.deferred, default: 0] == 0, left[.held, default: 0] == 0 else { return false }
        return SimulationNotifications.enabled ? left[.failed, default: 0] == 0 : true
    }

    /// After the drain:
    /// - every acknowledged recipient delivered at least once or bounced exactly once
    ///   (failed and kept for its report; with notifications on, reported as failed in a
    ///   DSN: crash duplicates aside, once), a bounce backed by a refusal or the end of its
    ///   lifetime, and a recipient both delivered and bounced only when a crash left it
    ///   queued after its delivery;
    /// - no failed recipient of a message that was not acknowledged;
    /// - the stores: the manager's and every store's invariants, the live bodies exactly
    ///   the referenced ones (the bodies of the envelopes still queued), no open incoming
    ///   transaction, every failed recipient handed to the DSN pass.
    func finalChecks() async {
        for text in await manager.verify() { problem("final verify: \(text)") }
        let deferredVerification = stores.deferred.verify()
        if !deferredVerification.isClean { problem("final deferred queue: \(deferredVerification.allProblems.prefix(3))") }
        let contentVerification = stores.content.verify()
        if !contentVerification.isClean { problem("final content store: \(contentVerification.problems.prefix(3))") }
        if !stores.log.openTransactions().isEmpty { problem("open incoming transactions after the drain") }

        var failedRecords: [String: (DeferredRecipient, UInt64)] = [:]
        var queuedBodies: Set<ContentID> = []
        do {
            let reader = try stores.deferred.reader()
            defer { reader.close() }
            for transaction in try reader.transactions() {
                queuedBodies.insert(transaction.content.id)
                for recipient in try reader.recipients(of: transaction.envelopeID) {
                    if recipient.status == .failed {
                        failedRecords[recipient.address] = (recipient, transaction.arrivalMicros)
                    } else {
                        problem("\(recipient.address) still \(recipient.status) after the drain")
                    }
                }
            }
        } catch {
            problem("reading the deferred queue: \(error)")
        }
        let live = Set(stores.content.liveIDs())
        let referenced = Set(await manager.referenceCounts.keys)
        if live != referenced {
            problem("live bodies \(live.count) are not the referenced ones \(referenced.count): unreferenced live \(live.subtracting(referenced).sorted().prefix(5)), referenced gone \(referenced.subtracting(live).sorted().prefix(5))")
        }
        if referenced != queuedBodies { problem("referenced bodies \(referenced.count) are not the queued envelopes' \(queuedBodies.count)") }
        let statistics = await manager.statistics()
        if !SimulationNotifications.enabled, statistics.failedAwaitingReport != failedRecords.count {
            problem("\(statistics.failedAwaitingReport) failed recipients handed to the DSN pass, \(failedRecords.count) failed in the deferred queue")
        }

        let notifications = SimulationNotifications.enabled
        let lifetime = UInt64(Self.lifetime.components.seconds) * 1_000_000
        let now = self.now
        let crashes = totals.crashes
        var found: [String] = []
        world.state.withLock { state in
            var owed: Set<String> = []
            for (envelopeID, message) in state.messages {
                guard case .acknowledged = message.state else { continue }
                for address in message.recipients {
                    owed.insert(address)
                    let delivered = state.deliveries[address, default: 0] > 0
                    let reports = state.failureReports[address, default: 0]
                    let bounced = notifications ? reports > 0 : failedRecords[address] != nil
                    if !delivered && !bounced {
                        found.append("\(address) of \(envelopeID): acknowledged, neither delivered nor bounced")
                        continue
                    }
                    if bounced {
                        totals.bounces += 1
                        let refused = state.rejections[address, default: 0] > 0
                        let failedAt = failedRecords[address].flatMap { $0.0.lastAttemptMicros } ?? now
                        if !refused, failedAt < message.arrival + lifetime {
                            found.append("\(address) of \(envelopeID): bounced at \(failedAt) with no refusal and before its lifetime ended")
                        }
                        if delivered, !state.crashWindow.contains(address) {
                            found.append("\(address) of \(envelopeID): delivered and bounced with no crash in between")
                        }
                        if notifications, reports > 1, crashes == 0 {
                            found.append("\(address) of \(envelopeID): reported failed \(reports) times with no crash")
                        }
                        if !refused { totals.expired += 1 }
                    }
                }
            }
            for address in failedRecords.keys where !owed.contains(address) {
                found.append("\(address): failed in the deferred queue, but its message was not acknowledged")
            }
            if state.duplicates > totals.inFlightAtCrash {
                found.append("\(state.duplicates) duplicates, more than the \(totals.inFlightAtCrash) recipients in flight at crashes")
            }
            totals.deliveries = state.deliveryCount
            totals.duplicates = state.duplicates
            totals.rejections = state.rejections.values.reduce(0, +)
            totals.notifications = state.notificationsDelivered
            totals.delayReports = state.delayReports
        }
        for text in found { problem(text) }
    }
}
