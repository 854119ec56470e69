/// A retry configuration that cannot be used: thrown by ``RetryPolicy/init(rules:fuzz:)``
/// before anything is scheduled, so a bad configuration fails at startup, not at the first
/// deferral.
public enum RetryConfigurationError: Error, Hashable, Sendable {
    /// A schedule has no steps.
    case emptySchedule
    /// Step `step` (0-based) has a cutoff that is not after the previous step's, or is zero.
    case cutoffNotIncreasing(step: Int)
    /// Step `step` has a zero or negative interval, or a random range with minimum above
    /// maximum.
    case invalidInterval(step: Int)
    /// Step `step` is geometric with a factor that is not a finite number above 1 (use a
    /// fixed step for a constant interval).
    case invalidFactor(step: Int)
    /// A quadratic or Courier schedule has a parameter out of range.
    case invalidParameter(String)
    /// A rule's lifetime is zero or negative, or its warning time is.
    case invalidLifetime
    /// The fuzz fraction is not in 0 ..< 1.
    case invalidFuzz
    /// Two rules have the same destination pattern.
    case duplicatePattern(DestinationPattern)
    /// A pattern names an empty domain.
    case emptyPattern
    /// No rule has the pattern ``DestinationPattern/any``, so some destination would have none.
    case missingDefaultRule
}
