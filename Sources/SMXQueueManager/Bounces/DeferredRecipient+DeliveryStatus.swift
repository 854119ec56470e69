import SMXStore

extension DeferredRecipient {
    /// The recipient's DSN entry as a failure: the status is the enhanced code of the last
    /// reply when that is a permanent one; a recipient whose last reply was temporary (or
    /// none) failed because its queue lifetime ran out, status 4.4.7 (RFC 3463). A
    /// permanent reply code without an enhanced code gives 5.0.0.
    func failureStatus() -> RecipientDeliveryStatus {
        let leading = lastReply.flatMap { EnhancedStatusCode(leadingIn: $0.text) }
        let status: EnhancedStatusCode
        switch (lastReply?.code, leading?.statusClass) {
        case (.some(500...599), _), (.some(0), 5):
            status = leading?.statusClass == 5 ? leading ?? Self.permanentFailure : Self.permanentFailure
        case (.none, _):
            status = Self.permanentFailure
        default:
            status = .deliveryTimeExpired
        }
        return deliveryStatus(action: .failed, status: status, willRetryUntil: nil)
    }

    /// The recipient's DSN entry as delayed: the last reply's enhanced code when it is a
    /// temporary one, else 4.0.0.
    func delayStatus(willRetryUntil: Timestamp?) -> RecipientDeliveryStatus {
        let leading = lastReply.flatMap { EnhancedStatusCode(leadingIn: $0.text) }
        let status = leading?.statusClass == 4 ? leading ?? Self.temporaryFailure : Self.temporaryFailure
        return deliveryStatus(action: .delayed, status: status, willRetryUntil: willRetryUntil)
    }

    private func deliveryStatus(action: DeliveryAction, status: EnhancedStatusCode, willRetryUntil: Timestamp?) -> RecipientDeliveryStatus {
        RecipientDeliveryStatus(
            finalRecipient: address,
            originalRecipient: originalRecipient.map(NotificationPass.originalRecipient(stored:)),
            action: action,
            status: status,
            // The deferred queue keeps no Remote-MTA; the reply text usually names the host.
            remoteMTA: nil,
            diagnostic: lastReply.map { StatusReply($0, status: status).diagnostic },
            lastAttempt: lastAttemptMicros.map { Timestamp(microsecondsSinceEpoch: $0) },
            willRetryUntil: willRetryUntil
        )
    }

    private static let permanentFailure = EnhancedStatusCode(5, 0, 0) ?? .deliveryTimeExpired
    private static let temporaryFailure = EnhancedStatusCode(4, 0, 0) ?? .deliveryTimeExpired

    /// The recipient asked to hear of its failure: RFC 3461 §4.1, no NOTIFY means
    /// FAILURE,DELAY; NEVER means nothing.
    var wantsFailureNotification: Bool {
        notify.isEmpty || (notify.contains(.failure) && !notify.contains(.never))
    }

    /// The recipient asked to hear of delays (no NOTIFY, or DELAY without NEVER).
    var wantsDelayNotification: Bool {
        notify.isEmpty || (notify.contains(.delay) && !notify.contains(.never))
    }
}
