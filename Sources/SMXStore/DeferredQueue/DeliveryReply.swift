/// What the last delivery attempt of a recipient got back: the SMTP (or LMTP) reply code
/// and its text, enhanced status code included, or code 0 with a description when the
/// attempt failed before any reply (connection refused, DNS failure, timeout).
///
/// The text is bounded (``maxTextBytes``): the deferred queue keeps the reply for DSNs and
/// for `smx-qdump`, not as an archive.
public struct DeliveryReply: Equatable, Sendable {
    /// Longest text kept, in UTF-8 bytes. ``init(code:truncating:)`` cuts longer text.
    public static let maxTextBytes = 512

    /// 0 (no reply) or a three-digit reply code, 200...599.
    public var code: UInt16
    public var text: String

    /// A reply as given; ``DeferredQueue`` refuses it (``StoreError/Code/invalidArgument``)
    /// unless ``isValid``.
    public init(code: UInt16, text: String) {
        self.code = code
        self.text = text
    }

    /// A reply whose text is cut to at most ``maxTextBytes`` bytes at a character boundary.
    public init(code: UInt16, truncating text: String) {
        self.code = code
        var kept = ""
        var bytes = 0
        for character in text {
            let size = character.utf8.count
            if bytes + size > Self.maxTextBytes { break }
            kept.append(character)
            bytes += size
        }
        self.text = kept
    }

    /// The code is 0 or in 200...599 and the text fits.
    public var isValid: Bool {
        (code == 0 || (200...599).contains(code)) && text.utf8.count <= Self.maxTextBytes
    }
}
