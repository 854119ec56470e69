/// Load control for the receiving side (the seed's "Load Control": the queue manager
/// favours delivery over accepting more mail, and decides from several resources, not one
/// "load" number): from a ``LoadPressure`` snapshot, whether to accept, slow down or refuse
/// new mail.
///
/// **Stages.** Each watched resource has a ``LoadThreshold``. The decision is
/// ``AdmissionDecision/refuse(_:)`` when any resource is at or above its refuse threshold,
/// else ``AdmissionDecision/slowDown(_:)`` when any is at or above its slow-down threshold,
/// else ``AdmissionDecision/accept``. The reason names the resource furthest over its
/// threshold (by ratio; ties in ``LoadResource`` order). Unwatched resources never count.
///
/// **Hysteresis.** A stage, once entered, is left only when every resource has fallen
/// below its threshold less ``hysteresis`` of it (0.10: a slow-down entered at 1 000 ends
/// below 900), so a load hovering at a threshold does not flap. The caller passes the
/// previous decision in; nothing else is remembered.
///
/// **Bounded.** Slowing down is a fixed pause of ``slowDownDelay`` (at most
/// ``maximumSlowDownDelay``), refusing is immediate: nothing here makes a client wait for the
/// load to fall.
///
/// Pure: no clock, no I/O, no state.
public struct AdmissionControl: Hashable, Sendable {
    /// The default ``hysteresis``.
    public static let defaultHysteresis = 0.10
    /// The default ``slowDownDelay``.
    public static let defaultSlowDownDelay = Duration.seconds(1)
    /// The longest ``slowDownDelay``: far below the 5-minute reply timeouts of RFC 5321
    /// §4.5.3.2, so a slowed client does not time out and send the mail again.
    public static let maximumSlowDownDelay = Duration.seconds(60)

    public let thresholds: [LoadResource: LoadThreshold]
    public let slowDownDelay: Duration
    /// ``hysteresis`` in millionths.
    let hysteresisPPM: Int

    /// - Parameters:
    ///   - thresholds: the watched resources (none: always accept).
    ///   - hysteresis: the fraction below a stage's threshold that ends it (0 ..< 1).
    ///   - slowDownDelay: the pause per reply when slowing down (0 < d ≤ 60 s).
    public init(
        thresholds: [LoadResource: LoadThreshold],
        hysteresis: Double = defaultHysteresis,
        slowDownDelay: Duration = defaultSlowDownDelay
    ) throws(AdmissionConfigurationError) {
        for resource in LoadResource.allCases {
            guard let threshold = thresholds[resource] else { continue }
            guard threshold.slowDown >= 1, threshold.slowDown <= threshold.refuse else { throw .invalidThreshold(resource) }
        }
        guard hysteresis.isFinite, hysteresis >= 0, hysteresis < 1 else { throw .invalidHysteresis }
        guard slowDownDelay > .zero, slowDownDelay <= Self.maximumSlowDownDelay else { throw .invalidDelay }
        self.thresholds = thresholds
        self.slowDownDelay = slowDownDelay
        hysteresisPPM = Int((hysteresis * 1_000_000).rounded())
    }

    /// The hysteresis fraction, as configured (to a millionth).
    public var hysteresis: Double { Double(hysteresisPPM) / 1_000_000 }

    /// The decision for `pressure`, given the `previous` one (``AdmissionDecision/accept``
    /// for the first).
    public func decide(_ pressure: LoadPressure, previous: AdmissionDecision = .accept) -> AdmissionDecision {
        if let reason = worst(pressure, stage: \.refuse, holding: false) { return .refuse(reason) }
        if previous.stage >= 2, let reason = worst(pressure, stage: \.refuse, holding: true) { return .refuse(reason) }
        if let reason = worst(pressure, stage: \.slowDown, holding: false) { return .slowDown(reason) }
        if previous.stage >= 1, let reason = worst(pressure, stage: \.slowDown, holding: true) { return .slowDown(reason) }
        return .accept
    }

    /// The level below which a stage entered at `threshold` ends.
    public func exitLevel(of threshold: Int) -> Int {
        threshold - ActiveQueueConfiguration.share(hysteresisPPM, of: threshold, roundingUp: false)
    }

    /// The resource furthest over its `stage` threshold (over its exit level when
    /// `holding`), if any is.
    private func worst(_ pressure: LoadPressure, stage: KeyPath<LoadThreshold, Int>, holding: Bool) -> AdmissionDecision.Reason? {
        var worst: AdmissionDecision.Reason?
        for resource in LoadResource.allCases {
            guard let threshold = thresholds[resource]?[keyPath: stage] else { continue }
            let value = max(0, pressure[resource])
            let limit = holding ? exitLevel(of: threshold) : threshold
            guard value >= limit else { continue }
            let reason = AdmissionDecision.Reason(resource: resource, value: value, threshold: threshold)
            if let current = worst, !Self.isFurtherOver(reason, than: current) { continue }
            worst = reason
        }
        return worst
    }

    /// a.value / a.threshold > b.value / b.threshold, exactly.
    private static func isFurtherOver(_ a: AdmissionDecision.Reason, than b: AdmissionDecision.Reason) -> Bool {
        let left = a.value.multipliedFullWidth(by: b.threshold)
        let right = b.value.multipliedFullWidth(by: a.threshold)
        return (left.high, left.low) > (right.high, right.low)
    }
}
