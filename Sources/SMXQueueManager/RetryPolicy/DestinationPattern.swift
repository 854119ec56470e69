/// Which destinations (next-hop domains or hosts, as the address resolver names them) a
/// ``RetryRule`` applies to.
///
/// Matching ignores ASCII case and one trailing dot. When several rules match, the most
/// specific wins, whatever their order: an exact name, then the longest matching suffix,
/// then ``any``.
public enum DestinationPattern: Hashable, Sendable, CustomStringConvertible {
    /// Exactly this name (`example.com`).
    case exact(String)
    /// Every name below this domain, not the domain itself (`*.example.com` matches
    /// `mx.example.com` and `a.b.example.com`, not `example.com`).
    case subdomains(of: String)
    /// Every destination (`*`): the default rule.
    case any

    public var description: String {
        switch self {
        case .exact(let name): name
        case .subdomains(let domain): "*.\(domain)"
        case .any: "*"
        }
    }

    /// The pattern with its name in the form lookups compare (lowercase ASCII, no trailing
    /// dot).
    var normalized: DestinationPattern {
        switch self {
        case .exact(let name): .exact(Self.normalize(name))
        case .subdomains(let domain): .subdomains(of: Self.normalize(domain))
        case .any: .any
        }
    }

    static func normalize(_ name: String) -> String {
        if name.utf8.last != UInt8(ascii: "."), !name.utf8.contains(where: { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }) {
            return name
        }
        var bytes = Array(name.utf8)
        if bytes.last == UInt8(ascii: ".") { bytes.removeLast() }
        for i in bytes.indices where (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(bytes[i]) {
            bytes[i] += 32
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
