import SMXQueueManager
import SMXStore
import Testing

@Suite struct ActiveQueueTests {
    static let t0 = Timestamp(secondsSinceEpoch: 1_800_000_000)
    static let hop = NextHop("mx.example.com")!

    static func id(_ envelope: UInt64, _ index: UInt32 = 0) -> RecipientID { RecipientID(EnvelopeID(envelope), index) }

    static func queue(capacity: Int = 10, deferredMaximum: Double = 0.7) throws -> ActiveQueue {
        try ActiveQueue(configuration: ActiveQueueConfiguration(capacity: capacity, deferredMaximum: deferredMaximum))
    }

    @Test func anEntryGoesThroughItsStates() throws {
        var queue = try Self.queue()
        let a = Self.id(1), b = Self.id(1, 1)
        try queue.admit(a, from: .incoming, now: Self.t0)
        try queue.admit(b, from: .deferred, now: Self.t0)
        #expect(queue.count == 2 && queue.freeSlots == 8 && queue.isAtOrBelowLowWatermark)
        #expect(queue.count(from: .incoming) == 1 && queue.count(from: .deferred) == 1)
        #expect(queue.count(in: .awaitingResolution) == 2)
        #expect(queue.entry(a)?.state == .awaitingResolution && queue.entry(a)?.nextHop == nil && queue.entry(a)?.since == Self.t0)

        try queue.resolved(a, deliveryClass: .smtp, nextHop: Self.hop, now: Self.t0 + .seconds(1))
        var entry = try #require(queue.entry(a))
        #expect(entry.state == .awaitingJob && entry.since == Self.t0 + .seconds(1) && entry.nextHop == Self.hop && entry.deliveryClass == .smtp)
        #expect(queue.count(from: .incoming, in: .awaitingJob) == 1 && queue.count(in: .awaitingResolution) == 1)
        #expect(queue.entries(in: .awaitingJob).map(\.id) == [a])

        let job = DeliveryJob.ID(7)
        try queue.dispatched([a], job: job, now: Self.t0 + .seconds(2))
        entry = try #require(queue.entry(a))
        #expect(entry.state == .atAgent && entry.job == job && entry.since == Self.t0 + .seconds(2))
        #expect(queue.count(from: .incoming, in: .atAgent) == 1)

        let done = try queue.finished(a, job: job)
        #expect(done.id == a && done.source == .incoming && !queue.contains(a))
        #expect(queue.remove(b)?.source == .deferred)
        #expect(queue.count == 0 && queue.remove(b) == nil)
        #expect(queue.verify() == [])
    }

    @Test func admissionKeepsTheBounds() throws {
        var queue = try Self.queue(capacity: 10, deferredMaximum: 0.3)
        for n in 0..<3 { try queue.admit(Self.id(UInt64(n)), from: .deferred, now: Self.t0) }
        #expect(throws: ActiveQueueError.deferredMaximum) { try queue.admit(Self.id(99), from: .deferred, now: Self.t0) }
        #expect(throws: ActiveQueueError.duplicate(Self.id(0))) { try queue.admit(Self.id(0), from: .incoming, now: Self.t0) }
        for n in 10..<17 { try queue.admit(Self.id(UInt64(n)), from: .incoming, now: Self.t0) }
        #expect(queue.freeSlots == 0 && !queue.isAtOrBelowLowWatermark)
        #expect(throws: ActiveQueueError.full) { try queue.admit(Self.id(98), from: .incoming, now: Self.t0) }
        #expect(queue.count == 10 && queue.count(from: .deferred) == 3 && queue.verify() == [])
        // A deferred entry leaving makes room for another.
        queue.remove(Self.id(1))
        try queue.admit(Self.id(99), from: .deferred, now: Self.t0)
        #expect(queue.count(from: .deferred) == 3 && queue.verify() == [])
    }

    @Test func lateAndRepeatedAnswersAreRefused() throws {
        var queue = try Self.queue()
        let a = Self.id(1), b = Self.id(2), c = Self.id(3)
        #expect(throws: ActiveQueueError.unknownRecipient(a)) { try queue.resolved(a, deliveryClass: .smtp, nextHop: Self.hop, now: Self.t0) }
        for id in [a, b, c] { try queue.admit(id, from: .incoming, now: Self.t0) }
        try queue.resolved(a, deliveryClass: .smtp, nextHop: Self.hop, now: Self.t0)
        #expect(throws: ActiveQueueError.wrongState(a, .awaitingJob)) { try queue.resolved(a, deliveryClass: .local, nextHop: Self.hop, now: Self.t0) }
        #expect(queue.entry(a)?.deliveryClass == .smtp)
        // A job with one unresolved recipient changes nothing.
        #expect(throws: ActiveQueueError.wrongState(b, .awaitingResolution)) { try queue.dispatched([a, b], job: DeliveryJob.ID(1), now: Self.t0) }
        #expect(queue.entry(a)?.state == .awaitingJob)
        #expect(throws: ActiveQueueError.unknownRecipient(Self.id(9))) { try queue.dispatched([a, Self.id(9)], job: DeliveryJob.ID(1), now: Self.t0) }
        #expect(throws: ActiveQueueError.wrongState(a, .awaitingJob)) { try queue.dispatched([a, a], job: DeliveryJob.ID(1), now: Self.t0) }
        #expect(queue.entry(a)?.state == .awaitingJob && queue.verify() == [])
        #expect(throws: ActiveQueueError.wrongState(a, .awaitingJob)) { try queue.finished(a, job: DeliveryJob.ID(1)) }

        // Job 1 times out; the recipient comes back and goes out in job 2; job 1's late
        // result must not take it out.
        try queue.dispatched([a], job: DeliveryJob.ID(1), now: Self.t0)
        let expired = queue.expired(now: Self.t0 + .minutes(10), resolverTimeout: .hours(1), agentTimeout: .minutes(10))
        #expect(expired.map(\.id) == [a])
        queue.remove(a)
        #expect(throws: ActiveQueueError.unknownRecipient(a)) { try queue.finished(a, job: DeliveryJob.ID(1)) }
        try queue.admit(a, from: .deferred, now: Self.t0 + .minutes(20))
        try queue.resolved(a, deliveryClass: .smtp, nextHop: Self.hop, now: Self.t0 + .minutes(20))
        try queue.dispatched([a], job: DeliveryJob.ID(2), now: Self.t0 + .minutes(20))
        #expect(throws: ActiveQueueError.wrongState(a, .atAgent)) { try queue.finished(a, job: DeliveryJob.ID(1)) }
        #expect(queue.contains(a))
        #expect(try queue.finished(a, job: DeliveryJob.ID(2)).source == .deferred)
        #expect(queue.verify() == [])
    }

    /// The seed's "Cleanup of Active Queue": the resolver and agent waits have their own
    /// timeouts, counted from when the entry entered its state; a resolved entry waiting for
    /// a job does not expire.
    @Test func expiryCountsFromTheStateEntered() throws {
        var queue = try Self.queue()
        let resolving = Self.id(1), waiting = Self.id(2), atAgent = Self.id(3), lateResolving = Self.id(4)
        try queue.admit(resolving, from: .incoming, now: Self.t0)
        try queue.admit(waiting, from: .incoming, now: Self.t0)
        try queue.admit(atAgent, from: .deferred, now: Self.t0)
        try queue.admit(lateResolving, from: .incoming, now: Self.t0 + .seconds(30))
        try queue.resolved(waiting, deliveryClass: .smtp, nextHop: Self.hop, now: Self.t0)
        try queue.resolved(atAgent, deliveryClass: .smtp, nextHop: Self.hop, now: Self.t0 + .seconds(50))
        try queue.dispatched([atAgent], job: DeliveryJob.ID(1), now: Self.t0 + .seconds(60))
        let resolverTimeout = Duration.seconds(120), agentTimeout = Duration.seconds(600)

        func expired(_ at: Timestamp) -> [RecipientID] {
            queue.expired(now: at, resolverTimeout: resolverTimeout, agentTimeout: agentTimeout).map(\.id)
        }
        #expect(queue.nextExpiry(resolverTimeout: resolverTimeout, agentTimeout: agentTimeout) == Self.t0 + .seconds(120))
        #expect(expired(Self.t0 + .seconds(120) - .microseconds(1)) == [])
        #expect(expired(Self.t0 + .seconds(120)) == [resolving])
        #expect(expired(Self.t0 + .seconds(150)) == [resolving, lateResolving])
        // At an agent since t0 + 60 s, not since admission.
        #expect(expired(Self.t0 + .seconds(659)) == [resolving, lateResolving])
        #expect(expired(Self.t0 + .seconds(660)) == [resolving, lateResolving, atAgent])
        #expect(expired(Self.t0 + .days(30)) == [resolving, lateResolving, atAgent])
        #expect(queue.count == 4)  // listing takes nothing out
        for id in expired(Self.t0 + .days(30)) { queue.remove(id) }
        #expect(queue.nextExpiry(resolverTimeout: resolverTimeout, agentTimeout: agentTimeout) == nil)
        #expect(queue.entries(in: .awaitingJob).map(\.id) == [waiting] && queue.verify() == [])
    }

    @Test func capacityOne() throws {
        var queue = try Self.queue(capacity: 1)
        #expect(queue.configuration.maximumDeferred == 1 && queue.configuration.lowWatermark == 0)
        try queue.admit(Self.id(1), from: .deferred, now: Self.t0)
        #expect(throws: ActiveQueueError.full) { try queue.admit(Self.id(2), from: .incoming, now: Self.t0) }
        #expect(!queue.isAtOrBelowLowWatermark)
        queue.remove(Self.id(1))
        #expect(queue.isAtOrBelowLowWatermark && queue.verify() == [])
    }
}
