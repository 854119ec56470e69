extension EnhancedStatusCode {
    /// The enhanced status code that opens a reply text (`5.1.1 <bob@example.com>: no such
    /// user`), as SMTP servers write it (RFC 2034 §4), or nil when the text does not start
    /// with one followed by a space or its end.
    public init?(leadingIn text: String) {
        let bytes = Array(text.utf8.prefix(12))
        var numbers: [Int] = []
        var current: Int?
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                let value = (current ?? 0) * 10 + Int(byte - UInt8(ascii: "0"))
                guard value <= 999 else { return nil }
                current = value
            } else if byte == UInt8(ascii: "."), let value = current, numbers.count < 2 {
                numbers.append(value)
                current = nil
            } else {
                break
            }
            index += 1
        }
        guard numbers.count == 2, let detail = current else { return nil }
        if index < bytes.count, bytes[index] != UInt8(ascii: " ") { return nil }
        self.init(numbers[0], numbers[1], detail)
    }
}
