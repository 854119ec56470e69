/// Printable, fixed-width form shared by envelope and content ids: 13 characters of
/// Crockford base32 (digits and upper-case letters without I, L, O, U), most significant
/// first, so ids sort as text the way they sort as numbers.
enum Base32ID {
    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)
    static let width = 13

    static func encode(_ value: UInt64) -> String {
        var chars = [UInt8](repeating: 0, count: width)
        var v = value
        for i in stride(from: width - 1, through: 0, by: -1) {
            chars[i] = alphabet[Int(v & 31)]
            v >>= 5
        }
        return String(decoding: chars, as: UTF8.self)
    }

    static func decode(_ text: String) -> UInt64? {
        let bytes = Array(text.utf8)
        guard bytes.count == width else { return nil }
        var value: UInt64 = 0
        for (i, byte) in bytes.enumerated() {
            let upper = byte >= 0x61 && byte <= 0x7A ? byte - 0x20 : byte
            guard let digit = alphabet.firstIndex(of: upper) else { return nil }
            // The first character carries only 4 bits (13 * 5 = 65).
            if i == 0 && digit > 15 { return nil }
            value = value << 5 | UInt64(digit)
        }
        return value
    }
}

/// A queue-unique, never reused 64-bit identifier with a printable fixed-width form
/// (ARCHITECTURE.md, "Identifiers"). `Kind` keeps envelope and content ids apart.
public struct Identifier<Kind>: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    /// Parses the printable form (case-insensitive).
    public init?(_ text: String) {
        guard let value = Base32ID.decode(text) else { return nil }
        rawValue = value
    }

    public var description: String { Base32ID.encode(rawValue) }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }

    /// The integer's one-shot hash instead of the general path (a `Hasher` fed one word):
    /// the queue manager's tables look ids up several times per recipient.
    public func _rawHashValue(seed: Int) -> Int { rawValue._rawHashValue(seed: seed) }
}

public enum EnvelopeKind {}
public enum ContentKind {}

/// Names one envelope (an SMTP transaction) for the life of its queue; the queue manager
/// allocates them.
public typealias EnvelopeID = Identifier<EnvelopeKind>

/// Names one message body in the content store.
public typealias ContentID = Identifier<ContentKind>
