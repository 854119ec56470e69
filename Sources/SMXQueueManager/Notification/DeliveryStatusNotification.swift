/// A delivery status notification (RFC 3464) about one message, covering any number of its
/// recipients: everything needed to write it, and ``render()`` to write it.
///
/// Coalescing: the queue manager collects the recipients of one envelope that need
/// reporting in one pass and makes one notification of them. The kind (failure, delay,
/// success) follows the most serious action (``NotificationKind``).
///
/// Deterministic: the Message-ID, the date and the boundary seed come from the caller, so
/// the same input renders the same bytes (tests, simulation replays, crash recovery that
/// rewrites a notification).
public struct DeliveryStatusNotification: Hashable, Sendable {
    public var configuration: NotificationConfiguration
    public var envelope: OriginalEnvelope
    public var recipients: [RecipientDeliveryStatus]
    /// The original message as stored (header section, empty line, body). Empty when it is
    /// not available: the notification then has no third part.
    public var originalMessage: [UInt8]
    /// The address the notification goes to (``NotificationRoute``): the original sender,
    /// or the postmaster.
    public var deliverTo: String
    /// `id-left@id-right`, without angle brackets.
    public var messageID: String
    /// The Date: of the notification.
    public var date: Timestamp
    /// Where the search for a boundary starts (``render()`` picks one that occurs in no part).
    public var boundarySeed: UInt64

    public init(
        configuration: NotificationConfiguration, envelope: OriginalEnvelope, recipients: [RecipientDeliveryStatus],
        originalMessage: [UInt8], deliverTo: String, messageID: String, date: Timestamp, boundarySeed: UInt64
    ) {
        self.configuration = configuration
        self.envelope = envelope
        self.recipients = recipients
        self.originalMessage = originalMessage
        self.deliverTo = deliverTo
        self.messageID = messageID
        self.date = date
        self.boundarySeed = boundarySeed
    }

    public var kind: NotificationKind { NotificationKind(actions: recipients.map(\.action)) }

    /// What the third part carries.
    enum Returned: Equatable {
        /// No original available.
        case nothing
        /// text/rfc822-headers; `becauseTooLarge` when RET=FULL was asked but the message
        /// is over the configured limit.
        case headers(becauseTooLarge: Bool)
        /// message/rfc822.
        case message
    }

    /// RET applies to failures only (RFC 3461 §4.3); others return headers.
    var returned: Returned {
        if originalMessage.isEmpty { return .nothing }
        guard kind == .failure, (envelope.returnContent ?? configuration.defaultReturnContent) == .full else {
            return .headers(becauseTooLarge: false)
        }
        return originalMessage.count > configuration.returnedMessageLimit ? .headers(becauseTooLarge: true) : .message
    }
}
