import SMXStore

/// What was answered about one recipient, by a remote server, a delivery agent or a
/// resolver: the reply as the deferred queue keeps it (the recipient's last reply), the
/// RFC 3463 status a DSN reports, and the server that answered.
///
/// The reply's text is what follows the reply code, enhanced status code first, as SMTP
/// servers write it (`5.1.1 <bob@example.com>: no such user`); code 0 means there was no
/// reply (connection refused, timeout) and the text says what happened.
public struct StatusReply: Equatable, Sendable {
    public var reply: DeliveryReply
    public var status: EnhancedStatusCode
    /// The server that answered (a DSN's Remote-MTA); nil when this MTA decided.
    public var remoteMTA: String?

    /// A reply as received: `status` is the enhanced status code found in it, or the one
    /// the agent derived from the reply code when the server gave none.
    public init(_ reply: DeliveryReply, status: EnhancedStatusCode, remoteMTA: String? = nil) {
        self.reply = reply
        self.status = status
        self.remoteMTA = remoteMTA
    }

    /// A reply this MTA makes up: the text is `status` and `text` (`5.1.3 bad recipient
    /// address syntax`), cut to ``DeliveryReply/maxTextBytes``.
    public init(code: UInt16, status: EnhancedStatusCode, text: String, remoteMTA: String? = nil) {
        self.init(DeliveryReply(code: code, truncating: "\(status) \(text)"), status: status, remoteMTA: remoteMTA)
    }

    /// The DSN's Diagnostic-Code: `smtp; 550 5.1.1 ...`, or `smtp; ` and the text alone
    /// when there was no reply.
    public var diagnostic: DiagnosticCode {
        DiagnosticCode(reply.code == 0 ? reply.text : "\(reply.code) \(reply.text)")
    }
}
