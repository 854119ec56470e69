/// The transport's own report of a failure or delay: RFC 3464 §2.3.6 Diagnostic-Code,
/// `diagnostic-type; text` (`smtp; 550 5.1.1 <bob@example.com>: no such user`).
public struct DiagnosticCode: Hashable, Sendable {
    /// `smtp` for a reply from an SMTP or LMTP server, `x-unix` and the like for local
    /// delivery agents.
    public var type: String
    /// The reply as received. Line breaks of a multi-line reply become single spaces, other
    /// control and non-ASCII characters `\x{HEX}` (RFC 6533's form), so the field stays
    /// 7-bit; long text is folded.
    public var text: String

    public init(type: String = "smtp", _ text: String) {
        self.type = type
        self.text = text
    }
}
