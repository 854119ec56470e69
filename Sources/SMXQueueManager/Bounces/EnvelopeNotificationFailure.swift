import SMXStore

/// An envelope the pass could not finish: its recipients stay as they were (or, when the
/// notification was accepted and only the commit failed, a duplicate notification follows
/// on the next pass). Never a lost notification.
public struct EnvelopeNotificationFailure: Sendable {
    public var envelopeID: EnvelopeID
    public var error: NotificationPassError

    public init(envelopeID: EnvelopeID, error: NotificationPassError) {
        self.envelopeID = envelopeID
        self.error = error
    }
}
