extension Duration {
    /// Whole microseconds, rounded down; zero for a negative duration, `UInt64.max` for
    /// one too long to count. The stores' clocks and the retry arithmetic work in these.
    public var wholeMicroseconds: UInt64 {
        guard self > .zero else { return 0 }
        let (seconds, attoseconds) = components
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000)
        if overflow { return .max }
        let (sum, carry) = whole.addingReportingOverflow(UInt64(attoseconds / 1_000_000_000_000))
        return carry ? .max : sum
    }
}
