import SMXStore

/// The envelope of delivered recipients, for a success notification. The queue manager
/// builds it from the incoming transaction or the deferred transaction the recipients came
/// from; the body must still be referenced (the notification returns its headers).
public struct DeliveredMessage: Equatable, Sendable {
    public var envelopeID: EnvelopeID
    /// The reverse path; empty for the null sender (then nothing is sent).
    public var sender: String
    public var mail: MailParameters
    public var content: ContentReference
    public var arrivalMicros: UInt64
    public var recipients: [DeliveredRecipient]

    public init(
        envelopeID: EnvelopeID, sender: String, mail: MailParameters, content: ContentReference, arrivalMicros: UInt64,
        recipients: [DeliveredRecipient]
    ) {
        self.envelopeID = envelopeID
        self.sender = sender
        self.mail = mail
        self.content = content
        self.arrivalMicros = arrivalMicros
        self.recipients = recipients
    }

    /// The envelope of an incoming transaction.
    public init(_ transaction: IncomingTransaction, recipients: [DeliveredRecipient]) {
        self.init(
            envelopeID: transaction.envelopeID, sender: transaction.sender, mail: transaction.mail,
            content: transaction.content, arrivalMicros: transaction.arrivalMicros, recipients: recipients
        )
    }

    /// The envelope of a deferred transaction.
    public init(_ transaction: DeferredTransaction, recipients: [DeliveredRecipient]) {
        self.init(
            envelopeID: transaction.envelopeID, sender: transaction.sender, mail: transaction.mail,
            content: transaction.content, arrivalMicros: transaction.arrivalMicros, recipients: recipients
        )
    }
}
