/// What an ``AddressResolver`` says about one recipient.
public enum Resolution: Equatable, Sendable {
    /// Deliver with this class to this next hop.
    case deliver(DeliveryClass, NextHop)
    /// Cannot be resolved now (a DNS timeout, a route table being reloaded): the recipient
    /// waits and is resolved again later. At RCPT time the reply goes back to the client.
    case temporaryFailure(StatusReply)
    /// Can never be delivered (malformed address, a rejecting route): the recipient fails,
    /// with a failed DSN if it was already accepted.
    case permanentFailure(StatusReply)
}
