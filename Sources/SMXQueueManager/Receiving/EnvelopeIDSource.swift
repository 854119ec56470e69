import Synchronization
import SMXStore

/// Hands out envelope ids: unique for the life of the queue and never reused
/// (ARCHITECTURE.md, "Identifiers"). Thread-safe; one per queue.
///
/// Nothing on disk remembers the last id handed out (a closed transaction leaves the
/// incoming log's live set, a delivered envelope leaves the deferred queue), so the source
/// starts past every id still in a store *and* past the wall clock at 16 ids per
/// microsecond, as the content store does for content ids. Ids of an earlier run are then
/// below the start unless the clock went back by more than that run lasted, or it handed
/// out more than 16 ids per microsecond on average.
public final class EnvelopeIDSource: Sendable {
    private let counter: Atomic<UInt64>

    /// A source whose first id is past `highest` (the largest id the stores hold; nil when
    /// they hold none) and past `clockMicros << 4`.
    public init(after highest: EnvelopeID?, clockMicros: UInt64 = wallClockMicros()) {
        let pastStores = (highest?.rawValue ?? 0) &+ 1
        counter = Atomic(max(pastStores, clockMicros << 4, 1))
    }

    /// A new id.
    public func next() -> EnvelopeID {
        EnvelopeID(counter.wrappingAdd(1, ordering: .relaxed).oldValue)
    }
}
