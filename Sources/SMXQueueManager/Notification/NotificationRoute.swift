/// Where a notification about a message goes, so that notifications never loop.
///
/// A notification is sent with the null sender `<>` (RFC 5321 §4.5.5, RFC 3461 §6.1), so a
/// message with the null sender is itself a notification (or a reply that asked for no
/// replies) and its sender must not be notified. When such a message fails, the
/// postmaster is told once; that postmaster notification is marked, and if it fails too it
/// is dropped (the caller logs it). Delays and successes of null-sender messages are not
/// reported at all.
public enum NotificationRoute: Hashable, Sendable {
    /// To the original sender (the usual case).
    case sender(String)
    /// To the postmaster: a failed message that had the null sender. Enqueue it marked as
    /// a postmaster notification.
    case postmaster(String)
    /// Nothing is sent.
    case drop

    /// The route for a notification of `kind` about a message with reverse path
    /// `originalSender` (empty for `<>`); `isPostmasterNotification` when that message is
    /// itself a notification this MTA sent to the postmaster.
    public static func route(
        kind: NotificationKind, originalSender: String, isPostmasterNotification: Bool, postmaster: String
    ) -> NotificationRoute {
        if !originalSender.isEmpty { return .sender(originalSender) }
        guard kind == .failure, !isPostmasterNotification else { return .drop }
        return .postmaster(postmaster)
    }
}
