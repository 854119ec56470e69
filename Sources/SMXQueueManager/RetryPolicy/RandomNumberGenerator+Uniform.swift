extension RandomNumberGenerator {
    /// A uniform value in `[0, 1)` from the top 53 bits of one draw. Written out (rather than
    /// `Double.random(in:using:)`) so that a seed gives the same retry times whatever the
    /// standard library's algorithm.
    mutating func unitInterval() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// A uniform value in `range`, from one or more draws (rejection sampling, no bias).
    mutating func uniform(in range: ClosedRange<UInt64>) -> UInt64 {
        let span = range.upperBound - range.lowerBound
        if span == .max { return next() }
        return range.lowerBound + next(upperBound: span + 1)
    }
}
