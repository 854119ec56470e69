/// RFC 3461 §4 "xtext", the encoding of the ENVID and ORCPT parameters in SMTP: printable
/// US-ASCII stands for itself, except `+` and `=`; every other octet is `+` and two hex
/// digits (`+2B` is a plus sign, `+20` a space).
public enum XText {
    /// The xtext form of `bytes`. Canonical: an octet is written as `+XX` (upper-case hex)
    /// exactly when RFC 3461 requires it.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        for byte in bytes {
            if isXChar(byte) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "+"))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The octets `text` stands for. Accepts lower-case hex digits as well (RFC 3461 asks for
    /// upper case; some clients send lower). Any other deviation is an ``XTextError`` with
    /// the offset of the first bad byte; no input traps.
    public static func decode(_ text: some Collection<UInt8>) throws(XTextError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var iterator = text.makeIterator()
        var offset = 0
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "+") {
                guard let high = iterator.next() else { throw .truncatedHexChar(offset: offset) }
                guard let low = iterator.next() else { throw .truncatedHexChar(offset: offset) }
                guard let h = hexValue(high) else { throw .invalidHexDigit(offset: offset + 1) }
                guard let l = hexValue(low) else { throw .invalidHexDigit(offset: offset + 2) }
                out.append(h << 4 | l)
                offset += 3
            } else {
                guard isXChar(byte) else { throw .invalidCharacter(offset: offset, byte: byte) }
                out.append(byte)
                offset += 1
            }
        }
        return out
    }

    /// ``decode(_:)-(some Collection<UInt8>)`` of a string's UTF-8 bytes.
    public static func decode(_ text: String) throws(XTextError) -> [UInt8] {
        try decode(Array(text.utf8))
    }

    /// `!` through `~` except `+` and `=`: the octets xtext writes as themselves.
    static func isXChar(_ byte: UInt8) -> Bool {
        (0x21...0x7E).contains(byte) && byte != UInt8(ascii: "+") && byte != UInt8(ascii: "=")
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)
}
