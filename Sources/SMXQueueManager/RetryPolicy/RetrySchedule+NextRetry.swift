extension RetrySchedule {
    /// The time of the next try, measured from the destination's first failure, given that
    /// `elapsed` has passed since it. Always later than `elapsed`. Draws from `random` only
    /// when a random step is in effect. No fuzz: ``RetryPolicy`` adds that.
    ///
    /// Meant for a schedule that passed ``validate()``; an invalid one still gives a result
    /// after `elapsed` (parameters are clamped into range) and never traps.
    public func nextRetry(after elapsed: Duration, using random: inout some RandomNumberGenerator) -> Duration {
        .microseconds(Int64(clamping: nextOffset(after: elapsed.wholeMicroseconds, using: &random)))
    }

    /// ``nextRetry(after:using:)`` in microseconds; the result is above `elapsed` unless
    /// `elapsed` is the largest value (then it is that value).
    func nextOffset(after elapsed: UInt64, using random: inout some RandomNumberGenerator) -> UInt64 {
        switch self {
        case .steps(let steps):
            guard !steps.isEmpty else { return Self.saturatingSum(elapsed, 1) }
            return Self.stepsOffset(steps, after: elapsed, using: &random)
        case .quadratic(let skip):
            let root = Self.integerSquareRoot(elapsed / 1_000_000)
            let next = Self.saturatingSum(root, UInt64(max(skip, 1)))
            return Self.saturatingProduct(Self.saturatingProduct(next, next), 1_000_000)
        case .courier(let alpha, let beta, let gamma, let maxDelta):
            return Self.courierOffset(
                alpha: max(alpha.wholeMicroseconds, 1), beta: max(beta, 1), gamma: max(gamma.wholeMicroseconds, 1),
                maxDelta: min(max(maxDelta, 0), 62), after: elapsed
            )
        }
    }

    /// Walks the steps from the first failure: at each grid point the step in effect is the
    /// first whose cutoff the point has not reached, and it gives the next interval. A fixed
    /// step jumps over whole intervals at once, so the walk takes a few iterations per step.
    private static func stepsOffset(
        _ steps: [RetryStep], after elapsed: UInt64, using random: inout some RandomNumberGenerator
    ) -> UInt64 {
        var point: UInt64 = 0
        var index = 0
        // The next interval of a geometric step; zero until the step comes into effect.
        var geometricInterval = 0.0
        while true {
            while index < steps.count - 1 && point >= steps[index].cutoff.wholeMicroseconds {
                index += 1
                geometricInterval = 0
            }
            let isLast = index == steps.count - 1
            let cutoff = steps[index].cutoff.wholeMicroseconds
            // A fixed step stops at the first point past `elapsed`, or at the cutoff where the
            // next step takes over, whichever comes first.
            let limit = isLast ? elapsed : min(elapsed, cutoff &- 1)
            switch steps[index].interval {
            case .fixed(let duration):
                point = jump(from: point, by: max(duration.wholeMicroseconds, 1), past: limit)
            case .geometric(let start, let factor) where !(factor.isFinite && factor > 1):
                point = jump(from: point, by: max(start.wholeMicroseconds, 1), past: limit)
            case .geometric(let start, let factor):
                geometricInterval = geometricInterval == 0 ? Double(max(start.wholeMicroseconds, 1)) : geometricInterval * factor
                point = saturatingSum(point, geometricInterval >= 0x1p63 ? UInt64(1) << 63 : UInt64(geometricInterval))
            case .random(let minimum, let maximum):
                if isLast || elapsed < cutoff {
                    let low = max(minimum.wholeMicroseconds, 1)
                    let draw = random.uniform(in: low...max(low, maximum.wholeMicroseconds))
                    return saturatingSum(max(point, elapsed), draw)
                }
                // A random step wholly in the past leaves no grid behind: the next step
                // starts at its cutoff.
                point = cutoff
            }
            if point > elapsed || point == .max { return point }
        }
    }

    /// The first of `point + interval`, `point + 2·interval`, ... above `limit` (`point` if
    /// it is above already).
    private static func jump(from point: UInt64, by interval: UInt64, past limit: UInt64) -> UInt64 {
        guard point <= limit else { return point }
        return saturatingSum(point, saturatingProduct((limit - point) / interval + 1, interval))
    }

    private static func courierOffset(alpha: UInt64, beta: Int, gamma: UInt64, maxDelta: Int, after elapsed: UInt64) -> UInt64 {
        var point: UInt64 = 0
        for _ in 0..<beta {
            point = saturatingSum(point, alpha)
            if point > elapsed { return point }
        }
        let longestPause = saturatingProduct(gamma, UInt64(1) << UInt64(maxDelta))
        let cycle = saturatingSum(longestPause, saturatingProduct(UInt64(beta - 1), alpha))
        var round = 0
        while true {
            if round >= maxDelta, elapsed >= point, elapsed - point >= cycle {
                // From here every cycle is the same length: skip the whole ones.
                point = saturatingSum(point, saturatingProduct((elapsed - point) / cycle, cycle))
            }
            point = saturatingSum(point, round >= maxDelta ? longestPause : saturatingProduct(gamma, UInt64(1) << UInt64(round)))
            if point > elapsed || point == .max { return point }
            for _ in 1..<beta {
                point = saturatingSum(point, alpha)
                if point > elapsed || point == .max { return point }
            }
            round += 1
        }
    }

    /// ⌊√value⌋, exactly (no floating-point rounding at perfect squares).
    static func integerSquareRoot(_ value: UInt64) -> UInt64 {
        var root = UInt64(Double(value).squareRoot())
        while root > 0 && root.multipliedReportingOverflow(by: root).overflow { root -= 1 }
        while root * root > value { root -= 1 }
        while case let (square, false) = (root + 1).multipliedReportingOverflow(by: root + 1), square <= value {
            root += 1
        }
        return root
    }

    static func saturatingSum(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? .max : sum
    }

    static func saturatingProduct(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? .max : product
    }
}
