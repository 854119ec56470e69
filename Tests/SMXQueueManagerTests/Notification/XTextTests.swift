import SMXQueueManager
import SMXTestSupport
import Testing

@Suite struct XTextTests {
    @Test func knownValues() throws {
        #expect(XText.encode(Array("bob+x=y@example.com".utf8)) == "bob+2Bx+3Dy@example.com")
        #expect(XText.encode(Array("a b\u{7F}\u{0}".utf8)) == "a+20b+7F+00")
        #expect(XText.encode(Array("é".utf8)) == "+C3+A9")
        #expect(try XText.decode("bob+2Bx+3dy@example.com") == Array("bob+x=y@example.com".utf8))
        #expect(try XText.decode("") == [])
    }

    @Test func roundTripsEveryByte() throws {
        let all = (0...255).map { UInt8($0) }
        #expect(try XText.decode(XText.encode(all)) == all)
        var random = SplitMix64(seed: 11)
        for _ in 0..<500 {
            let bytes = random.bytes(random.below(40))
            let encoded = XText.encode(bytes)
            #expect(try XText.decode(encoded) == bytes)
            #expect(encoded.utf8.allSatisfy { (0x21...0x7E).contains($0) && $0 != UInt8(ascii: "=") })
        }
    }

    @Test func errorsSayWhere() {
        #expect(throws: XTextError.truncatedHexChar(offset: 3)) { try XText.decode("abc+4") }
        #expect(throws: XTextError.truncatedHexChar(offset: 0)) { try XText.decode("+") }
        #expect(throws: XTextError.invalidHexDigit(offset: 2)) { try XText.decode("a+G0") }
        #expect(throws: XTextError.invalidHexDigit(offset: 3)) { try XText.decode("a+0z") }
        #expect(throws: XTextError.invalidCharacter(offset: 1, byte: 0x20)) { try XText.decode("a b") }
        #expect(throws: XTextError.invalidCharacter(offset: 0, byte: UInt8(ascii: "="))) { try XText.decode("=") }
        #expect(throws: XTextError.invalidCharacter(offset: 1, byte: 0xC3)) { try XText.decode("xé") }
    }

    /// Every prefix of valid and of damaged input decodes or throws; nothing traps.
    @Test func prefixesByteByByte() {
        let inputs = ["rfc822;bob+2Bx@example.com", "+4", "+zz+", "a=b", "ok+C3+A9"]
        for input in inputs {
            let bytes = Array(input.utf8)
            for end in 0...bytes.count {
                _ = try? XText.decode(bytes[..<end])
                _ = try? OriginalRecipient(parameter: bytes[..<end])
            }
        }
    }

    @Test func originalRecipientParameter() throws {
        let parsed = try OriginalRecipient(parameter: "rfc822;bob+2Bx@example.com")
        #expect(parsed == OriginalRecipient(addressType: "rfc822", address: "bob+x@example.com"))
        #expect(parsed.parameter == "rfc822;bob+2Bx@example.com")
        #expect(try OriginalRecipient(parameter: "utf-8;b+C3+B6b@example.com").address == "böb@example.com")
        #expect(throws: OriginalRecipientError.missingSemicolon) { try OriginalRecipient(parameter: "bob@example.com") }
        #expect(throws: OriginalRecipientError.invalidAddressType) { try OriginalRecipient(parameter: ";bob@example.com") }
        #expect(throws: OriginalRecipientError.invalidAddressType) { try OriginalRecipient(parameter: "rfc 822;bob@example.com") }
        #expect(throws: OriginalRecipientError.emptyAddress) { try OriginalRecipient(parameter: "rfc822;") }
        #expect(throws: OriginalRecipientError.invalidXText(.invalidCharacter(offset: 3, byte: 0x20))) {
            try OriginalRecipient(parameter: "rfc822;bob x")
        }
        #expect(throws: OriginalRecipientError.invalidUTF8) { try OriginalRecipient(parameter: "rfc822;+FF") }
    }
}
