/// A load-control configuration that cannot be used: thrown by
/// ``AdmissionControl/init(thresholds:hysteresis:slowDownDelay:)`` when the configuration is
/// loaded, so a bad one fails at startup, not under load.
public enum AdmissionConfigurationError: Error, Hashable, Sendable {
    /// The resource's slow-down threshold is below 1 or above its refuse threshold.
    case invalidThreshold(LoadResource)
    /// The hysteresis is not a finite fraction in 0 ..< 1.
    case invalidHysteresis
    /// The slow-down delay is not above zero or exceeds ``AdmissionControl/maximumSlowDownDelay``.
    case invalidDelay
}
