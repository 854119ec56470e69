/// An active-queue or fill configuration that cannot be used: thrown by
/// ``ActiveQueueConfiguration/init(capacity:lowWatermark:deferredReserve:deferredMaximum:minimumBatch:)``
/// when the configuration is loaded, so a bad one fails at startup, not at the first fill.
public enum ActiveQueueConfigurationError: Error, Hashable, Sendable {
    /// The capacity is below 1.
    case invalidCapacity
    /// The low watermark is negative, not below the capacity (a queue that is never below
    /// it would never be filled), or so high that a fill at the watermark has no room for
    /// the whole deferred reserve (capacity − lowWatermark < reservedDeferred).
    case invalidLowWatermark
    /// The deferred reserve is not a finite fraction in 0 ... 1, or is above the deferred
    /// maximum.
    case invalidDeferredReserve
    /// The deferred maximum is not a finite fraction in 0 < f ≤ 1.
    case invalidDeferredMaximum
    /// The minimum batch is below 1 or above capacity minus low watermark (a fill at the
    /// watermark must have room for a whole batch).
    case invalidMinimumBatch
}
