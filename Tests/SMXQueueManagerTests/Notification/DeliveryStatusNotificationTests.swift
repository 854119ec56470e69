import SMXQueueManager
import Testing

@Suite struct DeliveryStatusNotificationTests {
    typealias F = NotificationFixtures

    static func text(_ message: NotificationMessage) -> String {
        String(decoding: message.bytes, as: UTF8.self)
    }

    /// The lines of a message, split at CRLF; fails the test on a bare CR or LF.
    static func lines(_ message: NotificationMessage) -> [String] {
        let text = text(message)
        let lines = text.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.last == "", "the message ends with CRLF")
        #expect(lines.allSatisfy { !$0.contains("\r") && !$0.contains("\n") }, "bare CR or LF")
        return Array(lines.dropLast())
    }

    static let golden = """
        From: Mail Delivery System <MAILER-DAEMON@mx1.example.org>
        To: <alice@example.net>
        Subject: Undelivered Mail Returned to Sender
        Date: Mon, 30 Nov 2026 12:00:01 +0000
        Message-ID: <20261130120001.dsn1@mx1.example.org>
        Auto-Submitted: auto-replied
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=delivery-status;
         boundary="=_smx_63CBE1E459320DD7"

        This is a MIME-encapsulated message.

        --=_smx_63CBE1E459320DD7
        Content-Description: Notification
        Content-Type: text/plain; charset=us-ascii

        This is the mail system at mx1.example.org.

        Your message could not be delivered to one or more of its recipients. The
        reason for each is given below.

        <bob@example.com>: failed, status 5.1.1
            mx.example.com said: 550 5.1.1 <bob@example.com>: Recipient address
            rejected: User unknown in virtual mailbox table

        <carol@example.com>: failed, status 4.4.7
            451 4.4.1 mx.example.com: connection timed out

        For help, forward this report to <postmaster@mx1.example.org>.

        --=_smx_63CBE1E459320DD7
        Content-Description: Delivery report
        Content-Type: message/delivery-status

        Original-Envelope-Id: QQ314159
        Reporting-MTA: dns; mx1.example.org
        Arrival-Date: Thu, 26 Nov 2026 12:00:00 +0000

        Original-Recipient: rfc822; bob@example.com
        Final-Recipient: rfc822; bob@example.com
        Action: failed
        Status: 5.1.1
        Remote-MTA: dns; mx.example.com
        Diagnostic-Code: smtp; 550 5.1.1 <bob@example.com>: Recipient address
         rejected: User unknown in virtual mailbox table
        Last-Attempt-Date: Thu, 26 Nov 2026 12:00:02 +0000

        Final-Recipient: rfc822; carol@example.com
        Action: failed
        Status: 4.4.7
        Diagnostic-Code: smtp; 451 4.4.1 mx.example.com: connection timed out
        Last-Attempt-Date: Mon, 30 Nov 2026 12:00:00 +0000

        --=_smx_63CBE1E459320DD7
        Content-Description: Undelivered Message Headers
        Content-Type: text/rfc822-headers

        Received: from client.example.net ([192.0.2.7]) by mx1.example.org
        From: Alice <alice@example.net>
        To: bob@example.com, carol@example.com
        Subject: Lunch
        Message-ID: <lunch-42@example.net>

        --=_smx_63CBE1E459320DD7--

        """.replacing("\n", with: "\r\n")

    @Test func failedNotificationMatchesTheGoldenBytes() {
        let message = F.notification([F.bobFailed, F.carolFailed]).render()
        #expect(message.bytes == Array(Self.golden.utf8))
        #expect(message.boundary == "=_smx_63CBE1E459320DD7")
        #expect(!message.containsEightBitData)
        // Deterministic: the same input, the same bytes.
        #expect(F.notification([F.bobFailed, F.carolFailed]).render() == message)
    }

    @Test func delayedNotificationCarriesWillRetryUntil() {
        let notification = F.notification([F.carolDelayed], ret: .full)
        #expect(notification.kind == .delay)
        let lines = Self.lines(notification.render())
        #expect(lines.contains("Subject: Delayed Mail (still being retried)"))
        #expect(lines.contains("Action: delayed"))
        #expect(lines.contains("Will-Retry-Until: Mon, 30 Nov 2026 12:00:00 +0000"))
        #expect(lines.contains("    Will retry until Mon, 30 Nov 2026 12:00:00 +0000."))
        // RET=FULL does not apply to a delay: headers only.
        #expect(lines.contains("Content-Type: text/rfc822-headers"))
        #expect(lines.contains("Content-Description: Message Headers"))
        #expect(!lines.contains("Shall we meet at noon?"))
    }

    @Test func willRetryUntilOnlyForDelayed() {
        var failed = F.carolFailed
        failed.willRetryUntil = F.arrival + .days(5)
        let text = Self.text(F.notification([failed]).render())
        #expect(!text.contains("Will-Retry-Until") && !text.contains("Will retry until"))
    }

    @Test func returnFullOnFailureReturnsTheWholeMessage() {
        for ret in [ReturnContent.full, nil] {
            let lines = Self.lines(F.notification([F.bobFailed], ret: ret).render())
            #expect(lines.contains("Content-Type: message/rfc822"))
            #expect(lines.contains("Content-Description: Undelivered Message"))
            #expect(lines.contains("Shall we meet at noon?"))
            #expect(!lines.contains("Content-Type: text/rfc822-headers"))
        }
        let headersOnly = Self.lines(F.notification([F.bobFailed], ret: .headers).render())
        #expect(headersOnly.contains("Content-Type: text/rfc822-headers") && !headersOnly.contains("Shall we meet at noon?"))
        // A mixed notification is a failure: RET=FULL applies.
        let mixed = F.notification([F.carolDelayed, F.bobFailed], ret: .full)
        #expect(mixed.kind == .failure && Self.lines(mixed.render()).contains("Content-Type: message/rfc822"))
    }

    @Test func tooLargeForFullReturnsHeadersAndSaysSo() {
        var configuration = F.configuration
        configuration.returnedMessageLimit = 64
        let lines = Self.lines(F.notification([F.bobFailed], ret: .full, configuration: configuration).render())
        #expect(lines.contains("Content-Type: text/rfc822-headers"))
        #expect(lines.contains("Your message was larger than 64 bytes, so only its headers are attached."))
    }

    @Test func noOriginalMeansNoThirdPart() {
        let message = F.notification([F.bobFailed], ret: .full, original: []).render()
        let text = Self.text(message)
        #expect(!text.contains("rfc822-headers") && !text.contains("message/rfc822"))
        #expect(text.split(separator: "--\(message.boundary)", omittingEmptySubsequences: false).count == 4)  // two parts and the close
    }

    @Test func successNotification() {
        let delivered = RecipientDeliveryStatus(
            finalRecipient: "bob@example.com", action: .delivered, status: EnhancedStatusCode(2, 0, 0)!,
            remoteMTA: "mx.example.com", diagnostic: DiagnosticCode("250 2.0.0 Ok: queued as 4XyZ")
        )
        let notification = F.notification([delivered], ret: .full)
        #expect(notification.kind == .success)
        let lines = Self.lines(notification.render())
        #expect(lines.contains("Subject: Successful Mail Delivery Report"))
        #expect(lines.contains("Content-Type: text/rfc822-headers"))
    }

    @Test func everyLineFitsEvenWithLongInput() {
        var recipient = F.bobFailed
        recipient.diagnostic = DiagnosticCode("550 " + String(repeating: "x", count: 3_000) + " end")
        recipient.remoteMTA = String(repeating: "m", count: 1_200) + ".example"
        let body = "Subject: long\n\n" + String(repeating: "y", count: 5_000) + "\nbare LF\rbare CR\r\nlast without end"
        let message = F.notification([recipient], ret: .full, original: Array(body.utf8)).render()
        let lines = Self.lines(message)
        #expect(lines.allSatisfy { $0.utf8.count <= 998 })
        #expect(lines.contains("bare LF") && lines.contains("bare CR") && lines.contains("last without end"))
        // Folded generated lines start with a space (a continuation), the cut text is all there.
        let report = lines.drop { $0 != "Content-Type: message/delivery-status" }
        let diagnostic = report.drop { !$0.hasPrefix("Diagnostic-Code:") }.prefix { $0.hasPrefix("Diagnostic-Code:") || $0.hasPrefix(" ") }
        #expect(diagnostic.joined().filter { $0 == "x" }.count == 3_000)
        #expect(lines.filter { $0.hasPrefix("yyyy") }.map(\.utf8.count) == [998, 998, 998, 998, 998, 10])
    }

    @Test func boundaryAvoidsContentThatContainsIt() {
        let first = F.notification([F.bobFailed], ret: .full).render()
        let hostile = Array("Subject: trap\r\n\r\n--\(first.boundary)--\r\nx--\(first.boundary)\r\n".utf8)
        let second = F.notification([F.bobFailed], ret: .full, original: hostile).render()
        #expect(second.boundary != first.boundary)
        let text = Self.text(second)
        // The boundary appears only as the four delimiters (and the parameter).
        #expect(text.split(separator: second.boundary, omittingEmptySubsequences: false).count == 6)
        #expect(text.contains("--\(first.boundary)--"))
        // A diagnostic can carry it too.
        var recipient = F.bobFailed
        recipient.diagnostic = DiagnosticCode("550 --\(first.boundary)")
        #expect(F.notification([recipient]).render().boundary != first.boundary)
    }

    @Test func generatedPartsStaySevenBit() {
        let recipient = RecipientDeliveryStatus(
            finalRecipient: "böb@exämple.com",
            originalRecipient: OriginalRecipient(addressType: "rfc822", address: "böb+x=y@exämple.com"),
            action: .failed, status: EnhancedStatusCode(5, 1, 1)!,
            diagnostic: DiagnosticCode("550-5.1.1 first line\r\n550 5.1.1 zweite Zeile: unzustellbar für böb\u{7}")
        )
        let message = F.notification([recipient], ret: .headers).render()
        #expect(!message.containsEightBitData)
        let lines = Self.lines(message)
        #expect(lines.contains("Final-Recipient: utf-8; b\\x{F6}b@ex\\x{E4}mple.com"))
        #expect(lines.contains("Original-Recipient: utf-8; b\\x{F6}b\\x{2B}x\\x{3D}y@ex\\x{E4}mple.com"))
        #expect(lines.contains("Diagnostic-Code: smtp; 550-5.1.1 first line 550 5.1.1 zweite Zeile:"))
        #expect(lines.contains(" unzustellbar f\\x{FC}r b\\x{F6}b\\x{07}"))
    }

    @Test func eightBitReturnedContentIsMarked() {
        let original = Array("Subject: caf\u{E9}\r\n\r\nd\u{E9}j\u{E0} vu\r\n".utf8)
        let message = F.notification([F.bobFailed], ret: .full, original: original).render()
        #expect(message.containsEightBitData)
        let lines = Self.lines(message)
        #expect(lines.filter { $0 == "Content-Transfer-Encoding: 8bit" }.count == 2)  // top level and the part
        #expect(lines.contains("déjà vu"))
        // Only the returned part is 8-bit.
        let generated = lines.prefix { $0 != "Content-Type: message/rfc822" }
        #expect(generated.allSatisfy { $0.utf8.allSatisfy { $0 < 0x80 } })
    }

    @Test func kindFollowsTheMostSeriousAction() {
        #expect(NotificationKind(actions: [.delivered, .failed, .delayed]) == .failure)
        #expect(NotificationKind(actions: [.delayed, .relayed]) == .delay)
        #expect(NotificationKind(actions: [.expanded, .delivered]) == .success)
        #expect(NotificationKind(actions: []) == .success)
    }

    @Test func statusCodes() {
        #expect(EnhancedStatusCode(5, 7, 26)?.description == "5.7.26")
        #expect(EnhancedStatusCode(3, 0, 0) == nil)
        #expect(EnhancedStatusCode(4, 1_000, 0) == nil)
        #expect(EnhancedStatusCode(2, 0, -1) == nil)
        #expect(EnhancedStatusCode.deliveryTimeExpired.description == "4.4.7")
    }

    @Test func datesAreRFC5322() {
        #expect(Timestamp(secondsSinceEpoch: 0).rfc5322 == "Thu, 1 Jan 1970 00:00:00 +0000")
        #expect(Timestamp(secondsSinceEpoch: 951_782_400).rfc5322 == "Tue, 29 Feb 2000 00:00:00 +0000")
        #expect(Timestamp(secondsSinceEpoch: 4_107_542_399).rfc5322 == "Sun, 28 Feb 2100 23:59:59 +0000")
        #expect(Timestamp(microsecondsSinceEpoch: 1_795_694_400_999_999).rfc5322 == "Thu, 26 Nov 2026 12:00:00 +0000")
    }
}
