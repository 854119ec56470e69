/// How a recipient is delivered: which delivery agent takes its jobs. An open set: the
/// constants name the classes smx knows, and an MTA may add its own (`lmtp`, `pipe`).
public struct DeliveryClass: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    /// SMTP to the next hop (the recipient domain's MX hosts, or a relay host).
    public static let smtp = DeliveryClass(rawValue: "smtp")
    /// Delivery into this host's mailboxes.
    public static let local = DeliveryClass(rawValue: "local")
    /// Accept and drop: the recipient counts as delivered, nothing is sent.
    public static let discard = DeliveryClass(rawValue: "discard")

    public var description: String { rawValue }
}
