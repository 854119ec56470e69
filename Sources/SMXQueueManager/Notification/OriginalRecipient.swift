/// The recipient address as the sender gave it: RFC 3461 ORCPT, carried into the DSN's
/// Original-Recipient field (RFC 3464 §2.3.1).
public struct OriginalRecipient: Hashable, Sendable {
    /// An address type such as `rfc822` or `utf-8` (RFC 3464 `address-type`, an atom).
    public var addressType: String
    /// The address, decoded from xtext: the characters the sender typed.
    public var address: String

    public init(addressType: String, address: String) {
        self.addressType = addressType
        self.address = address
    }

    /// Parses an ORCPT parameter value, `addr-type ";" xtext` (`rfc822;bob+2Bx@example.com`).
    /// Throws an ``OriginalRecipientError`` for anything else; never traps.
    public init(parameter: some Collection<UInt8>) throws(OriginalRecipientError) {
        guard let semicolon = parameter.firstIndex(of: UInt8(ascii: ";")) else { throw .missingSemicolon }
        let type = parameter[..<semicolon]
        guard !type.isEmpty, type.allSatisfy(Self.isAtext) else { throw .invalidAddressType }
        let decoded: [UInt8]
        do {
            decoded = try XText.decode(parameter[parameter.index(after: semicolon)...])
        } catch {
            throw .invalidXText(error)
        }
        guard !decoded.isEmpty else { throw .emptyAddress }
        guard let address = String(validating: decoded, as: UTF8.self) else { throw .invalidUTF8 }
        self.addressType = String(decoding: type, as: UTF8.self)
        self.address = address
    }

    /// ``init(parameter:)-(some Collection<UInt8>)`` of a string's UTF-8 bytes.
    public init(parameter: String) throws(OriginalRecipientError) {
        try self.init(parameter: Array(parameter.utf8))
    }

    /// The ORCPT parameter value: the address type, `;`, the address in xtext.
    public var parameter: String {
        "\(addressType);\(XText.encode(address.utf8))"
    }

    /// RFC 5322 atext: the characters of an atom.
    static func isAtext(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            Array("!#$%&'*+-/=?^_`{|}~".utf8).contains(byte)
        }
    }
}
