import SMXQueueManager

extension FuzzHarness {
    public static func xtext(_ input: UnsafeRawBufferPointer) {
        xtext(Array(input.prefix(maxInput)))
    }

    /// The input as xtext (RFC 3461 §4) and as an ORCPT parameter value. Decoding either
    /// succeeds or throws its typed error, with an offset inside the input; what decodes
    /// encodes to canonical xtext that decodes back to the same bytes; and any bytes at all
    /// survive encoding and decoding.
    public static func xtext(_ data: [UInt8]) {
        let data = data.count > maxInput ? Array(data.prefix(maxInput)) : data
        do {
            let decoded = try XText.decode(data)
            precondition(decoded.count <= data.count, "xtext decoding grew the input")
            checkXTextRoundTrip(decoded)
        } catch {
            switch error {
            case .invalidCharacter(let offset, let byte):
                precondition(offset < data.count && data[offset] == byte, "invalidCharacter points at the wrong byte: \(error)")
            case .truncatedHexChar(let offset):
                precondition(offset < data.count && data[offset] == UInt8(ascii: "+") && offset + 3 > data.count, "bad truncation report: \(error)")
            case .invalidHexDigit(let offset):
                precondition(offset < data.count && offset > 0, "invalidHexDigit out of bounds: \(error)")
            }
        }
        checkXTextRoundTrip(data)
        if let recipient = try? OriginalRecipient(parameter: data) {
            let again: OriginalRecipient
            do {
                again = try OriginalRecipient(parameter: recipient.parameter)
            } catch {
                preconditionFailure("re-encoded ORCPT \(recipient.parameter) does not parse: \(error)")
            }
            precondition(again == recipient, "ORCPT round trip changed \(recipient) to \(again)")
        }
    }

    static func checkXTextRoundTrip(_ bytes: [UInt8]) {
        let encoded = XText.encode(bytes)
        precondition(encoded.utf8.allSatisfy { (0x21...0x7E).contains($0) && $0 != UInt8(ascii: "=") }, "xtext encoding is not xtext")
        do {
            let decoded = try XText.decode(encoded)
            precondition(decoded == bytes, "xtext round trip changed the bytes")
        } catch {
            preconditionFailure("encoded xtext does not decode: \(error)")
        }
    }

    public static func statusReply(_ input: UnsafeRawBufferPointer) {
        statusReply(Array(input.prefix(maxInput)))
    }

    /// The input as a reply text a remote server sent (stored in the deferred queue, read
    /// back by the notification pass): the enhanced status code leading it is nil, or a
    /// valid one (class 2, 4 or 5, subject and detail up to 999) that the text opens with
    /// (RFC 3463 syntax: 1 digit, 1 to 3, 1 to 3), followed by a space or the end.
    public static func statusReply(_ data: [UInt8]) {
        let data = data.count > maxInput ? Array(data.prefix(maxInput)) : data
        let text = String(decoding: data, as: UTF8.self)
        guard let code = EnhancedStatusCode(leadingIn: text) else { return }
        precondition([2, 4, 5].contains(code.statusClass) && (0...999).contains(code.subject) && (0...999).contains(code.detail),
                      "invalid code \(code) from \(data)")
        let utf8 = Array(text.utf8)
        let head = utf8.prefix { $0 != UInt8(ascii: " ") }
        let fields = head.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        precondition(fields.count == 3 && fields[0].count == 1 && fields.dropFirst().allSatisfy { (1...3).contains($0.count) },
                      "code \(code) read from a reply that does not open with one: \(utf8.prefix(16))")
        let parts = fields.map { Int(String(decoding: $0, as: UTF8.self)) }
        precondition(parts == [code.statusClass, code.subject, code.detail], "code \(code) does not open the reply \(utf8.prefix(16))")
    }
}
