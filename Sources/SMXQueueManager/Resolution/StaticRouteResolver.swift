/// The default ``AddressResolver``: the next hop is the recipient's domain, unless a static
/// route covers that domain. No DNS: the SMTP delivery agent looks up the MX hosts of the
/// next hop it is given.
///
/// - The domain is what follows the last `@`, lower-cased (ASCII), one trailing dot
///   removed. An address without a non-empty local part and a valid domain (see
///   ``NextHop``), or with a control character, fails permanently with 553 5.1.3.
/// - A route matching the domain (an exact domain, then the longest `*.suffix`, then `*`)
///   decides: relay to its next hop, deliver with its class, or reject with its reply.
/// - Without one: ``DeliveryClass/smtp`` to the domain.
///
/// The answer depends on the recipient alone; the sender is not consulted.
public struct StaticRouteResolver: AddressResolver {
    /// The routes, in the order given.
    public let routes: [StaticRoute]
    private let table: DestinationPatternTable<StaticRoute.Action>

    /// The reply to a malformed recipient address.
    public static let badSyntax = StatusReply(code: 553, status: EnhancedStatusCode(5, 1, 3)!, text: "bad recipient address syntax")

    /// Throws when two routes share a pattern, a pattern is empty, or a rejecting route's
    /// reply is not a failure.
    public init(routes: [StaticRoute] = []) throws(DeliveryConfigurationError) {
        var table = DestinationPatternTable<StaticRoute.Action>()
        for route in routes {
            switch route.pattern {
            case .exact(let name), .subdomains(of: let name):
                guard !DestinationPattern.normalize(name).isEmpty else { throw .emptyPattern }
            case .any:
                break
            }
            if case .reject(let reply) = route.action {
                let statusClass = reply.status.statusClass
                guard statusClass != 2, Int(reply.reply.code) / 100 == statusClass else {
                    throw .invalidRejectReply(route.pattern)
                }
            }
            guard table.insert(route.action, for: route.pattern) else { throw .duplicatePattern(route.pattern) }
        }
        self.routes = routes
        self.table = table
    }

    public func resolve(recipient: String, sender: String) -> Resolution {
        guard let domain = Self.domain(of: recipient) else { return .permanentFailure(Self.badSyntax) }
        switch table.value(forNormalized: domain.host) {
        case nil: return .deliver(.smtp, domain)
        case .relay(let nextHop): return .deliver(.smtp, nextHop)
        case .deliver(let deliveryClass): return .deliver(deliveryClass, domain)
        case .reject(let reply): return reply.status.statusClass == 4 ? .temporaryFailure(reply) : .permanentFailure(reply)
        }
    }

    /// A table in memory answers at once: the same as ``resolve(recipient:sender:)``.
    public func resolveAtOnce(recipient: String, sender: String) -> Resolution? {
        resolve(recipient: recipient, sender: sender)
    }

    /// The domain after the last `@` of `address` as a next hop; nil when the local part
    /// is empty, the domain is not valid, or the address holds a control character.
    static func domain(of address: String) -> NextHop? {
        let bytes = address.utf8
        guard let at = bytes.lastIndex(of: UInt8(ascii: "@")), at != bytes.startIndex,
            !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F })
        else { return nil }
        return NextHop(host: String(address[bytes.index(after: at)...]))
    }
}
