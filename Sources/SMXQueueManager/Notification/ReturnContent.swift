/// RFC 3461 RET: what a failure notification returns of the original message.
public enum ReturnContent: Hashable, Sendable {
    /// `RET=HDRS`: the header section only (text/rfc822-headers).
    case headers
    /// `RET=FULL`: the whole message (message/rfc822). Applies to failed notifications
    /// only; delay and success notifications return the headers whatever was asked
    /// (RFC 3461 §4.3).
    case full
}
