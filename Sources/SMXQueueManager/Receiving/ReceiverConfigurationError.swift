/// A receiver limit or an admission threshold that cannot be used: thrown when the
/// configuration is made, so a bad one fails at startup.
public enum ReceiverConfigurationError: Error, Hashable, Sendable {
    /// A limit below its minimum, or thresholds out of order.
    case invalidLimit(String)
}
