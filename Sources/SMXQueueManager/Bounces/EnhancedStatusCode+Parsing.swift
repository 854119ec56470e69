extension EnhancedStatusCode {
    /// The enhanced status code that opens a reply text (`5.1.1 <bob@example.com>: no such
    /// user`), as SMTP servers write it (RFC 2034 §4), or nil when the text does not start
    /// with one followed by a space or its end. The syntax is RFC 3463's: one digit of
    /// class, then 1 to 3 digits of subject and of detail (`class "." subject "." detail`).
    public init?(leadingIn text: String) {
        var bytes = text.utf8.makeIterator()
        var parts: [Int] = []
        var current = 0
        var digits = 0
        var next = bytes.next()
        while let byte = next {
            if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                digits += 1
                // Class: one digit; subject and detail: at most three.
                guard digits <= (parts.isEmpty ? 1 : 3) else { return nil }
                current = current * 10 + Int(byte - UInt8(ascii: "0"))
            } else if byte == UInt8(ascii: "."), digits > 0, parts.count < 2 {
                parts.append(current)
                current = 0
                digits = 0
            } else {
                break
            }
            next = bytes.next()
        }
        guard parts.count == 2, digits > 0 else { return nil }
        if let byte = next, byte != UInt8(ascii: " ") { return nil }
        self.init(parts[0], parts[1], current)
    }
}
