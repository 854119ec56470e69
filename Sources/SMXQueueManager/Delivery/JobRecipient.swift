import SMXStore

/// One recipient of a delivery job, with the RCPT parameters an SMTP agent passes on
/// (RFC 3461 NOTIFY and ORCPT) and the DSN needs.
public struct JobRecipient: Equatable, Sendable {
    public var id: RecipientID
    public var address: String
    public var notify: NotifyFlags
    /// RFC 3461 ORCPT, as "addr-type;xtext-decoded-address".
    public var originalRecipient: String?

    public init(id: RecipientID, address: String, notify: NotifyFlags = [], originalRecipient: String? = nil) {
        self.id = id
        self.address = address
        self.notify = notify
        self.originalRecipient = originalRecipient
    }
}
