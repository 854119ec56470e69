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
}
