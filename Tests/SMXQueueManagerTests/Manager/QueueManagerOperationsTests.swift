import Testing
import SMXQueueManager
import SMXStore
import SMXTestSupport

/// Operations taken from a running queue manager (``QueueManager/operations(logger:)``):
/// the manager's reference counts and next-try cache follow them, so `verify()` (which
/// recounts the references from the stores when the active queue is empty) holds after
/// each, held recipients wait, released and requeued ones are tried at once, bounced ones
/// are reported, and deleted ones' bodies are released exactly when their last reference
/// goes, also for an envelope spread over both queues.
@Suite(.timeLimit(.minutes(3))) struct QueueManagerOperationsTests {
    static func start() async throws -> ManagerHarness {
        var configuration = try ManagerHarness.configuration()
        configuration.notifications = NotificationConfiguration(reportingMTA: "mta.example")
        return try await ManagerHarness.start(SimulatedFileSystem(seed: 52), configuration: configuration)
    }

    @Test func holdReleaseRequeueDeleteAndBounceWhileTheManagerRuns() async throws {
        let h = try await Self.start()
        let operations = h.manager.operations()
        h.agent.set(.down, for: "down.example")
        let held = try await h.receive(["h@down.example"], seed: 1)
        let requeued = try await h.receive(["q@down.example"], seed: 2)
        let deleted = try await h.receive(["d@down.example"], seed: 3)
        let bounced = try await h.receive(["b@down.example"], seed: 4)
        await h.settle()
        #expect(try h.deferredRecipients().count == 4)

        _ = try await operations.hold(.envelopes([held.envelopeID]))
        _ = try await operations.delete(.envelopes([deleted.envelopeID]))
        _ = try await operations.bounce(.envelopes([bounced.envelopeID]), now: h.clock.now())
        await h.settle()
        #expect(!h.stores.content.contains(deleted.transaction.content.id), "the deleted envelope's body went with it")
        #expect(!h.stores.content.contains(bounced.transaction.content.id), "the bounced envelope's body went after its report")
        let notices = h.agent.messages.filter { $0.envelope.sender.isEmpty }
        #expect(notices.count == 1)
        #expect(notices.first.flatMap(\.body).map { String(decoding: $0, as: UTF8.self).contains("b@down.example") } == true)

        // Requeue: tried at once, not at its retry time.
        h.agent.set(.up, for: "down.example")
        _ = try await operations.requeue(.envelopes([requeued.envelopeID]), now: h.clock.now())
        await h.settle()
        #expect(h.agent.deliveries[RecipientID(requeued.envelopeID, 0)] == 1)
        #expect(!h.stores.content.contains(requeued.transaction.content.id))

        // Held: not tried at its retry time; released: tried at once.
        await h.advance(by: ManagerHarness.retryInterval)
        #expect(h.agent.deliveries[RecipientID(held.envelopeID, 0)] == nil)
        _ = try await operations.release(.envelopes([held.envelopeID]), now: h.clock.now())
        await h.settle()
        #expect(h.agent.deliveries[RecipientID(held.envelopeID, 0)] == 1)
        #expect(try h.deferredRecipients().isEmpty)
        #expect(await h.manager.referenceCounts.isEmpty)
        await h.stop()
    }

    @Test func deletingTheDeferredHalfOfAnEnvelopeKeepsTheBodyForTheIncomingHalf() async throws {
        // One recipient deferred, the other still at a slow agent: the envelope is in both
        // queues. Deleting its deferred half drops one reference; the body stays for the
        // incoming half and goes when that one is delivered.
        let h = try await Self.start()
        let operations = h.manager.operations()
        h.agent.set(.down, for: "down.example")
        h.agent.setDelay(.minutes(5), for: "slow.example")
        let message = try await h.receive(["x@down.example", "y@slow.example"], seed: 9)
        await h.settle(agentJobs: nil)
        #expect(try h.deferredRecipients().map(\.address) == ["x@down.example"])

        _ = try await operations.delete(.recipients([RecipientID(message.envelopeID, 0)]))
        await h.settle(agentJobs: nil)
        #expect(h.stores.content.contains(message.transaction.content.id))
        #expect(await h.manager.referenceCounts[message.transaction.content.id] == 1)

        await h.advance(by: .minutes(5))
        #expect(h.agent.deliveries[RecipientID(message.envelopeID, 1)] == 1)
        #expect(!h.stores.content.contains(message.transaction.content.id))
        #expect(await h.manager.referenceCounts.isEmpty)
        await h.stop()
    }
}
