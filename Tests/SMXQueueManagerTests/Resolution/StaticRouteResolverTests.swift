import SMXQueueManager
import SMXStore
import Testing

@Suite struct StaticRouteResolverTests {
    static func hop(_ name: String) -> NextHop { NextHop(name)! }

    static let refused = StatusReply(code: 550, status: EnhancedStatusCode(5, 7, 1)!, text: "relaying denied")
    static let later = StatusReply(code: 451, status: EnhancedStatusCode(4, 3, 0)!, text: "route table reloading")

    @Test func withoutRoutesTheDomainIsTheNextHop() async throws {
        let resolver = try StaticRouteResolver()
        #expect(await resolver.resolve(recipient: "Bob@Example.COM", sender: "alice@example.net") == .deliver(.smtp, Self.hop("example.com")))
        #expect(await resolver.resolve(recipient: "bob@example.com.", sender: "") == .deliver(.smtp, Self.hop("example.com")))
        // The last @ starts the domain: a quoted local part may hold one.
        #expect(await resolver.resolve(recipient: "\"a@b\"@example.org", sender: "") == .deliver(.smtp, Self.hop("example.org")))
        #expect(await resolver.resolve(recipient: "bob@[192.0.2.1]", sender: "") == .deliver(.smtp, Self.hop("[192.0.2.1]")))
    }

    @Test(arguments: [
        "bob", "bob@", "@example.com", "bob@example..com", "bob@exa mple.com", "bob@example.com:25",
        "bob\r\n@example.com", "bob@ex,ample.com", "bob@.", "bob@[192.0.2.1",
    ])
    func malformedAddressesFailPermanentlyWith513(_ address: String) async throws {
        let resolver = try StaticRouteResolver(routes: [StaticRoute(.any, .relay(Self.hop("smarthost.example.net")))])
        guard case .permanentFailure(let reply) = await resolver.resolve(recipient: address, sender: "") else {
            Issue.record("\(address) was not refused")
            return
        }
        #expect(reply.status.description == "5.1.3")
        #expect(reply.reply == DeliveryReply(code: 553, text: "5.1.3 bad recipient address syntax"))
        #expect(reply.remoteMTA == nil)
    }

    @Test func routePrecedenceIsExactThenLongestSuffixThenDefault() async throws {
        let resolver = try StaticRouteResolver(routes: [
            StaticRoute(.any, .relay(Self.hop("smarthost.example.net:587"))),
            StaticRoute(.subdomains(of: "example.com"), .relay(Self.hop("inner.example.com"))),
            StaticRoute(.subdomains(of: "lab.example.com"), .discard),
            StaticRoute(.exact("Example.COM"), .deliver(.local)),
            StaticRoute(.exact("spam.lab.example.com"), .reject(Self.refused)),
            StaticRoute(.exact("flaky.example.org"), .reject(Self.later)),
        ])
        func resolve(_ address: String) async -> Resolution { await resolver.resolve(recipient: address, sender: "a@b.example") }
        #expect(await resolve("x@example.com") == .deliver(.local, Self.hop("example.com")))
        #expect(await resolve("x@mx.example.com") == .deliver(.smtp, Self.hop("inner.example.com")))
        #expect(await resolve("x@a.b.example.com") == .deliver(.smtp, Self.hop("inner.example.com")))
        #expect(await resolve("x@lab.example.com") == .deliver(.smtp, Self.hop("inner.example.com")))
        #expect(await resolve("x@host.LAB.example.com") == .deliver(.discard, Self.hop("host.lab.example.com")))
        #expect(await resolve("x@spam.lab.example.com") == .permanentFailure(Self.refused))
        #expect(await resolve("x@flaky.example.org") == .temporaryFailure(Self.later))
        #expect(await resolve("x@example.org") == .deliver(.smtp, Self.hop("smarthost.example.net:587")))
        #expect(await resolve("x@notexample.com") == .deliver(.smtp, Self.hop("smarthost.example.net:587")))
    }

    @Test func badRouteTablesAreRefused() {
        #expect(throws: DeliveryConfigurationError.duplicatePattern(.exact("EXAMPLE.com."))) {
            try StaticRouteResolver(routes: [StaticRoute(.exact("example.com"), .discard), StaticRoute(.exact("EXAMPLE.com."), .discard)])
        }
        #expect(throws: DeliveryConfigurationError.emptyPattern) {
            try StaticRouteResolver(routes: [StaticRoute(.subdomains(of: "."), .discard)])
        }
        let success = StatusReply(code: 250, status: EnhancedStatusCode(2, 0, 0)!, text: "ok")
        let mismatched = StatusReply(code: 250, status: EnhancedStatusCode(5, 7, 1)!, text: "no")
        for reply in [success, mismatched] {
            #expect(throws: DeliveryConfigurationError.invalidRejectReply(.any)) {
                try StaticRouteResolver(routes: [StaticRoute(.any, .reject(reply))])
            }
        }
    }

    @Test func statusRepliesFeedTheDeferredQueueAndTheDSN() {
        #expect(Self.refused.reply == DeliveryReply(code: 550, text: "5.7.1 relaying denied"))
        #expect(Self.refused.diagnostic == DiagnosticCode("550 5.7.1 relaying denied"))
        let noReply = StatusReply(DeliveryReply(code: 0, text: "connect to mx.example.com: timed out"), status: EnhancedStatusCode(4, 4, 1)!)
        #expect(noReply.diagnostic == DiagnosticCode("connect to mx.example.com: timed out"))
        let long = StatusReply(code: 550, status: EnhancedStatusCode(5, 0, 0)!, text: String(repeating: "x", count: 1_000))
        #expect(long.reply.text.utf8.count == DeliveryReply.maxTextBytes && long.reply.isValid)
    }
}
