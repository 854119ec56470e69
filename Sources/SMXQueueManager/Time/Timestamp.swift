/// An instant as microseconds since the Unix epoch (1970-01-01T00:00:00Z), the unit the
/// stores use for arrival, first-failure and next-try times.
///
/// Arithmetic saturates: adding past the largest instant gives the largest instant,
/// subtracting past the epoch gives the epoch, and the time from a later instant to an
/// earlier one counts as zero. Retry and notification code never traps on a clock that went
/// backwards or on an absurd configured interval.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var microsecondsSinceEpoch: UInt64

    public init(microsecondsSinceEpoch: UInt64) {
        self.microsecondsSinceEpoch = microsecondsSinceEpoch
    }

    public init(secondsSinceEpoch: UInt64) {
        let (product, overflow) = secondsSinceEpoch.multipliedReportingOverflow(by: 1_000_000)
        microsecondsSinceEpoch = overflow ? .max : product
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.microsecondsSinceEpoch < rhs.microsecondsSinceEpoch
    }

    /// The instant `duration` later (a negative duration counts as zero).
    public static func + (lhs: Timestamp, rhs: Duration) -> Timestamp {
        lhs.adding(microseconds: rhs.wholeMicroseconds)
    }

    /// The instant `duration` earlier (a negative duration counts as zero; the epoch is the
    /// earliest instant).
    public static func - (lhs: Timestamp, rhs: Duration) -> Timestamp {
        let micros = rhs.wholeMicroseconds
        return Timestamp(microsecondsSinceEpoch: lhs.microsecondsSinceEpoch > micros ? lhs.microsecondsSinceEpoch - micros : 0)
    }

    public var description: String { "\(microsecondsSinceEpoch)µs" }

    func adding(microseconds: UInt64) -> Timestamp {
        let (sum, overflow) = microsecondsSinceEpoch.addingReportingOverflow(microseconds)
        return Timestamp(microsecondsSinceEpoch: overflow ? .max : sum)
    }

    func microseconds(since earlier: Timestamp) -> UInt64 {
        microsecondsSinceEpoch > earlier.microsecondsSinceEpoch ? microsecondsSinceEpoch - earlier.microsecondsSinceEpoch : 0
    }
}
