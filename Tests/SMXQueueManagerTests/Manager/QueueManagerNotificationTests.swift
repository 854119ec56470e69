import Testing
import SMXQueueManager
import SMXStore
import SMXTestSupport

/// The queue manager sending notifications itself (``QueueManagerConfiguration/notifications``
/// set): failure notifications when a failed recipient's report time comes, one delay
/// notification per envelope after the warning time, success notifications for
/// NOTIFY=SUCCESS, the postmaster once for a null-sender failure and never a loop; and
/// the bodies: the original's is released once its last recipient is reported, the
/// notification's once it is delivered.
@Suite(.timeLimit(.minutes(3))) struct QueueManagerNotificationTests {
    static let notifications = NotificationConfiguration(reportingMTA: "mta.example", postmaster: "pm@postmaster.example")

    static func start(postmaster: String = "pm@postmaster.example", warnAfter: Duration? = nil) async throws -> ManagerHarness {
        var configuration = try ManagerHarness.configuration()
        configuration.notifications = NotificationConfiguration(reportingMTA: "mta.example", postmaster: postmaster)
        let policy = try RetryPolicy(
            rules: [RetryRule(.any, schedule: .steps([.fixed(ManagerHarness.retryInterval, until: .days(30))]), lifetime: ManagerHarness.lifetime, warnAfter: warnAfter)],
            fuzz: 0
        )
        return try await ManagerHarness.start(SimulatedFileSystem(seed: 41), configuration: configuration, policy: policy)
    }

    static func receive(
        _ h: ManagerHarness, sender: String = "sender@example.org", _ recipients: [(String, NotifyFlags)], envid: String? = nil
    ) async throws -> AcceptedMessage {
        let message = try h.receiver.begin(sender: sender, parameters: MailParameters(envelopeID: envid))
        for (address, notify) in recipients { try message.addRecipient(address, parameters: RecipientParameters(notify: notify)) }
        try await message.appendBody(MailBodyGenerator.body(size: 1_500, seed: 3))
        return try await message.commit()
    }

    /// The notifications the agent delivered, with their text.
    static func notices(_ h: ManagerHarness) throws -> [(copy: SimulatedDeliveryAgent.DeliveredCopy, text: String)] {
        try h.agent.messages.filter { $0.envelope.sender.isEmpty }.map { copy in
            (copy, String(decoding: try #require(copy.body, "the agent read the body"), as: UTF8.self))
        }
    }

    @Test func aFailedRecipientIsReportedToItsSenderOnceAndLeavesTheQueue() async throws {
        let h = try await Self.start()
        h.agent.set(.rejecting, for: "rejecting.example")
        let original = try await Self.receive(h, [("a@up.example", []), ("b@rejecting.example", []), ("c@reject.example", [])], envid: "E-1")
        await h.settle()

        let notices = try Self.notices(h)
        #expect(notices.count == 1)
        let notice = try #require(notices.first)
        #expect(notice.copy.addresses == ["sender@example.org"])
        #expect(notice.text.contains("Original-Envelope-Id: E-1"))
        #expect(notice.text.contains("Final-Recipient: rfc822; b@rejecting.example"))
        #expect(notice.text.contains("Final-Recipient: rfc822; c@reject.example"))
        #expect(!notice.text.contains("Final-Recipient: rfc822; a@up.example"))
        #expect(notice.text.contains("Action: failed"))
        #expect(try h.deferredRecipients().isEmpty)
        #expect(h.stores.log.openTransactions().isEmpty)
        #expect(!h.stores.content.contains(original.transaction.content.id))
        #expect(!h.stores.content.contains(notice.copy.envelope.content.id))
        #expect(await h.manager.referenceCounts.isEmpty)
        let totals = await h.manager.statistics().totals
        #expect(totals.bounced == 2)
        #expect(totals.notificationsSent == 1)

        // Nothing more is sent later.
        await h.advance(by: .hours(3))
        #expect(try Self.notices(h).count == 1)
        await h.stop()
    }

    @Test func aNullSenderFailureGoesOnceToThePostmasterAndItsOwnFailureIsDropped() async throws {
        let h = try await Self.start(postmaster: "pm@rejecting.example")
        h.agent.set(.rejecting, for: "rejecting.example")
        _ = try await Self.receive(h, sender: "", [("x@rejecting.example", [])])
        await h.settle()
        await h.advance(by: .hours(1))

        // The postmaster notice was tried once, failed, and was dropped: nothing else.
        let attempts = h.agent.attempts
        #expect(attempts.count == 2, "the message and the postmaster notice: \(attempts)")
        #expect(attempts.values.allSatisfy { $0 == 1 })
        #expect(try Self.notices(h).isEmpty)
        #expect(try h.deferredRecipients().isEmpty)
        #expect(await h.manager.referenceCounts.isEmpty)
        let totals = await h.manager.statistics().totals
        #expect(totals.notificationsSent == 1)
        #expect(totals.bounced == 2)
        await h.stop()
    }

    @Test func aDelayNotificationGoesOncePerEnvelopeAfterTheWarningTime() async throws {
        let h = try await Self.start(warnAfter: .hours(1))
        h.agent.set(.down, for: "down.example")
        _ = try await Self.receive(h, [("d@down.example", []), ("e@down.example", [.delay]), ("n@down.example", [.never]), ("u@up.example", [])])
        await h.settle()
        for _ in 0..<3 { await h.advance(by: ManagerHarness.retryInterval) }
        #expect(try Self.notices(h).isEmpty, "no warning before the warning time")
        for _ in 0..<3 { await h.advance(by: ManagerHarness.retryInterval) }

        let notices = try Self.notices(h)
        #expect(notices.count == 1)
        let notice = try #require(notices.first)
        #expect(notice.text.contains("Action: delayed"))
        #expect(notice.text.contains("Final-Recipient: rfc822; d@down.example"))
        #expect(notice.text.contains("Final-Recipient: rfc822; e@down.example"))
        #expect(!notice.text.contains("n@down.example"))
        #expect(!notice.text.contains("u@up.example"))
        // The mark is the envelope's: every recipient still deferred carries it.
        let warned = try h.deferredRecipients().filter(\.delayReported).map(\.address).sorted()
        #expect(warned == ["d@down.example", "e@down.example", "n@down.example"])

        for _ in 0..<8 { await h.advance(by: ManagerHarness.retryInterval) }
        #expect(try Self.notices(h).count == 1, "the warning goes once")
        h.agent.set(.up, for: "down.example")
        await h.advance(by: ManagerHarness.retryInterval)
        #expect(try h.deferredRecipients().isEmpty)
        #expect(try Self.notices(h).count == 1)
        #expect(await h.manager.statistics().totals.delayWarned == 2)
        await h.stop()
    }

    @Test func aSuccessNotificationNamesTheRecipientsThatAskedForIt() async throws {
        let h = try await Self.start()
        _ = try await Self.receive(h, [("s@up.example", [.success]), ("q@up.example", []), ("t@up.example", [.success, .failure])], envid: "E-S")
        await h.settle()
        let notices = try Self.notices(h)
        #expect(notices.count == 1)
        let notice = try #require(notices.first)
        #expect(notice.text.contains("Action: delivered"))
        #expect(notice.text.contains("Final-Recipient: rfc822; s@up.example"))
        #expect(notice.text.contains("Final-Recipient: rfc822; t@up.example"))
        #expect(!notice.text.contains("q@up.example"))
        #expect(await h.manager.referenceCounts.isEmpty)
        await h.stop()
    }

    @Test func aFailureAfterRetriesIsReportedWithItsDelayedPeers() async throws {
        // One recipient fails for good on the second try while another is still deferred:
        // one failure notification for the envelope, listing the failure (and the delayed
        // peer once the warning time has passed).
        let h = try await Self.start(warnAfter: .minutes(20))
        h.agent.set(.down, for: "down.example")
        h.agent.set(.flaky(failures: 1), for: "later-rejecting.example")
        _ = try await Self.receive(h, [("f@later-rejecting.example", []), ("w@down.example", [])])
        await h.settle()
        h.agent.set(.rejecting, for: "later-rejecting.example")
        await h.advance(by: ManagerHarness.retryInterval)
        await h.advance(by: ManagerHarness.retryInterval)
        let notices = try Self.notices(h)
        let failure = try #require(notices.first { $0.text.contains("Action: failed") })
        #expect(failure.text.contains("Final-Recipient: rfc822; f@later-rejecting.example"))
        #expect(try h.deferredRecipients().map(\.address) == ["w@down.example"])
        await h.stop()
    }
}
