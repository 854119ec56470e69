/// Which notification a DSN is, by the most serious action among its recipients: failed,
/// else delayed, else success (delivered, relayed, expanded).
public enum NotificationKind: Hashable, Sendable {
    case failure
    case delay
    case success

    public init(actions: some Sequence<DeliveryAction>) {
        var kind = NotificationKind.success
        for action in actions {
            switch action {
            case .failed: kind = .failure
            case .delayed where kind != .failure: kind = .delay
            case .delayed, .delivered, .relayed, .expanded: break
            }
        }
        self = kind
    }

    /// The Subject: of the notification.
    public var subject: String {
        switch self {
        case .failure: "Undelivered Mail Returned to Sender"
        case .delay: "Delayed Mail (still being retried)"
        case .success: "Successful Mail Delivery Report"
        }
    }
}
