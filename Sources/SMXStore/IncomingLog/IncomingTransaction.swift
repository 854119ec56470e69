/// One received SMTP transaction as the incoming log keeps it: what MAIL FROM, RCPT TO and
/// DATA produced, plus where each recipient stands. The seed's IBDB transaction record.
public struct IncomingTransaction: Equatable, Sendable {
    public var envelopeID: EnvelopeID
    /// Microseconds since the Unix epoch at which the final dot was received.
    public var arrivalMicros: UInt64
    /// The reverse-path without angle brackets; empty for the null sender.
    public var sender: String
    public var mail: MailParameters
    public var content: ContentReference
    public var recipients: [Recipient]

    public init(
        envelopeID: EnvelopeID,
        arrivalMicros: UInt64,
        sender: String,
        mail: MailParameters = MailParameters(),
        content: ContentReference,
        recipients: [Recipient]
    ) {
        self.envelopeID = envelopeID
        self.arrivalMicros = arrivalMicros
        self.sender = sender
        self.mail = mail
        self.content = content
        self.recipients = recipients
    }

    /// True when no recipient is pending.
    public var isFinished: Bool {
        recipients.allSatisfy { $0.state != .pending }
    }
}
