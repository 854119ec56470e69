import SMXStore

/// A recipient whose delivery succeeded, as the queue manager hands it to
/// ``NotificationPass/notifyDelivered(_:now:)`` for a success notification.
public struct DeliveredRecipient: Equatable, Sendable {
    public var id: RecipientID
    public var address: String
    /// Only recipients whose NOTIFY holds SUCCESS (and not NEVER) are reported.
    public var notify: NotifyFlags
    /// ORCPT as the queue keeps it, "addr-type;decoded-address".
    public var originalRecipient: String?
    /// ``DeliveryAction/delivered`` (final delivery), ``DeliveryAction/relayed`` (passed to
    /// a server that does not offer DSN) or ``DeliveryAction/expanded`` (an alias).
    public var action: DeliveryAction
    /// The server's reply; nil when the agent got none worth reporting (the status is
    /// then 2.0.0).
    public var reply: StatusReply?
    /// When the delivery was made (Last-Attempt-Date).
    public var at: Timestamp

    public init(
        id: RecipientID, address: String, notify: NotifyFlags, originalRecipient: String? = nil,
        action: DeliveryAction = .delivered, reply: StatusReply? = nil, at: Timestamp
    ) {
        self.id = id
        self.address = address
        self.notify = notify
        self.originalRecipient = originalRecipient
        self.action = action
        self.reply = reply
        self.at = at
    }

    /// The recipient asked to hear of its success (RFC 3461 §4.1: SUCCESS given, NEVER not).
    public var wantsSuccessNotification: Bool {
        notify.contains(.success) && !notify.contains(.never)
    }
}
