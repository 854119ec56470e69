import Synchronization
import Testing
import SMXQueueManager
import SMXStore
import SMXTestSupport

/// The queue manager's notifications under power loss: while it reports two failed
/// recipients (a failure notification queued, the recipients removed as bounced, the
/// notification delivered) and warns of a delay, a power-loss image is taken at every sync
/// point. Each image is recovered in every crash mode and a new manager runs it to the end.
/// Every failed recipient is reported at least once and at most twice (counting the
/// notifications delivered before the crash), the delay warning at least once and at most
/// twice, and nothing is left in any store.
@Suite struct QueueManagerNotificationCrashTests {
    struct Point: Sendable {
        var image: SimulatedImage
        /// What the senders had received when the image was taken.
        var notices: [String]
        /// The message with the failing recipients had been acknowledged.
        var acknowledged: Bool
    }

    static func configuration() throws -> QueueManagerConfiguration {
        var configuration = try ManagerHarness.configuration()
        configuration.notifications = NotificationConfiguration(reportingMTA: "mta.example")
        return configuration
    }

    static func policy() throws -> RetryPolicy {
        try RetryPolicy(
            rules: [RetryRule(.any, schedule: .steps([.fixed(ManagerHarness.retryInterval, until: .days(30))]), lifetime: ManagerHarness.lifetime, warnAfter: .minutes(20))],
            fuzz: 0
        )
    }

    /// The notification texts among what an agent delivered.
    static func notices(_ agent: SimulatedDeliveryAgent) -> [String] {
        agent.messages.filter { $0.envelope.sender.isEmpty }.map { String(decoding: $0.body ?? [], as: UTF8.self) }
    }

    @Test(.timeLimit(.minutes(10)))
    func everyReportIsSentAtLeastOnceAndAtMostTwiceAcrossACrash() async throws {
        let fs = SimulatedFileSystem(seed: 77)
        let h = try await ManagerHarness.start(fs, configuration: Self.configuration(), policy: Self.policy())
        h.agent.set(.rejecting, for: "rejecting.example")
        h.agent.set(.down, for: "down.example")
        let points = Mutex<[Point]>([])
        let acknowledged = Mutex(false)
        let agent = h.agent
        fs.setOperationHook { op in
            guard op.kind.isSync else { return }
            // Acknowledged before the image (a preparer's sync holds no commit back); the
            // notices after it (one sent meanwhile counts as sent, and may be sent again).
            let done = acknowledged.withLock { $0 }
            let image = fs.snapshot()
            let notices = Self.notices(agent)
            points.withLock { $0.append(Point(image: image, notices: notices, acknowledged: done)) }
        }
        _ = try await h.receive(["f1@rejecting.example", "f2@reject.example", "ok@up.example"], seed: 1)
        acknowledged.withLock { $0 = true }
        _ = try await h.receive(["w@down.example"], seed: 2)
        await h.settle()
        // Past the warning time: the deferred recipient's next retry warns its sender.
        await h.advance(by: ManagerHarness.retryInterval)
        await h.advance(by: ManagerHarness.retryInterval)
        fs.setOperationHook(nil)
        #expect(Self.notices(h.agent).count == 2, "one failure and one delay notification")
        await h.stop()

        let images = points.withLock { $0 }
        var problems: [String] = []
        var duplicates = 0
        for (n, point) in images.enumerated() {
            for (m, mode) in CrashMode.allCases.enumerated() {
                let seed = 77 &+ UInt64(n) &* 5 &+ UInt64(m)
                let context = "point \(n) (\(mode))"
                let clock = ManualClock(start: ManagerHarness.t0 + .minutes(30))
                let freshAgent = SimulatedDeliveryAgent(clock: clock)
                freshAgent.set(.rejecting, for: "rejecting.example")
                freshAgent.set(.down, for: "down.example")
                let again = try await ManagerHarness.start(
                    SimulatedFileSystem.restore(point.image, crash: mode, seed: seed), configuration: Self.configuration(), clock: clock,
                    agent: freshAgent, policy: Self.policy()
                )
                await again.settle()
                await again.advance(by: ManagerHarness.retryInterval)
                freshAgent.set(.up, for: "down.example")
                await again.advance(by: ManagerHarness.retryInterval)
                let all = point.notices + Self.notices(freshAgent)
                // A message not yet acknowledged at the image may or may not survive it;
                // an acknowledged one must be reported.
                for address in ["f1@rejecting.example", "f2@reject.example"] {
                    let reports = all.count { $0.contains("Action: failed") && $0.contains("rfc822; \(address)") }
                    let allowed = point.acknowledged ? 1...2 : 0...2
                    if !allowed.contains(reports) { problems.append("\(context): \(address) reported \(reports) times") }
                    if reports == 2 { duplicates += 1 }
                }
                let warnings = all.count { $0.contains("Action: delayed") }
                if warnings > 2 { problems.append("\(context): \(warnings) delay warnings") }
                if !(try again.deferredRecipients().isEmpty) { problems.append("\(context): recipients left: \(try again.deferredRecipients().map(\.address))") }
                if !again.stores.log.openTransactions().isEmpty { problems.append("\(context): open transactions left") }
                if !(await again.manager.referenceCounts.isEmpty) { problems.append("\(context): references left") }
                await again.stop()
            }
            if problems.count > 20 { break }
        }
        print("queue manager notification crash campaign: \(images.count) sync points, \(images.count * CrashMode.allCases.count) recoveries, \(duplicates) duplicate reports, \(problems.count) problems")
        #expect(images.count >= 6)
        #expect(problems.isEmpty, "\(problems.prefix(10))")
    }
}
