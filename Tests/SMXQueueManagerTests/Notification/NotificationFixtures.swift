import SMXQueueManager

/// One message, two recipients, fixed times: the inputs of the golden tests and of the
/// example in docs/queue-manager.md.
enum NotificationFixtures {
    static let arrival = Timestamp(secondsSinceEpoch: 1_795_694_400)  // Thu, 26 Nov 2026 12:00:00 +0000
    static let configuration = NotificationConfiguration(reportingMTA: "mx1.example.org")

    static let original = Array((
        "Received: from client.example.net ([192.0.2.7]) by mx1.example.org\r\n"
            + "From: Alice <alice@example.net>\r\n"
            + "To: bob@example.com, carol@example.com\r\n"
            + "Subject: Lunch\r\n"
            + "Message-ID: <lunch-42@example.net>\r\n"
            + "\r\n"
            + "Shall we meet at noon?\r\n"
    ).utf8)

    static func envelope(ret: ReturnContent? = .headers) -> OriginalEnvelope {
        OriginalEnvelope(envelopeID: "QQ314159", returnContent: ret, sender: "alice@example.net", arrival: arrival)
    }

    static let bobFailed = RecipientDeliveryStatus(
        finalRecipient: "bob@example.com",
        originalRecipient: OriginalRecipient(addressType: "rfc822", address: "bob@example.com"),
        action: .failed,
        status: EnhancedStatusCode(5, 1, 1)!,
        remoteMTA: "mx.example.com",
        diagnostic: DiagnosticCode("550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown in virtual mailbox table"),
        lastAttempt: arrival + .seconds(2)
    )

    static let carolFailed = RecipientDeliveryStatus(
        finalRecipient: "carol@example.com",
        action: .failed,
        status: .deliveryTimeExpired,
        diagnostic: DiagnosticCode("451 4.4.1 mx.example.com: connection timed out"),
        lastAttempt: arrival + .days(4)
    )

    static let carolDelayed = RecipientDeliveryStatus(
        finalRecipient: "carol@example.com",
        action: .delayed,
        status: EnhancedStatusCode(4, 4, 1)!,
        remoteMTA: "mx.example.com",
        diagnostic: DiagnosticCode("451 4.4.1 connection timed out"),
        lastAttempt: arrival + .hours(24),
        willRetryUntil: arrival + .days(4)
    )

    static func notification(
        _ recipients: [RecipientDeliveryStatus], ret: ReturnContent? = .headers, original: [UInt8] = original,
        seed: UInt64 = 7, configuration: NotificationConfiguration = configuration
    ) -> DeliveryStatusNotification {
        DeliveryStatusNotification(
            configuration: configuration, envelope: envelope(ret: ret), recipients: recipients,
            originalMessage: original, deliverTo: "alice@example.net",
            messageID: "20261130120001.dsn1@mx1.example.org", date: arrival + .days(4) + .seconds(1), boundarySeed: seed
        )
    }
}
