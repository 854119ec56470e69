import Synchronization
import Testing
import SMXQueueManager
import SMXStore
import SMXTestSupport

/// The queue manager's crash test: while it writes the results of two rounds of delivery
/// (delivered, deferred, failed, from the incoming and from the deferred queue), a
/// power-loss image is taken at every sync point and every write between them. Each image is recovered in every crash
/// mode, started up again and delivered to the end; no recipient may be lost (each is
/// delivered, before the crash or after, or kept as failed), a deferred copy that was
/// durable wins over the incoming log's pending state (it is not added again), and the
/// crash between a deferred-queue commit and its incoming-log mark must be among the images.
@Suite struct QueueManagerCrashTests {
    struct Point: Sendable {
        var image: SimulatedImage
        /// Recipients the agent had delivered when the image was taken.
        var delivered: Set<RecipientID>
    }

    static let hosts = ["up.example", "down.example", "rejecting.example", "deferring.example", "flaky.example"]

    @Test(.timeLimit(.minutes(10)))
    func noRecipientIsLostOrAddedTwiceByACrashBetweenTheWrites() async throws {
        let fs = SimulatedFileSystem(seed: 900)
        let h = try await ManagerHarness.start(fs)
        h.agent.set(.down, for: "down.example")
        h.agent.set(.rejecting, for: "rejecting.example")
        h.agent.set(.deferring, for: "deferring.example")
        h.agent.set(.flaky(failures: 1), for: "flaky.example")
        for host in Self.hosts { h.agent.setDelay(.minutes(1), for: host) }
        var messages: [AcceptedMessage] = []
        for n in 0..<6 {
            let recipients = Self.hosts.enumerated().filter { ($0.offset + n) % 3 != 0 }.map { "r\(n)@\($0.element)" } + ["x\(n)@reject.example"]
            messages.append(try await h.receive(recipients, seed: UInt64(n)))
        }
        await h.settle(agentJobs: nil)

        let points = Mutex<[Point]>([])
        let agent = h.agent
        fs.setOperationHook { op in
            guard op.kind.isSync || op.kind == .write else { return }
            let image = fs.snapshot()
            let delivered = Set(agent.deliveries.keys)
            points.withLock { $0.append(Point(image: image, delivered: delivered)) }
        }
        // Every job sleeps on the clock, so "any number of jobs running" is exact here.
        await h.advance(by: .minutes(1))
        await h.advance(by: ManagerHarness.retryInterval, agentJobs: nil)
        await h.advance(by: .minutes(1))
        fs.setOperationHook(nil)
        await h.stop()

        let all = messages.flatMap { m in m.transaction.recipients.indices.map { RecipientID(m.envelopeID, UInt32($0)) } }
        let address = Dictionary(uniqueKeysWithValues: messages.flatMap { m in
            m.transaction.recipients.enumerated().map { (RecipientID(m.envelopeID, UInt32($0.offset)), $0.element.address) }
        })
        let images = points.withLock { $0 }
        var problems: [String] = []
        var between = 0
        for (n, point) in images.enumerated() {
            for (m, mode) in CrashMode.allCases.enumerated() {
                let seed = 900 &+ UInt64(n) &* 7 &+ UInt64(m)
                let context = "point \(n) (\(mode))"
                let stores = try QueueStores(SimulatedFileSystem.restore(point.image, crash: mode, seed: seed))
                let before = try Self.deferred(stores)
                for transaction in stores.log.openTransactions() {
                    for (index, recipient) in transaction.recipients.enumerated() where recipient.state == .pending {
                        if before[RecipientID(transaction.envelopeID, UInt32(index))] != nil { between += 1 }
                    }
                }
                let startup = try await QueueStartup(log: stores.log, contentStore: stores.content, deferredQueue: stores.deferred)
                    .run(now: ManagerHarness.t0.microsecondsSinceEpoch)
                let after = try Self.deferred(stores)
                for (id, record) in before where after[id] != nil && after[id] != record {
                    problems.append("\(context): \(id)'s deferred copy changed by startup: \(record) became \(String(describing: after[id]))")
                }
                for id in all where !point.delivered.contains(id) && after[id] == nil {
                    problems.append("\(context): \(id) lost (neither delivered nor deferred)")
                }
                if !stores.log.openTransactions().isEmpty { problems.append("\(context): open transactions after startup") }
                if startup.report.unmovable.count > 0 { problems.append("\(context): unmovable \(startup.report.unmovable)") }
                stores.close()

                // Start a manager on the recovered queue with every agent up: everything
                // left is delivered, except what is refused for good.
                let clock = ManualClock(start: ManagerHarness.t0 + .hours(1))
                let freshAgent = SimulatedDeliveryAgent(clock: clock)
                freshAgent.set(.rejecting, for: "rejecting.example")
                let again = try await ManagerHarness.start(
                    SimulatedFileSystem.restore(point.image, crash: mode, seed: seed), clock: clock, agent: freshAgent)
                await again.settle()
                await again.advance(by: .hours(1))
                let left = try again.deferredRecipients()
                for recipient in left where recipient.status != .failed {
                    problems.append("\(context): \(recipient.id) still \(recipient.status) after the restart")
                }
                let failed = Set(left.map(\.id))
                for id in all {
                    let host = address[id].flatMap { $0.split(separator: "@").last.map(String.init) } ?? ""
                    let refused = host == "rejecting.example" || host == "reject.example"
                    if refused != failed.contains(id) { problems.append("\(context): \(id) at \(host) failed: \(failed.contains(id))") }
                    if !refused, !point.delivered.contains(id), again.agent.deliveries[id] != 1 {
                        problems.append("\(context): \(id) delivered \(again.agent.deliveries[id] ?? 0) times after the restart")
                    }
                }
                await again.stop()
            }
            if problems.count > 20 { break }
        }
        print("queue manager crash campaign: \(images.count) sync and write points, \(images.count * CrashMode.allCases.count) recoveries, \(between) recipients caught between the deferred commit and the incoming mark, \(problems.count) problems")
        #expect(images.count >= 6)  // round one: deferred queue and incoming log; round two: deferred queue; a write before each sync
        #expect(between > 0, "no image fell between a deferred-queue commit and its incoming-log mark")
        #expect(problems.isEmpty, "\(problems.prefix(10))")
    }

    static func deferred(_ stores: QueueStores) throws -> [RecipientID: DeferredRecipient] {
        let reader = try stores.deferred.reader()
        defer { reader.close() }
        var records: [RecipientID: DeferredRecipient] = [:]
        for transaction in try reader.transactions() {
            for recipient in try reader.recipients(of: transaction.envelopeID) { records[recipient.id] = recipient }
        }
        return records
    }
}
