/// A recipient with the resolver's answer for it: the input of ``JobBuilder``.
public struct ResolvedRecipient: Equatable, Sendable {
    public var recipient: JobRecipient
    public var deliveryClass: DeliveryClass
    public var nextHop: NextHop

    public init(_ recipient: JobRecipient, deliveryClass: DeliveryClass, nextHop: NextHop) {
        self.recipient = recipient
        self.deliveryClass = deliveryClass
        self.nextHop = nextHop
    }
}
