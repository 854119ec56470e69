/// The size of the active queue and the rules of the first-level scheduler that fills it
/// (the seed's "Reading Entries from Deferred Queue" and "First Level Scheduling"): shared by
/// ``ActiveQueue``, which enforces the hard bounds, and ``FillPlanner``, which plans fills
/// within them.
///
/// **Fractions become slot counts** once, here, with integer arithmetic (fractions are kept
/// in millionths, so 0.1 of 30 is exactly 3, not 4 by a rounding error):
/// - ``maximumDeferred`` = ⌊deferredMaximum × capacity⌋, but at least 1: the most entries
///   from the deferred queue the active queue holds, so the deferred queue never starves
///   the incoming queue; at least one so that deferred mail is never locked out.
/// - ``reservedDeferred`` = ⌈deferredReserve × capacity⌉, but at most ``maximumDeferred``
///   and at most capacity − 1: the slots the incoming queue may not take while deferred
///   entries are due, so incoming mail never starves the deferred queue; rounded up so that
///   a small queue still reserves a slot, and capped so that incoming mail can always get one.
///
/// With the defaults (0.10 and 0.70): capacity 10 reserves 1 and allows 7; 1 000 reserves
/// 100 and allows 700; capacity 1 reserves none and allows 1 (one slot cannot be shared:
/// incoming mail goes first, deferred mail when no incoming mail waits).
public struct ActiveQueueConfiguration: Hashable, Sendable {
    /// The seed's example: at least ten per cent of the active queue for deferred entries.
    public static let defaultDeferredReserve = 0.10
    /// The seed's example: at most seventy per cent of the active queue from the deferred queue.
    public static let defaultDeferredMaximum = 0.70
    /// The largest default minimum batch (the seed's example moves 100 and then 50).
    public static let defaultMinimumBatchLimit = 100

    /// The most recipients the active queue holds.
    public let capacity: Int
    /// A fill happens only when the active queue holds this many entries or fewer.
    public let lowWatermark: Int
    /// The smallest number of entries read from the deferred queue in one fill, when that
    /// many are due and fit (reading in large batches saves disk I/O).
    public let minimumBatch: Int
    /// ``deferredReserve`` in millionths.
    let reservePPM: Int
    /// ``deferredMaximum`` in millionths.
    let maximumPPM: Int

    /// - Parameters:
    ///   - capacity: the most recipients in the active queue (≥ 1).
    ///   - lowWatermark: fill when at most this many are in it (0 ..< capacity, and low
    ///     enough that a fill has room for the whole reserve); default three quarters of
    ///     the capacity, rounded down.
    ///   - deferredReserve: the fraction reserved for deferred entries (0 ... deferredMaximum).
    ///   - deferredMaximum: the most the deferred entries may take (0 < f ≤ 1).
    ///   - minimumBatch: the smallest deferred read (1 ... capacity − lowWatermark); default
    ///     the smaller of 100 and ``reservedDeferred`` (at least 1), so that by default the
    ///     batch never makes a deferred read displace more incoming mail than the reserve.
    public init(
        capacity: Int,
        lowWatermark: Int? = nil,
        deferredReserve: Double = defaultDeferredReserve,
        deferredMaximum: Double = defaultDeferredMaximum,
        minimumBatch: Int? = nil
    ) throws(ActiveQueueConfigurationError) {
        guard capacity >= 1 else { throw .invalidCapacity }
        let lowWatermark = lowWatermark ?? capacity / 4 * 3 + capacity % 4 * 3 / 4
        guard lowWatermark >= 0, lowWatermark < capacity else { throw .invalidLowWatermark }
        guard deferredMaximum.isFinite, deferredMaximum > 0, deferredMaximum <= 1 else { throw .invalidDeferredMaximum }
        guard deferredReserve.isFinite, deferredReserve >= 0, deferredReserve <= deferredMaximum else { throw .invalidDeferredReserve }
        let reservePPM = Int((deferredReserve * 1_000_000).rounded())
        let maximumPPM = Int((deferredMaximum * 1_000_000).rounded())
        let reserved = Self.reservedDeferred(capacity: capacity, reservePPM: reservePPM, maximumPPM: maximumPPM)
        guard reserved <= capacity - lowWatermark else { throw .invalidLowWatermark }
        let minimumBatch = minimumBatch ?? Swift.max(1, Swift.min(Self.defaultMinimumBatchLimit, reserved))
        guard minimumBatch >= 1, minimumBatch <= capacity - lowWatermark else { throw .invalidMinimumBatch }
        self.capacity = capacity
        self.lowWatermark = lowWatermark
        self.reservePPM = reservePPM
        self.maximumPPM = maximumPPM
        self.minimumBatch = minimumBatch
    }

    /// The fraction reserved for deferred entries, as configured (to a millionth).
    public var deferredReserve: Double { Double(reservePPM) / 1_000_000 }
    /// The most the deferred entries may take, as configured (to a millionth).
    public var deferredMaximum: Double { Double(maximumPPM) / 1_000_000 }

    /// The most entries from the deferred queue the active queue holds (see the type's
    /// rounding rule).
    public var maximumDeferred: Int {
        Self.maximumDeferred(capacity: capacity, maximumPPM: maximumPPM)
    }

    /// The slots the incoming queue may not take while deferred entries are due (see the
    /// type's rounding rule).
    public var reservedDeferred: Int {
        Self.reservedDeferred(capacity: capacity, reservePPM: reservePPM, maximumPPM: maximumPPM)
    }

    static func maximumDeferred(capacity: Int, maximumPPM: Int) -> Int {
        Swift.max(1, share(maximumPPM, of: capacity, roundingUp: false))
    }

    static func reservedDeferred(capacity: Int, reservePPM: Int, maximumPPM: Int) -> Int {
        Swift.min(share(reservePPM, of: capacity, roundingUp: true), maximumDeferred(capacity: capacity, maximumPPM: maximumPPM), capacity - 1)
    }

    /// `ppm` millionths of `capacity`, without overflow.
    static func share(_ ppm: Int, of capacity: Int, roundingUp: Bool) -> Int {
        let product = capacity.multipliedFullWidth(by: ppm)
        let (quotient, remainder) = 1_000_000.dividingFullWidth(product)
        return roundingUp && remainder > 0 ? quotient + 1 : quotient
    }
}
