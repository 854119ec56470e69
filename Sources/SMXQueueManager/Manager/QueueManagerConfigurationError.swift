/// A ``QueueManagerConfiguration`` that cannot be used: a timeout, lifetime or limit out of
/// range. Thrown when the configuration is made.
public enum QueueManagerConfigurationError: Error, Hashable, Sendable {
    case invalid(String)
}
