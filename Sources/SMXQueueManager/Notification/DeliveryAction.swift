/// What the reporting MTA did for one recipient: RFC 3464 §2.3.3 `action-value`.
public enum DeliveryAction: String, Hashable, Sendable, CaseIterable {
    /// Given up: no further attempts (a bounce).
    case failed
    /// Not delivered yet; attempts continue.
    case delayed
    /// Delivered to the recipient's mailbox (or a list exploder). Final.
    case delivered
    /// Passed to a system that will not report success.
    case relayed
    /// Delivered to an alias with several recipients; further DSNs may follow for them.
    case expanded
}
