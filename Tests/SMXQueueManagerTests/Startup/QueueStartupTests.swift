import Testing
import SMXQueueManager
import SMXStore
import SMXTestSupport

/// Startup on the scenario of ``StartupScenario``: each envelope ends where the durability
/// rules put it, the report says what happened, the stores verify, and a second run
/// changes nothing.
@Suite struct QueueStartupTests {
    @Test func openTransactionsMoveOnceAndBodilessEnvelopesAreDropped() async throws {
        let scenario = try await StartupScenario.build(seed: 100)
        let stores = try QueueStores(scenario.fileSystem(seed: 1))
        defer { stores.close() }
        #expect(stores.log.recovery.openTransactions == 5)
        let startup = QueueStartup(log: stores.log, contentStore: stores.content, deferredQueue: stores.deferred)
        let result = try await startup.run(now: StartupScenario.now)
        let report = result.report
        #expect(try startupInvariantProblems(stores, result) == [])

        // Step 1: E was never acknowledged.
        #expect(report.discardedWithoutBody.map(\.envelopeID) == [scenario.e])
        #expect(report.discardedWithoutBody.first?.finding == .missing)
        // Step 2: A and B get recipients; C and D close without any.
        #expect(report.openTransactions == 4)
        #expect(report.transactionsMoved == 2)
        #expect(report.recipientsMoved == 2)
        #expect(report.recipientsDelivered == 3)
        #expect(report.recipientsLeftToDeferredCopy == 3)
        #expect(report.recipientsAlreadyDeferred == 0)
        #expect(report.transactionsClosed == 4)
        #expect(report.unmovable.isEmpty)
        // Step 3: G, H, I dropped, with why.
        let dropped = Dictionary(uniqueKeysWithValues: report.droppedEnvelopes.map { ($0.envelopeID, $0) })
        #expect(Set(dropped.keys) == [scenario.g.envelopeID, scenario.h.envelopeID, scenario.i.envelopeID])
        #expect(dropped[scenario.g.envelopeID]?.finding == .missing)
        #expect(dropped[scenario.h.envelopeID]?.finding == .checksumMismatch)
        guard case .damaged = dropped[scenario.i.envelopeID]?.finding else {
            Issue.record("I's body should be damaged: \(String(describing: dropped[scenario.i.envelopeID]))")
            return
        }
        #expect(dropped[scenario.i.envelopeID]?.quarantinedAt?.hasPrefix("/q/corrupt/") == true)
        #expect(dropped.values.allSatisfy { $0.recipients == 2 })
        #expect(report.deferredEnvelopesChecked == 6)
        // Step 4: A, B, F remain; C's, D's, H's, I's and the stray body are released.
        #expect(report.referencedBodies == 3)
        #expect(report.references == 3)
        #expect(report.bodiesReleased == 5)
        #expect(result.references == [
            scenario.a.transaction.content.id: 1, scenario.b.transaction.content.id: 1, scenario.f.content.id: 1,
        ])
        // Step 5 and the report's frame.
        #expect(report.nextTryEntries == 6)
        #expect(report.nextTryCacheComplete)
        #expect(report.timings.map(\.step) == [.discardWithoutBody, .moveOpenTransactions, .checkDeferredBodies, .recountReferences, .rebuildNextTryCache])
        #expect(report.deferredQueueBefore.counts.transactions == 5)
        #expect(report.deferredQueueAfter?.counts == DeferredQueueCounts(transactions: 3, recipients: 6, scheduled: 6, held: 0))
        #expect(report.incomingLog.openTransactions == 5)

        let reader = try stores.deferred.reader()
        defer { reader.close() }
        #expect(try reader.transactions().map(\.envelopeID) == [scenario.a.envelopeID, scenario.b.envelopeID, scenario.f.envelopeID])
        // A: the pending recipient, due now; the delivered one counted, not queued.
        let a = try #require(try reader.transaction(scenario.a.envelopeID))
        #expect(a.recipientCount == 2 && a.delivered == 1 && a.deferred == 1 && a.failed == 0)
        let aRecipients = try reader.recipients(of: scenario.a.envelopeID)
        #expect(aRecipients.map(\.id.index) == [1])
        #expect(aRecipients.first?.status == .deferred)
        #expect(aRecipients.first?.nextTry == StartupScenario.now)
        #expect(aRecipients.first?.destination == "two.example")
        #expect(aRecipients.first?.address == "a1@two.example")
        #expect(aRecipients.first?.attempts == 0)
        // B: the failure kept for its DSN, the moved one keeps its schedule, the pending one added.
        let bRecipients = try reader.recipients(of: scenario.b.envelopeID)
        #expect(bRecipients.map(\.status) == [.failed, .deferred, .deferred])
        #expect(bRecipients.map(\.nextTry) == [StartupScenario.failedReportAt, StartupScenario.movedNextTry, StartupScenario.now])
        #expect(bRecipients[0].lastReply == DeliveryReply(code: 550, text: "5.1.1 no such user"))
        #expect(bRecipients[2].destination == "three.example")
        let b = try #require(try reader.transaction(scenario.b.envelopeID))
        #expect(b.failed == 1 && b.deferred == 2)
        // C (all delivered) and D (delivered from the deferred queue) are not back.
        #expect(try reader.transaction(scenario.c.envelopeID) == nil)
        #expect(try reader.transaction(scenario.d.envelopeID) == nil)
        #expect(try reader.transaction(scenario.f.envelopeID) == scenario.f)

        // The next ids are past every id startup saw, dropped ones included (the clock
        // here is behind the scenario's ids, so only that keeps them from coming back).
        #expect(report.highestEnvelopeID == scenario.i.envelopeID)
        #expect(result.envelopeIDs.next() > scenario.i.envelopeID)
    }

    @Test func runningAgainChangesNothing() async throws {
        let scenario = try await StartupScenario.build(seed: 200)
        let stores = try QueueStores(scenario.fileSystem(seed: 2))
        let startup = QueueStartup(log: stores.log, contentStore: stores.content, deferredQueue: stores.deferred)
        _ = try await startup.run(now: StartupScenario.now)
        let first = try QueueState(stores)

        let again = try await startup.run(now: StartupScenario.now + 1)
        #expect(try QueueState(stores) == first)
        #expect(again.report.discardedWithoutBody.isEmpty)
        #expect(again.report.transactionsMoved == 0 && again.report.transactionsClosed == 0)
        #expect(again.report.droppedEnvelopes.isEmpty)
        #expect(again.report.bodiesReleased == 0)
        #expect(try startupInvariantProblems(stores, again) == [])

        // And after a restart.
        let reopened = try QueueStores(stores.crash(mode: .tear, seed: 3))
        defer { reopened.close() }
        let third = try await QueueStartup(log: reopened.log, contentStore: reopened.content, deferredQueue: reopened.deferred)
            .run(now: StartupScenario.now + 2)
        #expect(try QueueState(reopened) == first)
        #expect(try startupInvariantProblems(reopened, third) == [])
    }

    /// A crash between a batch's deferred commit and its incoming-log closes leaves the
    /// recipients in both stores; the next startup must not add them twice.
    @Test func aMoveInterruptedBeforeItsClosesIsNotDuplicated() async throws {
        let scenario = try await StartupScenario.build(seed: 300)
        let stores = try QueueStores(scenario.fileSystem(seed: 4))
        let startup = QueueStartup(log: stores.log, contentStore: stores.content, deferredQueue: stores.deferred)
        var report = try startup.makeReport()
        _ = try await startup.discardTransactionsWithoutBody()
        // The move's deferred-queue half only: the incoming log's closes never happen.
        stores.fileSystem.injectFault(FaultRule(kinds: [.write], errno: EIO_, times: nil) { $0.path.hasPrefix("/q/ibdb/") })
        await #expect(throws: StartupError.self) { try await startup.moveOpenTransactions(now: StartupScenario.now, into: &report) }
        #expect(report.recipientsMoved == 2)
        #expect(stores.deferred.verify().isClean)
        stores.fileSystem.removeAllFaults()

        let reopened = try QueueStores(stores.crash(seed: 5))
        defer { reopened.close() }
        #expect(reopened.log.openTransactions().count == 4)
        let result = try await QueueStartup(log: reopened.log, contentStore: reopened.content, deferredQueue: reopened.deferred)
            .run(now: StartupScenario.now)
        #expect(result.report.recipientsMoved == 0)
        #expect(result.report.recipientsAlreadyDeferred == 2)
        #expect(result.report.transactionsClosed == 4)
        #expect(try startupInvariantProblems(reopened, result) == [])
        let reader = try reopened.deferred.reader()
        defer { reader.close() }
        #expect(try reader.recipients(of: scenario.a.envelopeID).map(\.id.index) == [1])
        #expect(try reader.recipients(of: scenario.b.envelopeID).map(\.id.index) == [0, 1, 2])
    }

    @Test func startupOfAnEmptyQueue() async throws {
        let stores = try QueueStores(SimulatedFileSystem(seed: 6))
        defer { stores.close() }
        let result = try await QueueStartup(log: stores.log, contentStore: stores.content, deferredQueue: stores.deferred)
            .run(now: QueueStores.t0)
        #expect(result.report.openTransactions == 0)
        #expect(result.report.nextTryEntries == 0)
        #expect(result.report.nextTryCacheComplete)
        #expect(result.references.isEmpty)
        #expect(try startupInvariantProblems(stores, result) == [])
    }

    @Test func unroutableAddressesGetADestinationTheQueueTakes() {
        #expect(QueueStartup.recipientDomain("x@Example.ORG.") == "example.org")
        #expect(QueueStartup.recipientDomain("postmaster") == "invalid")
        #expect(QueueStartup.recipientDomain("a@b@[192.0.2.1]") == "[192.0.2.1]")
    }
}

/// The steps one by one, with every store's invariant check after each.
@Suite struct QueueStartupStepTests {
    @Test func storesVerifyAfterEveryStep() async throws {
        let scenario = try await StartupScenario.build(seed: 600)
        let stores = try QueueStores(scenario.fileSystem(seed: 7))
        defer { stores.close() }
        let startup = QueueStartup(log: stores.log, contentStore: stores.content, deferredQueue: stores.deferred)
        var report = try startup.makeReport()
        let damaged = scenario.i.content.id
        // Until the recount releases it, I's damaged body is the one problem the content
        // store reports.
        func contentProblems() -> Set<ContentID?> { Set(stores.content.verify().problems.map(\.id)) }
        #expect(contentProblems() == [damaged])

        let discarded = try await startup.discardTransactionsWithoutBody()
        #expect(discarded.map(\.envelopeID) == [scenario.e])
        #expect(stores.log.openTransactionCount == 4)
        #expect(stores.deferred.verify().isClean)

        try await startup.moveOpenTransactions(now: StartupScenario.now, into: &report)
        #expect(stores.log.openTransactionCount == 0)
        #expect(stores.deferred.verify().isClean)
        #expect(contentProblems() == [damaged])

        try await startup.checkDeferredBodies(into: &report)
        #expect(report.droppedEnvelopes.count == 3)
        // Without step 1's findings every body is read here.
        #expect(report.bodiesVerified == 6)
        #expect(stores.deferred.verify().isClean)

        let count = try startup.recountReferences(into: &report)
        #expect(count.references.count == 3)
        #expect(stores.content.verify().isClean)
        #expect(Set(stores.content.liveIDs()) == Set(count.references.keys))

        let cache = try startup.rebuildNextTryCache(into: &report)
        try cache.verify()
        #expect(cache.count == report.nextTryEntries)
        let reader = try stores.deferred.reader()
        defer { reader.close() }
        #expect(cache.keys == (try reader.keys(from: .min, limit: .max)))
    }

    /// A cache smaller than the index holds its first keys and says it is not complete.
    @Test func aSmallCacheHoldsThePrefix() async throws {
        let scenario = try await StartupScenario.build(seed: 700)
        let stores = try QueueStores(scenario.fileSystem(seed: 8))
        defer { stores.close() }
        var configuration = QueueStartup.Configuration()
        configuration.nextTryCacheCapacity = 4
        configuration.batchSize = 1
        let result = try await QueueStartup(log: stores.log, contentStore: stores.content, deferredQueue: stores.deferred, configuration: configuration)
            .run(now: StartupScenario.now)
        #expect(result.report.nextTryEntries == 4)
        #expect(!result.report.nextTryCacheComplete)
        let reader = try stores.deferred.reader()
        defer { reader.close() }
        #expect(result.nextTryCache.keys == (try reader.keys(from: .min, limit: 4)))
        // Batches of one give the same queue as the default.
        #expect(try reader.transactions().map(\.envelopeID) == [scenario.a.envelopeID, scenario.b.envelopeID, scenario.f.envelopeID])
        #expect(result.report.droppedEnvelopes.count == 3)
        #expect(result.report.transactionsClosed == 4)
    }
}
