/// One recipient's entry in a DSN: the per-recipient fields of RFC 3464 §2.3.
public struct RecipientDeliveryStatus: Hashable, Sendable {
    /// The recipient as the reporting MTA received it (Final-Recipient, type rfc822, or
    /// utf-8 when it is not ASCII).
    public var finalRecipient: String
    /// ORCPT, if the client gave one.
    public var originalRecipient: OriginalRecipient?
    public var action: DeliveryAction
    public var status: EnhancedStatusCode
    /// The server that gave the diagnostic (Remote-MTA, type dns); nil when the reporting
    /// MTA itself decided.
    public var remoteMTA: String?
    public var diagnostic: DiagnosticCode?
    public var lastAttempt: Timestamp?
    /// When attempts will stop (Will-Retry-Until). Written for ``DeliveryAction/delayed``
    /// only; RFC 3464 §2.3.9 forbids it elsewhere.
    public var willRetryUntil: Timestamp?

    public init(
        finalRecipient: String, originalRecipient: OriginalRecipient? = nil, action: DeliveryAction,
        status: EnhancedStatusCode, remoteMTA: String? = nil, diagnostic: DiagnosticCode? = nil,
        lastAttempt: Timestamp? = nil, willRetryUntil: Timestamp? = nil
    ) {
        self.finalRecipient = finalRecipient
        self.originalRecipient = originalRecipient
        self.action = action
        self.status = status
        self.remoteMTA = remoteMTA
        self.diagnostic = diagnostic
        self.lastAttempt = lastAttempt
        self.willRetryUntil = willRetryUntil
    }
}
