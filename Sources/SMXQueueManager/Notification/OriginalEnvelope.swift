/// What a DSN needs of the message it reports on: its envelope as received.
public struct OriginalEnvelope: Hashable, Sendable {
    /// RFC 3461 ENVID, xtext-decoded (``XText/decode(_:)-(String)``); becomes the
    /// Original-Envelope-Id field.
    public var envelopeID: String?
    /// RFC 3461 RET; nil when the client gave none (``NotificationConfiguration/defaultReturnContent`` applies).
    public var returnContent: ReturnContent?
    /// The reverse path, empty for the null sender `<>`.
    public var sender: String
    /// When the message was accepted (Arrival-Date).
    public var arrival: Timestamp
    /// The client the message came from, as a host name or address literal
    /// (Received-From-MTA), if known.
    public var receivedFrom: String?

    public init(envelopeID: String? = nil, returnContent: ReturnContent? = nil, sender: String, arrival: Timestamp, receivedFrom: String? = nil) {
        self.envelopeID = envelopeID
        self.returnContent = returnContent
        self.sender = sender
        self.arrival = arrival
        self.receivedFrom = receivedFrom
    }
}
