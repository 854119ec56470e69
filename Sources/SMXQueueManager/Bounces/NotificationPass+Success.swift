import SMXStore

extension NotificationPass {
    /// Sends the success notification of `message`'s recipients whose NOTIFY holds SUCCESS
    /// (RFC 3461 §4.1), one notification for all of them; returns nil when none asked or
    /// the sender is null (successes of notifications are not reported).
    ///
    /// **Order.** Call it after the delivery and *before* the delivered marks are written
    /// (incoming log outcome, or deferred-queue removal), while the body is still
    /// referenced: it returns once the notification is durable. A crash before the marks
    /// then delivers the recipient again and reports it again: a duplicate, never a lost
    /// report.
    ///
    /// Throws ``NotificationPassError/enqueue(_:)`` when the receiving side did not take it;
    /// the caller may retry or record the deliveries anyway (the report is then lost, which
    /// RFC 3461 tolerates for success notifications less than for failures; retrying is
    /// better).
    public func notifyDelivered(_ message: DeliveredMessage, now: Timestamp) async throws(NotificationPassError) -> SentNotification? {
        let asked = message.recipients.filter(\.wantsSuccessNotification).sorted { $0.id < $1.id }
        guard !asked.isEmpty, !message.sender.isEmpty else { return nil }
        let entries = asked.map { recipient in
            RecipientDeliveryStatus(
                finalRecipient: recipient.address,
                originalRecipient: recipient.originalRecipient.map(Self.originalRecipient(stored:)),
                action: recipient.action,
                status: recipient.reply?.status ?? Self.success,
                remoteMTA: recipient.reply?.remoteMTA,
                diagnostic: recipient.reply?.diagnostic,
                lastAttempt: recipient.at
            )
        }
        let envelope = OriginalEnvelope(
            envelopeID: message.mail.envelopeID, returnContent: ReturnContent(message.mail.ret), sender: message.sender,
            arrival: Timestamp(microsecondsSinceEpoch: message.arrivalMicros)
        )
        return try await send(
            about: envelope, envelopeID: message.envelopeID, content: message.content, isPostmasterNotice: false,
            entries: entries, recipients: asked.map(\.id), now: now
        )
    }

    static let success = EnhancedStatusCode(2, 0, 0) ?? .deliveryTimeExpired
}
