import SMXQueueManager
import Testing

/// Notifications never loop: a bounce of a bounce goes once to the postmaster, and a failed
/// postmaster notification is dropped.
@Suite struct NotificationRouteTests {
    static let postmaster = "postmaster@mx1.example.org"

    static func route(_ kind: NotificationKind, sender: String, postmasterNotification: Bool = false) -> NotificationRoute {
        NotificationRoute.route(kind: kind, originalSender: sender, isPostmasterNotification: postmasterNotification, postmaster: postmaster)
    }

    @Test func ordinaryMessagesNotifyTheirSender() {
        for kind in [NotificationKind.failure, .delay, .success] {
            #expect(Self.route(kind, sender: "alice@example.net") == .sender("alice@example.net"))
        }
    }

    @Test func failedNotificationGoesToThePostmasterOnce() {
        #expect(Self.route(.failure, sender: "") == .postmaster(Self.postmaster))
        #expect(Self.route(.failure, sender: "", postmasterNotification: true) == .drop)
    }

    @Test func delaysAndSuccessesOfNotificationsAreNotReported() {
        for kind in [NotificationKind.delay, .success] {
            #expect(Self.route(kind, sender: "") == .drop)
            #expect(Self.route(kind, sender: "", postmasterNotification: true) == .drop)
        }
    }

    @Test func postmasterCopySaysWhy() {
        var notification = NotificationFixtures.notification([NotificationFixtures.bobFailed])
        notification.envelope.sender = ""
        notification.deliverTo = Self.postmaster
        let text = String(decoding: notification.render().bytes, as: UTF8.self)
        #expect(text.contains("To: <\(Self.postmaster)>\r\n"))
        #expect(text.contains("This report goes to the postmaster: the message had no return address, so its\r\nsender cannot be told."))
    }
}
