import Glibc
import Dispatch
import Testing
import SMXQueueManager
import SMXStore
import SMXTestSupport

/// The queue manager end to end on the simulated file layer with a manual clock: what it
/// delivers, defers, fails, closes and releases, and in which store each result lands.
@Suite(.timeLimit(.minutes(2))) struct QueueManagerTests {
    @Test func messagesAreDeliveredExactlyOnceWhenAgentsAreUp() async throws {
        let h = try await ManagerHarness.start(SimulatedFileSystem(seed: 1))
        var expected: [RecipientID] = []
        var contents: [ContentID] = []
        for n in 0..<25 {
            let recipients = (0...(n % 4)).map { "r\($0)@d\(n % 5).example" }
            let accepted = try await h.receive(recipients, seed: UInt64(n))
            expected += recipients.indices.map { RecipientID(accepted.envelopeID, UInt32($0)) }
            contents.append(accepted.transaction.content.id)
            if n % 7 == 0 { await h.settle() }
        }
        await h.settle()
        let deliveries = h.agent.deliveries
        #expect(deliveries.count == expected.count)
        #expect(expected.allSatisfy { deliveries[$0] == 1 })
        #expect(h.stores.log.openTransactions().isEmpty)
        #expect(try h.deferredRecipients().isEmpty)
        #expect(contents.allSatisfy { !h.stores.content.contains($0) })
        let statistics = await h.manager.statistics()
        #expect(statistics.totals.acceptedMessages == 25)
        #expect(statistics.totals.delivered == expected.count)
        #expect(statistics.totals.bodiesReleased == 25)
        #expect(statistics.activeQueueCount == 0 && statistics.references == 0 && statistics.incomingTransactions == 0)
        await h.stop()
    }

    /// The manager runs on a thread of its own (its executor), `threadNiceIncrement` nice
    /// steps below the thread that made it; the thread must end with the manager, or every
    /// manager a process makes (a test run makes thousands) leaves one behind.
    @Test func theManagersThreadRunsBelowItsMakerAndEndsWhenTheManagerIsReleased() async throws {
        var thread: ManagerThread?
        do {
            errno = 0
            let base = Int(getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0))
            #expect(errno == 0)
            var configuration = try ManagerHarness.configuration()
            configuration.threadNiceIncrement = 3
            let h = try await ManagerHarness.start(SimulatedFileSystem(seed: 2), configuration: configuration)
            thread = h.manager.thread
            try await h.receive(["a@d1.example", "b@d2.example"])
            await h.settle()
            #expect(h.agent.deliveries.count == 2)
            #expect(thread?.hasEnded == false)
            #expect(thread?.niceValue == min(19, base + 3))
            #expect((thread?.jobsRun ?? 0) > 0, "the actor's jobs run on its thread")
            await h.stop()
        }
        #expect(await SchedulingTestSupport.eventually { thread?.hasEnded == true })
    }

    @Test func theThreadNiceIncrementIsChecked() throws {
        for increment in [-1, 20] {
            #expect(throws: QueueManagerConfigurationError.self) {
                try QueueManagerConfiguration(
                    activeQueue: ActiveQueueConfiguration(capacity: 10), destinationLimits: DestinationLimits(), threadNiceIncrement: increment
                )
            }
        }
        #expect(try QueueManagerConfiguration(
            activeQueue: ActiveQueueConfiguration(capacity: 10), destinationLimits: DestinationLimits(), threadNiceIncrement: 0
        ).threadNiceIncrement == 0)
    }

    @Test func loadControlSlowsTheReceiverDownWhileBodiesWaitForTheDisk() async throws {
        // The content store's flusher is held before its first write: the body's bytes stay
        // pending, and the receiver slows down with the control's delay until they are written.
        // (Every writer into cdb/ is held, the segment preparer too.)
        let control = try AdmissionControl(thresholds: [.contentBytesPending: LoadThreshold(slowDown: 1, refuse: 1 << 30)], slowDownDelay: .seconds(7))
        let configuration = try QueueManagerConfiguration(
            activeQueue: ActiveQueueConfiguration(capacity: 100), destinationLimits: DestinationLimits(), loadControl: control, randomSeed: 3
        )
        let fs = SimulatedFileSystem(seed: 16)
        let h = try await ManagerHarness.start(fs, configuration: configuration)
        #expect(h.receiver.admission.slowDownDelay == .seconds(7))
        let gate = DispatchSemaphore(value: 0)
        fs.setOperationHook { op in
            if op.kind == .write, op.path.contains("/cdb/") { gate.wait() }
        }
        let pending = Task { try await h.receive(["a@up.example"], size: 4_000) }
        let slowed = await SchedulingTestSupport.eventually {
            do throws(ReceiveError) {
                try h.receiver.begin(sender: "late@example.org").abort()
                return false
            } catch {
                if case .slowDown = error { return true }
                return false
            }
        }
        #expect(slowed, "no slow-down while a body waited for the disk")
        fs.setOperationHook(nil)
        // Up to two writers wait at the gate: the flusher, and the content store's segment
        // preparer when it was making the next segment file meanwhile.
        gate.signal()
        gate.signal()
        _ = try await pending.value
        await h.settle()
        let again = try h.receiver.begin(sender: "later@example.org")
        again.abort()
        await h.stop()
    }

    @Test func loadControlSlowsTheReceiverDownWhileTheActiveQueueIsBusy() async throws {
        let control = try AdmissionControl(thresholds: [.activeQueueEntries: LoadThreshold(slowDown: 4, refuse: 6)])
        let configuration = try QueueManagerConfiguration(
            activeQueue: ActiveQueueConfiguration(capacity: 100), destinationLimits: DestinationLimits(),
            agentTimeout: .days(1), loadControl: control, randomSeed: 3
        )
        let h = try await ManagerHarness.start(SimulatedFileSystem(seed: 15), configuration: configuration)
        h.agent.setDelay(.hours(1), for: "slow.example")
        try await h.receive(["a@slow.example", "b@slow.example", "c@slow.example"])
        await h.settle(agentJobs: nil)
        try await h.receive(["d@slow.example"])
        await h.settle(agentJobs: nil)
        #expect(await h.manager.statistics().activeQueueCount == 4)
        do {
            _ = try h.receiver.begin(sender: "late@example.org")
            Issue.record("accepted at 4 active-queue entries")
        } catch {
            guard case .slowDown = error else { Issue.record("\(error)"); return }
        }
        await h.advance(by: .hours(1))
        #expect(await h.manager.statistics().activeQueueCount == 0)
        try await h.receive(["e@up.example"])
        await h.settle()
        #expect(h.agent.deliveries.count == 5)
        await h.stop()
    }

    @Test func theDiscardClassIsDeliveredWithoutAnAgent() async throws {
        let h = try await ManagerHarness.start(SimulatedFileSystem(seed: 14))
        let accepted = try await h.receive(["a@discard.example", "b@up.example"])
        await h.settle()
        #expect(h.agent.attempts[RecipientID(accepted.envelopeID, 0)] == nil)
        #expect(h.agent.deliveries[RecipientID(accepted.envelopeID, 1)] == 1)
        #expect(h.stores.log.transaction(accepted.envelopeID) == nil)
        #expect(await h.manager.statistics().totals.delivered == 2)
        await h.stop()
    }

    @Test func aTemporaryFailureIsDeferredPerThePolicyAndRetriedWhenItIsDue() async throws {
        let h = try await ManagerHarness.start(SimulatedFileSystem(seed: 2))
        h.agent.set(.down, for: "down.example")
        let accepted = try await h.receive(["a@down.example", "b@down.example"])
        await h.settle()
        let id = RecipientID(accepted.envelopeID, 0)
        let due = ManagerHarness.t0 + ManagerHarness.retryInterval
        for index in 0..<2 {
            let recipient = try #require(try h.deferredRecipient(RecipientID(accepted.envelopeID, UInt32(index))))
            #expect(recipient.status == .deferred)
            #expect(recipient.nextTry == due.microsecondsSinceEpoch)
            #expect(recipient.attempts == 1)
            #expect(recipient.destination == "down.example")
            #expect(recipient.lastReply == DeliveryReply(code: 0, text: "4.4.1 connection refused"))
        }
        // Moved: the incoming transaction is closed, the body kept for the deferred copy.
        #expect(h.stores.log.transaction(accepted.envelopeID) == nil)
        #expect(h.stores.content.contains(accepted.transaction.content.id))
        #expect(h.agent.attempts[id] == 1)

        h.agent.set(.up, for: "down.example")
        await h.advance(by: ManagerHarness.retryInterval - .seconds(1))
        #expect(h.agent.attempts[id] == 1, "tried before its next try")
        await h.advance(by: .seconds(1))
        #expect(h.agent.deliveries[id] == 1)
        #expect(h.agent.deliveries[RecipientID(accepted.envelopeID, 1)] == 1)
        #expect(try h.deferredRecipients().isEmpty)
        #expect(!h.stores.content.contains(accepted.transaction.content.id))
        await h.stop()
    }

    @Test func aDestinationStillDownIsRetriedOnItsScheduleFromTheFirstFailure() async throws {
        let h = try await ManagerHarness.start(SimulatedFileSystem(seed: 3))
        h.agent.set(.flaky(failures: 2), for: "flaky.example")
        let accepted = try await h.receive(["a@flaky.example"])
        await h.settle()
        let id = RecipientID(accepted.envelopeID, 0)
        await h.advance(by: ManagerHarness.retryInterval)
        let second = try #require(try h.deferredRecipient(id))
        #expect(second.attempts == 2)
        #expect(second.firstFailureMicros == ManagerHarness.t0.microsecondsSinceEpoch)
        #expect(second.nextTry == (ManagerHarness.t0 + ManagerHarness.retryInterval * 2).microsecondsSinceEpoch)
        await h.advance(by: ManagerHarness.retryInterval)
        #expect(h.agent.deliveries[id] == 1)
        #expect(h.agent.attempts[id] == 3)
        #expect(try h.deferredRecipients().isEmpty)
        await h.stop()
    }

    @Test func aPermanentFailureIsRecordedAsFailedInTheDeferredQueue() async throws {
        let h = try await ManagerHarness.start(SimulatedFileSystem(seed: 4))
        h.agent.set(.rejecting, for: "reject-user.example")
        let accepted = try await h.receive(["nobody@reject-user.example", "x@reject.example", "ok@up.example"])
        await h.settle()
        let byAgent = try #require(try h.deferredRecipient(RecipientID(accepted.envelopeID, 0)))
        #expect(byAgent.status == .failed)
        #expect(byAgent.lastReply == DeliveryReply(code: 550, text: "5.1.1 no such user"))
        #expect(byAgent.attempts == 1)
        let byResolver = try #require(try h.deferredRecipient(RecipientID(accepted.envelopeID, 1)))
        #expect(byResolver.status == .failed)
        #expect(byResolver.lastReply == DeliveryReply(code: 550, text: "5.1.2 no such domain"))
        #expect(byResolver.destination == "reject.example")
        #expect(try h.deferredRecipient(RecipientID(accepted.envelopeID, 2)) == nil)
        #expect(h.agent.deliveries[RecipientID(accepted.envelopeID, 2)] == 1)
        // Not tried again; kept for the DSN, with the body.
        await h.advance(by: .hours(3))
        #expect(h.agent.attempts[RecipientID(accepted.envelopeID, 0)] == 1)
        #expect(await h.manager.failedAwaitingReport == [RecipientID(accepted.envelopeID, 0), RecipientID(accepted.envelopeID, 1)])
        let reader = try h.stores.deferred.reader()
        let envelope = try #require(try reader.transaction(accepted.envelopeID))
        reader.close()
        #expect(envelope.failed == 2 && envelope.deferred == 0)
        #expect(h.stores.content.contains(accepted.transaction.content.id))
        #expect(h.stores.log.transaction(accepted.envelopeID) == nil)
        let statistics = await h.manager.statistics(countingDeferredRecipients: true)
        #expect(statistics.totals.failed == 2 && statistics.totals.delivered == 1)
        #expect(statistics.deferredRecipients == [.deferred: 0, .held: 0, .failed: 2])
        #expect(statistics.deferredQueue?.recipients == 2 && statistics.failedAwaitingReport == 2)
        await h.stop()
    }

    @Test func reportedFailuresLeaveWithTheirEnvelopeAndBody() async throws {
        let h = try await ManagerHarness.start(SimulatedFileSystem(seed: 9))
        h.agent.set(.rejecting, for: "reject-user.example")
        h.agent.set(.down, for: "down.example")
        let accepted = try await h.receive(["a@reject-user.example", "b@down.example"])
        await h.settle()
        let failed = RecipientID(accepted.envelopeID, 0)
        let deferred = RecipientID(accepted.envelopeID, 1)
        #expect(await h.manager.failedAwaitingReport == [failed])
        // Only failed recipients are removed.
        #expect(try await h.manager.removeReported([failed, deferred, failed]) == 1)
        await h.settle()
        #expect(try h.deferredRecipients().map(\.id) == [deferred])
        #expect(await h.manager.failedAwaitingReport.isEmpty)
        #expect(h.stores.content.contains(accepted.transaction.content.id))
        h.agent.set(.up, for: "down.example")
        await h.advance(by: ManagerHarness.retryInterval)
        #expect(try h.deferredRecipients().isEmpty)
        #expect(!h.stores.content.contains(accepted.transaction.content.id))
        let reader = try h.stores.deferred.reader()
        #expect(try reader.transaction(accepted.envelopeID) == nil)
        reader.close()
        #expect(await h.manager.statistics().totals.bounced == 1)
        await h.stop()
        await #expect(throws: QueueManagerError.self) { try await h.manager.removeReported([failed]) }
    }

    @Test func aRecipientPastTheQueueLifetimeExpires() async throws {
        let h = try await ManagerHarness.start(SimulatedFileSystem(seed: 5))
        h.agent.set(.down, for: "down.example")
        let accepted = try await h.receive(["a@down.example"])
        await h.settle()
        let id = RecipientID(accepted.envelopeID, 0)
        // Tries every 15 minutes; the last one lands exactly at the end of the lifetime.
        for _ in 0..<(2 * 24 * 4) { await h.advance(by: ManagerHarness.retryInterval) }
        let recipient = try #require(try h.deferredRecipient(id))
        #expect(recipient.status == .failed)
        #expect(recipient.lastReply == DeliveryReply(code: 0, text: "4.4.1 connection refused"))
        #expect(h.agent.attempts[id] == 2 * 24 * 4 + 1)
        #expect(await h.manager.statistics().totals.expired == 1)
        await h.stop()
    }

    @Test func theIncomingTransactionClosesWhenAllItsRecipientsAreDone() async throws {
        let h = try await ManagerHarness.start(SimulatedFileSystem(seed: 6))
        h.agent.setDelay(.minutes(5), for: "slow.example")
        let accepted = try await h.receive(["a@up.example", "b@slow.example", "c@up.example"])
        await h.settle(agentJobs: 1)
        let open = try #require(h.stores.log.transaction(accepted.envelopeID))
        #expect(open.recipients.map(\.state) == [.delivered, .pending, .delivered])
        #expect(h.stores.content.contains(accepted.transaction.content.id))
        await h.advance(by: .minutes(5))
        #expect(h.stores.log.transaction(accepted.envelopeID) == nil)
        #expect(h.agent.deliveries.count == 3)
        #expect(!h.stores.content.contains(accepted.transaction.content.id))
        await h.stop()
    }

    @Test func aBodyIsReleasedOnlyWithItsLastReference() async throws {
        let h = try await ManagerHarness.start(SimulatedFileSystem(seed: 7))
        h.agent.set(.down, for: "one.example")
        h.agent.set(.down, for: "two.example")
        let accepted = try await h.receive(["a@one.example", "b@two.example", "c@up.example"])
        let content = accepted.transaction.content.id
        await h.settle()
        // The incoming transaction closed; the deferred envelope holds the body.
        #expect(h.stores.log.transaction(accepted.envelopeID) == nil)
        #expect(await h.manager.referenceCounts[content] == 1)
        h.agent.set(.up, for: "one.example")
        h.agent.set(.flaky(failures: 2), for: "two.example")  // its first job already failed
        h.agent.setDelay(.minutes(1), for: "two.example")
        await h.advance(by: ManagerHarness.retryInterval, agentJobs: 1)
        // One of two deferred recipients delivered: the envelope and its body stay.
        #expect(try h.deferredRecipients().map(\.id) == [RecipientID(accepted.envelopeID, 1)])
        #expect(h.stores.content.contains(content))
        await h.advance(by: .minutes(1))
        #expect(h.stores.content.contains(content), "released while a recipient was still deferred")
        await h.advance(by: ManagerHarness.retryInterval, agentJobs: 1)
        await h.advance(by: .minutes(1))
        #expect(h.agent.deliveries[RecipientID(accepted.envelopeID, 1)] == 1)
        #expect(try h.deferredRecipients().isEmpty)
        #expect(!h.stores.content.contains(content))
        #expect(await h.manager.referenceCounts.isEmpty)
        await h.stop()
    }

    @Test func anEnvelopeSpreadOverBothQueuesCountsOneReferenceInEach() async throws {
        let h = try await ManagerHarness.start(SimulatedFileSystem(seed: 10), configuration: ManagerHarness.configuration(agentTimeout: .hours(1)))
        h.agent.set(.flaky(failures: 1), for: "flaky.example")
        h.agent.setDelay(.minutes(30), for: "slow.example")
        h.agent.set(.deferring, for: "slow.example")
        let accepted = try await h.receive(["a@flaky.example", "b@slow.example"])
        let content = accepted.transaction.content.id
        await h.settle(agentJobs: 1)
        // a in the deferred queue, b still pending in the open incoming transaction.
        #expect(await h.manager.referenceCounts[content] == 2)
        #expect(h.stores.log.transaction(accepted.envelopeID)?.recipients.map(\.state) == [.movedToDeferred, .pending])
        await h.advance(by: ManagerHarness.retryInterval, agentJobs: 1)
        // a delivered from the deferred queue: the envelope left it, the incoming one holds the body.
        #expect(try h.deferredRecipients().isEmpty)
        #expect(await h.manager.referenceCounts[content] == 1)
        #expect(h.stores.content.contains(content))
        await h.advance(by: .minutes(15))
        // b deferred: the envelope comes back to the deferred queue, the incoming one closes.
        #expect(try h.deferredRecipients().map(\.id) == [RecipientID(accepted.envelopeID, 1)])
        #expect(h.stores.log.transaction(accepted.envelopeID) == nil)
        #expect(await h.manager.referenceCounts[content] == 1)
        #expect(h.stores.content.contains(content))
        await h.stop()
    }

    @Test func aStopLeavesJobsInFlightInTheStoresAndARestartDeliversThem() async throws {
        let clock = ManualClock(start: ManagerHarness.t0)
        let h = try await ManagerHarness.start(SimulatedFileSystem(seed: 11), clock: clock)
        h.agent.setDelay(.hours(1), for: "slow.example")
        let accepted = try await h.receive(["a@slow.example", "b@up.example"])
        await h.settle(agentJobs: 1)
        await h.manager.stop()
        #expect(await h.manager.failure == nil)
        #expect(h.stores.log.transaction(accepted.envelopeID)?.recipients.map(\.state) == [.pending, .delivered])
        let again = try await ManagerHarness.start(h.stores.crash(seed: 12), clock: clock)
        await again.settle()
        #expect(again.agent.deliveries == [RecipientID(accepted.envelopeID, 0): 1])
        #expect(try again.deferredRecipients().isEmpty)
        #expect(!again.stores.content.contains(accepted.transaction.content.id))
        await again.stop()
    }

    @Test func aFailedDeferredQueueSyncStopsTheLoopBeforeAnyIncomingMark() async throws {
        let fs = SimulatedFileSystem(seed: 13)
        let h = try await ManagerHarness.start(fs)
        h.agent.set(.down, for: "down.example")
        fs.injectFault(FaultRule(kinds: [.sync, .fullSync], errno: 5, times: nil) { $0.path.contains("defedb") })
        let accepted = try await h.receive(["a@down.example", "b@up.example"])
        await h.manager.waitUntilIdle()
        guard case .store = await h.manager.failure else {
            Issue.record("the loop did not stop on the failed sync: \(String(describing: await h.manager.failure))")
            return
        }
        // Rule 3: the deferred copy failed, so the incoming log has no mark for a; the
        // delivered mark of b rode on no commit either.
        #expect(h.stores.log.transaction(accepted.envelopeID)?.recipients.map(\.state) == [.pending, .pending])
        await #expect(throws: QueueManagerError.self) { try await h.manager.removeReported([]) }
        await h.manager.stop()
        fs.removeAllFaults()
        let again = try await ManagerHarness.start(h.stores.crash(seed: 14), clock: h.clock)
        await again.settle()
        // Startup moved both (nothing was marked); the new agent reaches both destinations.
        #expect(await again.manager.startupReport?.recipientsMoved == 2)
        #expect(again.agent.deliveries[RecipientID(accepted.envelopeID, 0)] == 1, "not lost")
        #expect(again.agent.deliveries[RecipientID(accepted.envelopeID, 1)] == 1, "delivered again after the crash (rule 4)")
        await again.stop()
    }

    @Test func aResolverTemporaryFailureIsDeferredAndAnAgentTimeoutToo() async throws {
        let h = try await ManagerHarness.start(SimulatedFileSystem(seed: 8), configuration: ManagerHarness.configuration(agentTimeout: .minutes(10)))
        h.agent.setDelay(.hours(1), for: "hung.example")
        let accepted = try await h.receive(["a@later.example", "b@hung.example"])
        await h.settle(agentJobs: 1)
        let unresolved = try #require(try h.deferredRecipient(RecipientID(accepted.envelopeID, 0)))
        #expect(unresolved.status == .deferred)
        #expect(unresolved.lastReply == DeliveryReply(code: 451, text: "4.4.3 lookup failed"))
        #expect(unresolved.destination == "later.example")
        await h.advance(by: .minutes(10), agentJobs: 1)
        let timedOut = try #require(try h.deferredRecipient(RecipientID(accepted.envelopeID, 1)))
        #expect(timedOut.status == .deferred)
        #expect(timedOut.lastReply?.text.hasPrefix("4.4.1 no result from the delivery agent") == true)
        #expect(h.stores.log.transaction(accepted.envelopeID) == nil)
        let statistics = await h.manager.statistics()
        #expect(statistics.totals.timedOut == 1 && statistics.jobsInFlight == 0 && statistics.activeQueueCount == 0)
        await h.stop()
    }
}
