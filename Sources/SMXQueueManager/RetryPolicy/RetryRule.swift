/// How one set of destinations is retried: the schedule, how long a message may wait in the
/// queue for them, and when its sender is told it is late.
public struct RetryRule: Hashable, Sendable {
    public var pattern: DestinationPattern
    public var schedule: RetrySchedule
    /// The longest a message may stay queued, from its arrival. A temporary failure at or
    /// after `arrival + lifetime` is final: the recipient expires (a failed DSN).
    public var lifetime: Duration
    /// When set, the first temporary failure at or after `arrival + warnAfter` (and before
    /// expiry) asks for a delay DSN, once per recipient.
    public var warnAfter: Duration?

    public init(_ pattern: DestinationPattern, schedule: RetrySchedule, lifetime: Duration, warnAfter: Duration? = nil) {
        self.pattern = pattern
        self.schedule = schedule
        self.lifetime = lifetime
        self.warnAfter = warnAfter
    }

    /// Throws when the schedule, the lifetime or the warning time is out of range.
    public func validate() throws(RetryConfigurationError) {
        try schedule.validate()
        guard lifetime.wholeMicroseconds > 0 else { throw .invalidLifetime }
        if let warnAfter, warnAfter.wholeMicroseconds == 0 { throw .invalidLifetime }
        switch pattern {
        case .exact(let name), .subdomains(of: let name):
            guard !DestinationPattern.normalize(name).isEmpty else { throw .emptyPattern }
        case .any:
            break
        }
    }
}
