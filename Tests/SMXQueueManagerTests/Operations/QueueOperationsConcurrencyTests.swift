import Testing
import SMXQueueManager
import SMXStore
import SMXTestSupport

/// Operations, the notification pass and a writer standing in for the queue manager (it
/// records delivery attempts) work on one deferred queue at once; each goes through the
/// queue's group commit. Afterwards every failure is reported exactly once, the operations'
/// last word stands, and the queue verifies.
@Suite struct QueueOperationsConcurrencyTests {
    @Test(.timeLimit(.minutes(5)))
    func operationsThePassAndAttemptsRunSideBySide() async throws {
        let f = try BounceFixture(SimulatedFileSystem(seed: 30))
        defer { f.stores.close() }
        let far = QueueStores.t0 + 86_400_000_000
        var envelopes: [DeferredTransaction] = []
        for n in 0..<24 {
            envelopes.append(try await f.queue(sender: "s\(n)@example.net", [
                .init(address: "failed\(n)@example.com"),
                .init(address: "deferred\(n)@example.com", status: .deferred, reply: BounceFixture.deferredReply, nextTry: far),
                .init(address: "bounced\(n)@example.com", status: .deferred, reply: BounceFixture.deferredReply, nextTry: far),
            ]))
        }
        let operations = QueueOperations(deferredQueue: f.stores.deferred, contentStore: f.stores.content, incomingLog: f.stores.log)
        let now = BounceFixture.now
        let ids = envelopes.map(\.envelopeID)

        let firstPass = try await withThrowingTaskGroup(of: NotificationPassReport?.self) { group in
            group.addTask { try await f.pass.run(now: now) }
            group.addTask {
                for id in ids {
                    _ = try await operations.hold(.recipients([RecipientID(id, 1)]))
                    _ = try await operations.release(.recipients([RecipientID(id, 1)]), now: now)
                    _ = try await operations.requeue(.envelopes([id]), now: now)
                }
                return nil
            }
            group.addTask {
                for id in ids {
                    _ = try await operations.bounce(.recipients([RecipientID(id, 2)]), now: now)
                }
                return nil
            }
            group.addTask {
                for id in ids.reversed() {
                    try await f.stores.deferred.apply(.recordAttempt(
                        RecipientID(id, 1),
                        DeliveryAttempt(atMicros: now.microsecondsSinceEpoch, reply: BounceFixture.deferredReply, outcome: .retry(nextTry: far))
                    ))
                }
                return nil
            }
            var report: NotificationPassReport?
            for try await result in group { if let result { report = result } }
            return report
        }
        #expect(firstPass?.failures.isEmpty == true)
        // A second pass reports what the first could not see yet (bounces committed after
        // it read an envelope).
        let secondPass = try await f.pass.run(now: now)
        #expect(secondPass.failures.isEmpty)

        let texts = try f.notifications().map(\.text)
        for n in 0..<24 {
            #expect(texts.count { $0.contains("Final-Recipient: rfc822; failed\(n)@example.com\r\n") } == 1, "failed\(n)")
            #expect(texts.count { $0.contains("Final-Recipient: rfc822; bounced\(n)@example.com\r\n") } == 1, "bounced\(n)")
            #expect(!texts.contains { $0.contains("deferred\(n)@example.com") })
        }
        for envelope in envelopes {
            let left = try f.recipients(of: envelope.envelopeID)
            #expect(left.map(\.address) == ["deferred\(envelopes.firstIndex(of: envelope) ?? -1)@example.com"])
            #expect(left.first?.status == .deferred)
        }
        #expect(f.deferredProblems() == [])
        let statistics = try QueueStatistics.read(incomingLog: f.stores.log, deferredQueue: f.stores.deferred, now: now)
        #expect(statistics.deferredEnvelopes == 24)
        #expect(statistics.deferredRecipients == 24)
        #expect(statistics.failedRecipients == 0)
    }
}
