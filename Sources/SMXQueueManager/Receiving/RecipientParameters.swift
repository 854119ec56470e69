import SMXStore

/// The RCPT TO parameters a queue keeps (RFC 3461 NOTIFY and ORCPT).
public struct RecipientParameters: Equatable, Sendable {
    /// Empty: the client gave no NOTIFY (the default applies).
    public var notify: NotifyFlags
    /// ORCPT as "addr-type;xtext-decoded-address".
    public var originalRecipient: String?

    public init(notify: NotifyFlags = [], originalRecipient: String? = nil) {
        self.notify = notify
        self.originalRecipient = originalRecipient
    }
}
