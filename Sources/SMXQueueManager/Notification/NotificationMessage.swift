/// A composed notification: the bytes to enqueue as a new message with the null sender.
public struct NotificationMessage: Hashable, Sendable {
    /// The whole RFC 5322 message, CRLF line ends, no line over 998 octets.
    public var bytes: [UInt8]
    /// The multipart boundary used (it occurs in no part).
    public var boundary: String
    /// True when some byte is 8-bit: returned content of an 8BITMIME message, or a UTF-8
    /// address in To: (RFC 6532). The queue manager then sends it with BODY=8BITMIME (and
    /// SMTPUTF8 if an address needs it), as the original was. The generated parts are 7-bit.
    public var containsEightBitData: Bool
}
