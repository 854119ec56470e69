import SMXQueueManager
import Testing

@Suite struct NextHopTests {
    @Test func normalizesCaseAndTheTrailingDot() throws {
        let hop = try #require(NextHop(host: "MX.Example.COM."))
        #expect(hop.name == "mx.example.com" && hop.host == "mx.example.com" && hop.port == nil)
        #expect(NextHop(host: "mx.example.com") == hop)
        // Only ASCII is folded; UTF-8 labels are kept as given (no IDNA).
        #expect(NextHop(host: "BÜCHER.Example")?.name == "bÜcher.example")
    }

    @Test func portsAndAddressLiterals() throws {
        #expect(NextHop(host: "Relay.example.net", port: 2525)?.name == "relay.example.net:2525")
        #expect(NextHop("relay.example.net:2525") == NextHop(host: "relay.example.net", port: 2525))
        #expect(NextHop("relay.example.net:025")?.name == "relay.example.net:25")
        #expect(NextHop("[192.0.2.1]")?.host == "[192.0.2.1]")
        let v6 = try #require(NextHop("[IPv6:2001:db8::1]:587"))
        #expect(v6.host == "[ipv6:2001:db8::1]" && v6.port == 587)
        #expect(NextHop("[IPv6:2001:db8::1]")?.port == nil)
    }

    @Test(arguments: [
        "", ".", "a..b", ".example.com", "exa mple.com", "example.com:", "example.com:0", "example.com:65536",
        "example.com:x", "a:b:25", "[]", "[192.0.2.1", "[a]b]", "a\u{0}b", "ex@mple.com",
        String(repeating: "a", count: 64) + ".com", String(repeating: "abcdefg.", count: 32) + "com",
    ])
    func rejectsWhatIsNotAHost(_ name: String) {
        #expect(NextHop(name) == nil)
    }

    @Test func nameStaysWithin255Bytes() {
        let host = Array(repeating: String(repeating: "a", count: 63), count: 4).joined(separator: ".")  // 255 bytes
        #expect(NextHop(host: host)?.name.utf8.count == 255)
        #expect(NextHop(host: host, port: 25) == nil)
    }
}
