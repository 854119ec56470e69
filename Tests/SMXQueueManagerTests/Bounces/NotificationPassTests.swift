import Testing
import SMXQueueManager
import SMXStore
import SMXTestSupport

@Suite struct NotificationPassTests {
    @Test func aFailedRecipientGetsExactlyOneNotificationAndLeavesTheQueue() async throws {
        let f = try BounceFixture(SimulatedFileSystem(seed: 1))
        defer { f.stores.close() }
        let original = try await f.queue(
            mail: MailParameters(ret: .headers, envelopeID: "QQ314159"),
            [.init(address: "bob@example.com", orcpt: "rfc822;Bob@Example.com")]
        )

        let report = try await f.pass.run(now: BounceFixture.now)

        #expect(report.sent.count == 1)
        #expect(report.recipientsReported == 1)
        #expect(report.removedRecipients == [RecipientID(original.envelopeID, 0)])
        let dsns = try f.notifications()
        try #require(dsns.count == 1)
        let (dsn, text) = dsns[0]
        #expect(dsn.sender == "")
        #expect(dsn.recipients.map(\.address) == ["alice@example.net"])
        #expect(dsn.envelopeID == report.sent[0].notificationEnvelopeID)
        #expect(dsn.mail.envelopeID == nil)
        #expect(text.contains("To: <alice@example.net>\r\n"))
        #expect(text.contains("Content-Type: multipart/report; report-type=delivery-status;"))
        #expect(text.contains("Content-Type: message/delivery-status\r\n"))
        #expect(text.contains("Original-Envelope-Id: QQ314159\r\n"))
        #expect(text.contains("Original-Recipient: rfc822; Bob@Example.com\r\n"))
        #expect(text.contains("Final-Recipient: rfc822; bob@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"))
        #expect(text.contains("Diagnostic-Code: smtp; 550 5.1.1 <bob@example.com>: no such user\r\n"))
        #expect(text.contains("Content-Type: text/rfc822-headers\r\n"))
        #expect(text.contains("Subject: Lunch\r\n"))
        #expect(!text.contains("The body text of Lunch."))

        // The recipient, its envelope and its body are gone; the queue verifies.
        #expect(try f.transaction(original.envelopeID) == nil)
        #expect(report.releasedBodies == [original.content.id])
        #expect(!f.stores.content.contains(original.content.id))
        #expect(f.deferredProblems() == [])

        // A second pass finds nothing to do.
        let again = try await f.pass.run(now: BounceFixture.now)
        #expect(again.sent.isEmpty)
        #expect(try f.notifications().count == 1)
    }

    @Test func failuresOfOneEnvelopeAreCoalescedIntoOneNotification() async throws {
        let f = try BounceFixture(SimulatedFileSystem(seed: 2))
        defer { f.stores.close() }
        let original = try await f.queue([
            .init(address: "bob@example.com"),
            .init(address: "carol@example.org", reply: DeliveryReply(code: 451, text: "4.4.1 timed out")),
            .init(address: "dave@example.com", status: .deferred, reply: BounceFixture.deferredReply, nextTry: QueueStores.t0 + 7_200_000_000),
        ])
        let other = try await f.queue(sender: "erin@example.net", [.init(address: "frank@example.com")])

        let report = try await f.pass.run(now: BounceFixture.now)

        #expect(report.sent.map(\.originalEnvelopeID).sorted() == [original.envelopeID, other.envelopeID].sorted())
        let dsns = try f.notifications()
        #expect(dsns.count == 2)
        let aliceDSN = try #require(dsns.first { $0.transaction.recipients.first?.address == "alice@example.net" }?.text)
        #expect(aliceDSN.occurrences(of: "Final-Recipient:") == 2)
        #expect(aliceDSN.contains("Final-Recipient: rfc822; bob@example.com\r\nAction: failed\r\nStatus: 5.1.1"))
        // A temporary last reply on a failed recipient: its lifetime ran out.
        #expect(aliceDSN.contains("Final-Recipient: rfc822; carol@example.org\r\nAction: failed\r\nStatus: 4.4.7"))
        #expect(!aliceDSN.contains("dave@example.com"))
        // The deferred recipient stays, and with it the envelope and its body.
        let left = try f.recipients(of: original.envelopeID)
        #expect(left.map(\.address) == ["dave@example.com"])
        #expect(try f.transaction(original.envelopeID)?.bounced == 2)
        #expect(f.stores.content.contains(original.content.id))
        #expect(f.deferredProblems() == [])
    }

    @Test(arguments: [MailParameters.Return.headers, .full])
    func returnContentFollowsRET(ret: MailParameters.Return) async throws {
        let f = try BounceFixture(SimulatedFileSystem(seed: 3))
        defer { f.stores.close() }
        try await f.queue(mail: MailParameters(ret: ret), [.init(address: "bob@example.com")])
        _ = try await f.pass.run(now: BounceFixture.now)
        let text = try #require(try f.notifications().first?.text)
        switch ret {
        case .headers:
            #expect(text.contains("Content-Type: text/rfc822-headers\r\n"))
            #expect(!text.contains("message/rfc822"))
            #expect(!text.contains("The body text of Lunch."))
        case .full:
            #expect(text.contains("Content-Type: message/rfc822\r\n"))
            #expect(text.contains("The body text of Lunch."))
        }
        #expect(text.contains("Subject: Lunch\r\n"))
    }

    @Test func aFailedBounceGoesToThePostmasterOnceAndAFailedNoticeIsDropped() async throws {
        let f = try BounceFixture(SimulatedFileSystem(seed: 4))
        defer { f.stores.close() }
        // A bounce (null sender) that failed.
        let bounce = try await f.queue(sender: "", [.init(address: "alice@example.net")])
        let first = try await f.pass.run(now: BounceFixture.now)
        try #require(first.sent.count == 1)
        #expect(first.sent[0].isPostmasterNotice)
        #expect(first.sent[0].deliverTo == "postmaster@mx1.example.org")
        let notices = try f.notifications()
        try #require(notices.count == 1)
        let notice = notices[0].transaction
        #expect(notice.sender == "")
        #expect(notice.mail.envelopeID == NotificationPass.postmasterNoticeEnvelopeID)
        #expect(notice.recipients.map(\.address) == ["postmaster@mx1.example.org"])
        #expect(notice.recipients.map(\.notify) == [[.never]])
        #expect(notices[0].text.contains("This report goes to the postmaster"))
        #expect(try f.transaction(bounce.envelopeID) == nil)

        // The notice fails too: it is dropped, counted, and nothing new is sent.
        try await f.move(notice, [.init(address: "postmaster@mx1.example.org")])
        let second = try await f.pass.run(now: BounceFixture.now)
        #expect(second.sent.isEmpty)
        #expect(second.dropped == [DroppedNotification(envelopeID: notice.envelopeID, recipients: [RecipientID(notice.envelopeID, 0)], reason: .postmasterNoticeFailed)])
        #expect(try f.notifications().isEmpty)
        #expect(try f.transaction(notice.envelopeID) == nil)
        #expect(f.deferredProblems() == [])
    }

    @Test func aNullSenderFailureWithoutAPostmasterIsDropped() async throws {
        let f = try BounceFixture(SimulatedFileSystem(seed: 5), configuration: NotificationConfiguration(reportingMTA: "mx1.example.org", postmaster: ""))
        defer { f.stores.close() }
        let bounce = try await f.queue(sender: "", [.init(address: "alice@example.net")])
        let report = try await f.pass.run(now: BounceFixture.now)
        #expect(report.sent.isEmpty)
        #expect(report.dropped.map(\.reason) == [.noPostmaster])
        #expect(try f.transaction(bounce.envelopeID) == nil)
        #expect(try f.notifications().isEmpty)
    }

    @Test func notifyNeverOrWithoutFailureSendsNothing() async throws {
        let f = try BounceFixture(SimulatedFileSystem(seed: 6))
        defer { f.stores.close() }
        let never = try await f.queue([.init(address: "bob@example.com", notify: [.never])])
        let successOnly = try await f.queue([.init(address: "carol@example.com", notify: [.success, .delay])])
        let report = try await f.pass.run(now: BounceFixture.now)
        #expect(report.sent.isEmpty)
        #expect(report.recipientsSuppressed == 2)
        #expect(try f.notifications().isEmpty)
        #expect(try f.transaction(never.envelopeID) == nil)
        #expect(try f.transaction(successOnly.envelopeID) == nil)
        #expect(!f.stores.content.contains(never.content.id))
        #expect(f.deferredProblems() == [])
    }

    @Test func aFailureNotYetDueWaits() async throws {
        let f = try BounceFixture(SimulatedFileSystem(seed: 7))
        defer { f.stores.close() }
        let original = try await f.queue([.init(address: "bob@example.com", nextTry: BounceFixture.now.microsecondsSinceEpoch + 1)])
        let report = try await f.pass.run(now: BounceFixture.now)
        #expect(report.sent.isEmpty)
        #expect(try f.recipients(of: original.envelopeID).count == 1)
        let later = try await f.pass.run(now: Timestamp(microsecondsSinceEpoch: BounceFixture.now.microsecondsSinceEpoch + 1))
        #expect(later.sent.count == 1)
    }

    @Test func aDelayWarningIsSentOnceAfterTheWarningTime() async throws {
        let f = try BounceFixture(SimulatedFileSystem(seed: 8))
        defer { f.stores.close() }
        let far = QueueStores.t0 + 86_400_000_000
        let original = try await f.queue(mail: MailParameters(envelopeID: "D-1"), [
            .init(address: "bob@example.com", status: .deferred, reply: BounceFixture.deferredReply, nextTry: far),
            .init(address: "carol@example.com", notify: [.failure], status: .deferred, reply: BounceFixture.deferredReply, nextTry: far),
            .init(address: "dave@example.com", notify: [.delay, .failure], status: .held, reply: BounceFixture.deferredReply),
        ])

        // Before the warning time: nothing.
        #expect(try await f.pass.run(now: BounceFixture.now).sent.isEmpty)

        let report = try await f.pass.run(now: BounceFixture.late)
        #expect(report.sent.map(\.kind) == [.delay])
        #expect(report.recipientsWarned == 2)
        let text = try #require(try f.notifications().first?.text)
        #expect(text.contains("Subject: Delayed Mail (still being retried)"))
        #expect(text.contains("Original-Envelope-Id: D-1\r\n"))
        #expect(text.contains("Final-Recipient: rfc822; bob@example.com\r\nAction: delayed\r\nStatus: 4.4.1"))
        #expect(text.contains("Final-Recipient: rfc822; dave@example.com\r\nAction: delayed"))
        #expect(!text.contains("carol@example.com"))
        // Will-Retry-Until: arrival plus the four-day lifetime.
        #expect(text.contains("Will-Retry-Until: \((Timestamp(microsecondsSinceEpoch: QueueStores.t0) + .days(4)).rfc5322)"))
        // Delay notifications return headers only, and keep every recipient queued, marked.
        #expect(text.contains("text/rfc822-headers"))
        let recipients = try f.recipients(of: original.envelopeID)
        #expect(recipients.count == 3)
        #expect(recipients.filter(\.delayReported).map(\.address) == ["bob@example.com", "carol@example.com", "dave@example.com"])
        #expect(try f.transaction(original.envelopeID)?.delayNotifiedMicros == BounceFixture.late.microsecondsSinceEpoch)
        #expect(f.deferredProblems() == [])

        // Once only.
        let again = try await f.pass.run(now: Timestamp(microsecondsSinceEpoch: BounceFixture.late.microsecondsSinceEpoch + 3_600_000_000))
        #expect(again.sent.isEmpty)
        #expect(try f.notifications().count == 1)
    }

    @Test func aFailureAndAnOwedDelayOfOneEnvelopeShareOneNotification() async throws {
        let f = try BounceFixture(SimulatedFileSystem(seed: 9))
        defer { f.stores.close() }
        let original = try await f.queue([
            .init(address: "bob@example.com"),
            .init(address: "carol@example.com", status: .deferred, reply: BounceFixture.deferredReply, nextTry: QueueStores.t0 + 86_400_000_000),
        ])
        let report = try await f.pass.run(now: BounceFixture.late)
        #expect(report.sent.map(\.kind) == [.failure])
        let text = try #require(try f.notifications().first?.text)
        #expect(text.contains("Action: failed"))
        #expect(text.contains("Action: delayed"))
        #expect(try f.recipients(of: original.envelopeID).map(\.delayReported) == [true])
    }

    @Test func successNotificationsReportOnlyRecipientsThatAskedForThem() async throws {
        let f = try BounceFixture(SimulatedFileSystem(seed: 10))
        defer { f.stores.close() }
        let message = try f.receiver.begin(sender: "alice@example.net", parameters: MailParameters(ret: .full, envelopeID: "S-1"))
        try message.addRecipient("bob@example.com", parameters: RecipientParameters(notify: [.success, .failure], originalRecipient: "rfc822;bob@example.com"))
        try message.addRecipient("carol@example.com")
        try await message.appendBody(BounceFixture.message())
        let accepted = try await message.commit()
        let at = Timestamp(microsecondsSinceEpoch: QueueStores.t0 + 5_000_000)
        let delivered = DeliveredMessage(accepted.transaction, recipients: [
            DeliveredRecipient(id: RecipientID(accepted.envelopeID, 0), address: "bob@example.com", notify: [.success, .failure],
                               originalRecipient: "rfc822;bob@example.com",
                               reply: StatusReply(DeliveryReply(code: 250, text: "2.0.0 ok queued"), status: EnhancedStatusCode(2, 0, 0)!, remoteMTA: "mx.example.com"),
                               at: at),
            DeliveredRecipient(id: RecipientID(accepted.envelopeID, 1), address: "carol@example.com", notify: [], at: at),
        ])

        let sent = try #require(try await f.pass.notifyDelivered(delivered, now: BounceFixture.now))
        #expect(sent.kind == .success)
        #expect(sent.recipients == [RecipientID(accepted.envelopeID, 0)])
        let text = try #require(try f.notifications().first?.text)
        #expect(text.contains("Subject: Successful Mail Delivery Report"))
        #expect(text.contains("Original-Envelope-Id: S-1"))
        #expect(text.contains("Final-Recipient: rfc822; bob@example.com\r\nAction: delivered\r\nStatus: 2.0.0\r\nRemote-MTA: dns; mx.example.com"))
        #expect(!text.contains("carol@example.com"))
        // RET=FULL applies to failures only.
        #expect(text.contains("text/rfc822-headers"))
        #expect(!text.contains("The body text of Lunch."))

        // Nobody asked, or a null sender: nothing.
        var none = delivered
        none.recipients.removeFirst()
        #expect(try await f.pass.notifyDelivered(none, now: BounceFixture.now) == nil)
        var bounce = delivered
        bounce.sender = ""
        #expect(try await f.pass.notifyDelivered(bounce, now: BounceFixture.now) == nil)
        #expect(try f.notifications().count == 1)
    }

    @Test func aRefusedNotificationLeavesTheRecipientForTheNextPass() async throws {
        let f = try BounceFixture(SimulatedFileSystem(seed: 11))
        defer { f.stores.close() }
        let original = try await f.queue([.init(address: "bob@example.com")])
        struct Refuse: AdmissionPolicy { func admission() -> Admission { .refuse("test") } }
        let refusing = NotificationPass(
            deferredQueue: f.stores.deferred, contentStore: f.stores.content,
            receiver: Receiver(log: f.stores.log, contentStore: f.stores.content, envelopeIDs: f.receiver.envelopeIDs, admission: Refuse()),
            configuration: BounceFixture.configuration, retryPolicy: try BounceFixture.policy()
        )
        let report = try await refusing.run(now: BounceFixture.now)
        #expect(report.sent.isEmpty)
        #expect(report.failures.map(\.envelopeID) == [original.envelopeID])
        #expect(try f.recipients(of: original.envelopeID).count == 1)
        #expect(try await f.pass.run(now: BounceFixture.now).sent.count == 1)
    }

    @Test func aNotificationTooLargeForTheReceiverGoesWithoutTheOriginal() async throws {
        let f = try BounceFixture(SimulatedFileSystem(seed: 13))
        defer { f.stores.close() }
        let body = BounceFixture.message() + MailBodyGenerator.body(size: 20_000, seed: 13)
        try await f.queue(mail: MailParameters(ret: .full), body: body, [.init(address: "bob@example.com")])
        let small = NotificationPass(
            deferredQueue: f.stores.deferred, contentStore: f.stores.content,
            receiver: Receiver(
                log: f.stores.log, contentStore: f.stores.content, envelopeIDs: f.receiver.envelopeIDs,
                configuration: try ReceiverConfiguration(maxRecipients: 10, maxMessageBytes: 8_000)
            ),
            configuration: BounceFixture.configuration, retryPolicy: try BounceFixture.policy()
        )
        let report = try await small.run(now: BounceFixture.now)
        #expect(report.sent.count == 1)
        #expect(report.failures.isEmpty)
        let text = try #require(try f.notifications().first?.text)
        #expect(text.contains("Final-Recipient: rfc822; bob@example.com"))
        #expect(!text.contains("message/rfc822"))
        #expect(!text.contains("Subject: Lunch"))
    }

    @Test func thePassPagesThroughTheWholeQueue() async throws {
        let f = try BounceFixture(SimulatedFileSystem(seed: 12))
        defer { f.stores.close() }
        var originals: [EnvelopeID] = []
        for n in 0..<5 {
            originals.append(try await f.queue(sender: "s\(n)@example.net", [.init(address: "r\(n)@example.com")]).envelopeID)
        }
        let paging = NotificationPass(
            deferredQueue: f.stores.deferred, contentStore: f.stores.content, receiver: f.receiver,
            configuration: BounceFixture.configuration, retryPolicy: try BounceFixture.policy(), pageSize: 2
        )
        let report = try await paging.run(now: BounceFixture.now)
        #expect(report.envelopesExamined == 5)
        #expect(report.sent.map(\.originalEnvelopeID) == originals)
        #expect(try f.notifications().count == 5)
    }

    @Test func enhancedStatusCodesAreReadFromTheStartOfAReply() {
        #expect(EnhancedStatusCode(leadingIn: "5.1.1 no such user") == EnhancedStatusCode(5, 1, 1))
        #expect(EnhancedStatusCode(leadingIn: "4.4.7") == EnhancedStatusCode(4, 4, 7))
        #expect(EnhancedStatusCode(leadingIn: "4.10.100 x") == EnhancedStatusCode(4, 10, 100))
        #expect(EnhancedStatusCode(leadingIn: "no status") == nil)
        #expect(EnhancedStatusCode(leadingIn: "5.1 x") == nil)
        #expect(EnhancedStatusCode(leadingIn: "5.1.1x") == nil)
        #expect(EnhancedStatusCode(leadingIn: "3.1.1 x") == nil)
        #expect(EnhancedStatusCode(leadingIn: "5.1.1000 x") == nil)
        #expect(EnhancedStatusCode(leadingIn: "") == nil)
        // RFC 3463's digit counts: a code cut short by a longer part is no code.
        #expect(EnhancedStatusCode(leadingIn: "5.1.00000000001 x") == nil)
        #expect(EnhancedStatusCode(leadingIn: "55.1.1 x") == nil)
        #expect(EnhancedStatusCode(leadingIn: "5.01.001 x") == EnhancedStatusCode(5, 1, 1))
    }
}
