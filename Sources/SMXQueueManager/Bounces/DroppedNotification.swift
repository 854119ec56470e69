import SMXStore

/// A failure nobody is told about, logged and counted so that an operator sees it: the
/// notification chain ends here instead of looping.
public struct DroppedNotification: Equatable, Sendable {
    public enum Reason: Equatable, Sendable {
        /// A postmaster notice (itself the report of a failed null-sender message) failed.
        case postmasterNoticeFailed
        /// A null-sender message failed and no postmaster address is configured.
        case noPostmaster
    }

    public var envelopeID: EnvelopeID
    public var recipients: [RecipientID]
    public var reason: Reason

    public init(envelopeID: EnvelopeID, recipients: [RecipientID], reason: Reason) {
        self.envelopeID = envelopeID
        self.recipients = recipients
        self.reason = reason
    }
}
