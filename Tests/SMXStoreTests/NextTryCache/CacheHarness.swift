import Testing
import SMXStore
import SMXTestSupport

/// A `NextTryCache` driven as the queue manager drives it, against `SortedKeyModel` as its
/// next-try index: every change goes to the index first, then to the cache; a pop must
/// return what the model's pop returns.
struct CacheHarness {
    let cache: NextTryCache
    let index: SortedKeyModel
    var rng: SplitMix64
    var pops = 0
    var popped = 0

    init(capacity: Int, index: SortedKeyModel, indexIsEmpty: Bool = false, seed: UInt64) {
        cache = NextTryCache(capacity: capacity, indexIsEmpty: indexIsEmpty)
        self.index = index
        rng = SplitMix64(seed: seed)
    }

    /// A random key due in `time`: envelopes below `envelopes`, four recipients each.
    mutating func randomKey(in time: Range<UInt64>, envelopes: UInt64 = 1 << 40) -> NextTryKey {
        NextTryKey(
            nextTry: time.lowerBound + rng.next() % UInt64(time.count),
            envelopeID: EnvelopeID(rng.next() % envelopes),
            recipient: UInt32(rng.below(4))
        )
    }

    mutating func insert(_ key: NextTryKey) throws {
        let horizon = cache.horizon
        let isNew = index.insert(key)
        let kept = cache.insert(key)
        if !isNew || horizon.map({ key >= $0 }) == true {
            try #require(!kept, "insert of \(key) at or above \(String(describing: horizon)) or a duplicate was kept")
        }
    }

    mutating func remove(_ key: NextTryKey) throws {
        let expected = index.contains(key) && cache.horizon.map({ key < $0 }) ?? true
        index.remove(key)
        let removed = cache.remove(key)
        try #require(removed == expected, "remove of \(key): window said \(removed)")
    }

    mutating func pop(now: UInt64, limit: Int) throws {
        let got = try cache.popDue(now: now, limit: limit, refillFrom: index)
        let want = index.popDue(now: now, limit: limit)
        if got != want {
            let differ = zip(got, want).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(got.count, want.count)
            Issue.record("pop #\(pops) at \(now), limit \(limit): got \(got.count) keys, the model \(want.count); first difference at \(differ)")
            throw StoreError(.corrupted, "pop differs from the model")
        }
        pops += 1
        popped += got.count
    }

    /// The cache's own invariants, and the window rule checked against the index: the window
    /// holds exactly the index's keys below the horizon.
    func check() throws {
        try cache.verify()
        let expected = index.keys(below: cache.horizon)
        try #require(cache.keys == expected, "the window holds \(cache.count) keys; the index has \(expected.count) below \(String(describing: cache.horizon))")
        if let earliest = cache.earliest {
            try #require(earliest == index.first && cache.nextDueTime == earliest.nextTry)
        }
    }
}
