/// Where a recipient goes: a domain or host, with an optional port. It names the
/// destination whose retry state, concurrency and deferred-queue destination index entry
/// the recipient shares with every other recipient going there.
///
/// Normalized when made: ASCII letters lower-cased, one trailing dot of the host removed.
/// The host is a domain (labels of 1 ... 63 bytes of letters, digits, `-`, `_` or UTF-8;
/// IDNA is not applied) or an address literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]`); the
/// whole name, `host` or `host:port`, is 1 ... 255 bytes, as the deferred queue's
/// destination field requires.
public struct NextHop: Hashable, Sendable, CustomStringConvertible {
    /// `host`, or `host:port` when a port was given: the key of the destination state and
    /// of the deferred queue's destination index.
    public let name: String
    /// The domain or host, normalized.
    public let host: String
    /// The port to connect to; nil for the delivery class's default (25 for SMTP).
    public let port: UInt16?
    /// FNV-1a of ``name``, computed once: the scheduler hashes a next hop several times per
    /// recipient (its waiting list, the destination table), and ``name`` decides equality
    /// (it spells the host and the port), so hashing this one word is enough.
    private let nameHash: UInt64

    /// Nil when `host` is not a domain or an address literal, `port` is 0, or the name
    /// would exceed 255 bytes.
    public init?(host: String, port: UInt16? = nil) {
        let host = DestinationPattern.normalize(host)
        guard Self.isValidHost(host.utf8), port != 0 else { return nil }
        let name = port.map { "\(host):\($0)" } ?? host
        guard name.utf8.count <= 255 else { return nil }
        self.name = name
        self.host = host
        self.port = port
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        nameHash = hash
    }

    public static func == (a: NextHop, b: NextHop) -> Bool { a.nameHash == b.nameHash && a.name == b.name }

    public func hash(into hasher: inout Hasher) { hasher.combine(nameHash) }

    /// Parses `host` or `host:port` (`relay.example.net:2525`, `[IPv6:2001:db8::1]:587`),
    /// the form ``name`` writes and the deferred queue stores. Nil when it is neither.
    public init?(_ name: String) {
        let bytes = Array(name.utf8)
        if let colon = bytes.lastIndex(of: UInt8(ascii: ":")), !bytes[..<colon].contains(UInt8(ascii: "[")) || bytes[colon - 1] == UInt8(ascii: "]") {
            let digits = bytes[(colon + 1)...]
            guard !digits.isEmpty, digits.count <= 5, digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
                let port = UInt16(String(decoding: digits, as: UTF8.self))
            else { return nil }
            self.init(host: String(decoding: bytes[..<colon], as: UTF8.self), port: port)
        } else {
            self.init(host: name)
        }
    }

    public var description: String { name }

    /// A domain of 1 ... 255 bytes in labels of 1 ... 63, or `[...]` around printable ASCII
    /// other than brackets and backslash (RFC 5321 `dcontent`).
    /// One pass over the bytes, without copying them (every resolution makes a next hop).
    static func isValidHost(_ bytes: String.UTF8View) -> Bool {
        let count = bytes.count
        guard count > 0, count <= 255 else { return false }
        if bytes.first == UInt8(ascii: "[") {
            guard count > 2, bytes.last == UInt8(ascii: "]") else { return false }
            return bytes.dropFirst().dropLast().allSatisfy { (33...90).contains($0) || (94...126).contains($0) }
        }
        var label = 0
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                guard label >= 1 else { return false }
                label = 0
                continue
            }
            guard isLabelByte(byte) else { return false }
            label += 1
            guard label <= 63 else { return false }
        }
        return label >= 1
    }

    private static func isLabelByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
            true
        default:
            byte >= 0x80
        }
    }
}
