extension Duration {
    /// `count` minutes.
    public static func minutes(_ count: Int64) -> Duration { .seconds(count * 60) }

    /// `count` hours.
    public static func hours(_ count: Int64) -> Duration { .seconds(count * 3_600) }

    /// `count` days of 24 hours.
    public static func days(_ count: Int64) -> Duration { .seconds(count * 86_400) }

    /// Whole microseconds, rounded down; zero for a negative duration, `UInt64.max` for
    /// one too long to count. The retry arithmetic works in these.
    var wholeMicroseconds: UInt64 {
        guard self > .zero else { return 0 }
        let (seconds, attoseconds) = components
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000)
        if overflow { return .max }
        let (sum, carry) = whole.addingReportingOverflow(UInt64(attoseconds / 1_000_000_000_000))
        return carry ? .max : sum
    }
}
