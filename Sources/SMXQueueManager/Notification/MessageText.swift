/// The text rules every line the composer writes follows: CRLF line ends, at most 998
/// octets per line (RFC 5322 §2.1.1), header fields folded near 78, and generated text kept
/// to 7-bit printable ASCII.
enum MessageText {
    static let crlf: [UInt8] = [0x0D, 0x0A]
    /// Lines are folded or wrapped before this length when a space allows it.
    static let preferredLength = 78
    /// RFC 5322's hard limit, without the CRLF.
    static let maximumLength = 998

    /// `text` as printable ASCII: characters outside `0x20 ... 0x7E` become `\x{HEX}`
    /// (RFC 6533's embedded Unicode form), a line break (CRLF, CR or LF) becomes a space.
    static func sevenBit(_ text: String) -> String {
        var out = ""
        var previousWasCR = false
        for scalar in text.unicodeScalars {
            defer { previousWasCR = scalar == "\r" }
            switch scalar.value {
            case 0x0A where previousWasCR: continue
            case 0x0A, 0x0D: out += " "
            case 0x20...0x7E: out.unicodeScalars.append(scalar)
            default: out += embedded(scalar)
            }
        }
        return out
    }

    /// An address as RFC 3464 `address-type; generic-address`: unchanged under `type` when
    /// it is printable ASCII, else under type `utf-8` in RFC 6533's utf-8-addr-xtext, where
    /// everything but `!` ... `~` other than `+`, `=` and `\` is `\x{HEX}`.
    static func address(_ address: String, type: String) -> String {
        if address.unicodeScalars.allSatisfy({ (0x20...0x7E).contains($0.value) }) && !address.isEmpty {
            return "\(type); \(address)"
        }
        var out = ""
        for scalar in address.unicodeScalars {
            let isQChar = (0x21...0x7E).contains(scalar.value) && !["+", "=", "\\"].contains(scalar)
            if isQChar { out.unicodeScalars.append(scalar) } else { out += embedded(scalar) }
        }
        return "utf-8; \(out)"
    }

    /// `\x{HEX}`: upper-case hex, at least two digits.
    static func embedded(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        return "\\x{\(hex.count < 2 ? "0" + hex : hex)}"
    }

    /// Appends the header field `name: value` (value already 7-bit), folded at spaces so
    /// lines stay near ``preferredLength``. A word too long for one line is cut: unfolding
    /// then shows a space inside it, the price of the 998-octet limit.
    static func appendField(_ name: String, _ value: String, to out: inout [UInt8]) {
        var line = Array("\(name):".utf8)
        var lineHasWord = false
        for word in value.split(separator: " ", omittingEmptySubsequences: true) {
            for piece in chunks(Array(word.utf8), size: maximumLength - 1) {
                let length = line.count + 1 + piece.count
                if (lineHasWord && length > preferredLength) || length > maximumLength {
                    out += line + crlf
                    line = []
                }
                line += [0x20] + piece
                lineHasWord = true
            }
        }
        out += line + crlf
    }

    /// Appends `text` (7-bit, one paragraph per element) as lines of at most
    /// ``preferredLength``, wrapped at spaces; an empty element writes an empty line.
    static func appendParagraphs(_ paragraphs: [String], indent: String = "", to out: inout [UInt8]) {
        for paragraph in paragraphs {
            var line: [UInt8] = Array(indent.utf8)
            var lineHasWord = false
            for word in paragraph.split(separator: " ", omittingEmptySubsequences: true) {
                for piece in chunks(Array(word.utf8), size: maximumLength - indent.utf8.count) {
                    if lineHasWord && line.count + 1 + piece.count > preferredLength {
                        out += line + crlf
                        line = Array(indent.utf8)
                        lineHasWord = false
                    }
                    line += (lineHasWord ? [0x20] : []) + piece
                    lineHasWord = true
                }
            }
            out += (lineHasWord ? line : []) + crlf
        }
    }

    /// `bytes` with every line ending made CRLF (bare LF and bare CR included), every line
    /// longer than ``maximumLength`` broken, and a final CRLF added if missing.
    static func normalizedLines(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 32 + 2)
        var lineLength = 0
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            index += 1
            if byte == 0x0D || byte == 0x0A {
                if byte == 0x0D, index < bytes.endIndex, bytes[index] == 0x0A { index += 1 }
                out += crlf
                lineLength = 0
                continue
            }
            if lineLength == maximumLength {
                out += crlf
                lineLength = 0
            }
            out.append(byte)
            lineLength += 1
        }
        if lineLength > 0 || out.isEmpty { out += crlf }
        return out
    }

    private static func chunks(_ bytes: [UInt8], size: Int) -> [[UInt8]] {
        stride(from: 0, to: bytes.count, by: size).map { Array(bytes[$0..<min($0 + size, bytes.count)]) }
    }
}
