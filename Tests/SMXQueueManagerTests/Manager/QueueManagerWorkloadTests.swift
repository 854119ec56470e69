import Testing
import SMXQueueManager
import SMXStore
import SMXTestSupport

/// A seeded random walk through the queue manager: messages to several destinations whose
/// behaviour flips between up, down and deferring, a destination that refuses, routes that
/// reject or discard, and the clock moving in random steps; `verify()` after every step.
/// At the end, with every destination up, each recipient has been delivered exactly once
/// or is kept as failed, and nothing else is left in any store.
@Suite(.timeLimit(.minutes(3))) struct QueueManagerWorkloadTests {
    static let hosts = ["h0.example", "h1.example", "h2.example", "h3.example"]
    static let behaviours: [SimulatedDeliveryAgent.Behaviour] = [.up, .up, .down, .deferring]

    @Test(arguments: [UInt64(1), 2, 3])
    func aRandomWalkDeliversEachRecipientOnceOrKeepsItFailed(seed: UInt64) async throws {
        var random = SplitMix64(seed: seed)
        let configuration = try QueueManagerConfiguration(
            activeQueue: ActiveQueueConfiguration(capacity: 12), destinationLimits: DestinationLimits(default: 2), randomSeed: seed
        )
        let h = try await ManagerHarness.start(SimulatedFileSystem(seed: seed), configuration: configuration)
        h.agent.set(.rejecting, for: "refuse.example")
        var refused: Set<RecipientID> = []
        var discarded: Set<RecipientID> = []
        var all: [RecipientID] = []
        var contents: [ContentID] = []
        for step in 0..<120 {
            switch random.below(4) {
            case 0, 1:
                let count = 1 + random.below(4)
                var recipients: [String] = []
                for n in 0..<count {
                    switch random.below(12) {
                    case 0: recipients.append("r\(n)@refuse.example")
                    case 1: recipients.append("r\(n)@reject.example")
                    case 2: recipients.append("r\(n)@discard.example")
                    default: recipients.append("r\(n)@\(Self.hosts[random.below(Self.hosts.count)])")
                    }
                }
                let accepted = try await h.receive(recipients, size: 200 + random.below(3_000), seed: seed &* 1_000 &+ UInt64(step))
                contents.append(accepted.transaction.content.id)
                for (index, address) in recipients.enumerated() {
                    let id = RecipientID(accepted.envelopeID, UInt32(index))
                    all.append(id)
                    if address.hasSuffix("@refuse.example") || address.hasSuffix("@reject.example") { refused.insert(id) }
                    if address.hasSuffix("@discard.example") { discarded.insert(id) }
                }
            case 2:
                h.agent.set(Self.behaviours[random.below(Self.behaviours.count)], for: Self.hosts[random.below(Self.hosts.count)])
            default:
                h.clock.advance(by: .seconds(Int64(60 + random.below(20 * 60))))
            }
            await h.settle()
        }
        for host in Self.hosts { h.agent.set(.up, for: host) }
        for _ in 0..<12 { await h.advance(by: ManagerHarness.retryInterval) }

        let deliveries = h.agent.deliveries
        let left = try h.deferredRecipients()
        #expect(Set(left.map(\.id)) == refused)
        #expect(left.allSatisfy { $0.status == .failed })
        for id in all where !refused.contains(id) {
            let expected = discarded.contains(id) ? nil : 1
            #expect(deliveries[id] == expected, "\(id) delivered \(deliveries[id] ?? 0) times")
        }
        #expect(deliveries.values.allSatisfy { $0 == 1 })
        #expect(h.stores.log.openTransactions().isEmpty)
        let referenced = Set(await h.manager.referenceCounts.keys)
        #expect(contents.filter { h.stores.content.contains($0) }.count == referenced.count)
        let statistics = await h.manager.statistics()
        #expect(statistics.totals.acceptedRecipients == all.count)
        #expect(statistics.totals.delivered + statistics.totals.failed == all.count)
        await h.stop()
    }
}
