/// A route table, a destination limit or a job size that cannot be used: thrown when the
/// configuration is loaded, so a bad one fails at startup.
public enum DeliveryConfigurationError: Error, Hashable, Sendable {
    /// Two routes, or two limit overrides, have the same destination pattern.
    case duplicatePattern(DestinationPattern)
    /// A pattern names an empty domain.
    case emptyPattern
    /// A rejecting route's reply is not a failure: its enhanced status code must be of
    /// class 4 or 5 and its reply code of the same class.
    case invalidRejectReply(DestinationPattern)
    /// A concurrency limit, a recipients-per-job count or a table capacity below 1.
    case invalidLimit(String)
}
