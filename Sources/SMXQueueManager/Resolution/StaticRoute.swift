/// One entry of a ``StaticRouteResolver``'s table: the recipient domains it covers and
/// what becomes of their recipients.
public struct StaticRoute: Equatable, Sendable {
    /// What a route does with the recipients it covers.
    public enum Action: Equatable, Sendable {
        /// SMTP to this next hop (a smart host, an internal relay) instead of the recipient
        /// domain.
        case relay(NextHop)
        /// Deliver with this class to the recipient's domain as next hop (``DeliveryClass/local``
        /// for the domains this host delivers itself, ``DeliveryClass/discard``).
        case deliver(DeliveryClass)
        /// Refuse: a temporary failure when the reply's status is of class 4, a permanent
        /// one when of class 5.
        case reject(StatusReply)

        /// Accept and drop.
        public static let discard = Action.deliver(.discard)
    }

    /// The recipient domains covered, with ``DestinationPattern``'s precedence: an exact
    /// domain, then the longest `*.suffix`, then `*`.
    public var pattern: DestinationPattern
    public var action: Action

    public init(_ pattern: DestinationPattern, _ action: Action) {
        self.pattern = pattern
        self.action = action
    }
}
