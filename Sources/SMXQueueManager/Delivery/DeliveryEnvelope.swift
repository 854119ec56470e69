import SMXStore

/// The parts of an envelope every delivery job for it carries: who sent it, its MAIL
/// parameters (BODY, SMTPUTF8, RET and ENVID travel on), and the body to send.
public struct DeliveryEnvelope: Equatable, Sendable {
    public var envelopeID: EnvelopeID
    /// The reverse-path without angle brackets; empty for the null sender.
    public var sender: String
    public var mail: MailParameters
    /// The body in the content store. The job does not hold a reference count of its own:
    /// the envelope's records keep the body until every recipient is accounted for.
    public var content: ContentReference

    public init(envelopeID: EnvelopeID, sender: String, mail: MailParameters = MailParameters(), content: ContentReference) {
        self.envelopeID = envelopeID
        self.sender = sender
        self.mail = mail
        self.content = content
    }
}
