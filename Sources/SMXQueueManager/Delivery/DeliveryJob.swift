/// One delivery attempt handed to a ``DeliveryAgent``: one envelope, one destination (a
/// delivery class and a next hop), and up to the configured number of its recipients
/// there, which the agent sends in one transaction (the seed: mail from one envelope to
/// one destination goes in one transaction unless there are too many recipients).
///
/// ``JobBuilder`` makes them. A job is in flight from ``DestinationTable/started(_:now:)``
/// to ``DestinationTable/finished(_:outcome:now:using:)`` for its next hop.
public struct DeliveryJob: Equatable, Sendable, Identifiable {
    /// Names a job among those one queue manager hands out; not stored, not reused while
    /// the manager runs.
    public struct ID: Hashable, Comparable, Sendable, CustomStringConvertible {
        public let rawValue: UInt64

        public init(_ rawValue: UInt64) {
            self.rawValue = rawValue
        }

        public static func < (a: ID, b: ID) -> Bool { a.rawValue < b.rawValue }

        public var description: String { "job \(rawValue)" }
    }

    public var id: ID
    public var envelope: DeliveryEnvelope
    public var deliveryClass: DeliveryClass
    public var nextHop: NextHop
    /// At least one; in RCPT TO order (by recipient id).
    public var recipients: [JobRecipient]

    public init(id: ID, envelope: DeliveryEnvelope, deliveryClass: DeliveryClass, nextHop: NextHop, recipients: [JobRecipient]) {
        self.id = id
        self.envelope = envelope
        self.deliveryClass = deliveryClass
        self.nextHop = nextHop
        self.recipients = recipients
    }
}
