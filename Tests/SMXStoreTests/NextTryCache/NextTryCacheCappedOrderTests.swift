import Testing
import SMXStore
import SMXTestSupport

/// Issue 4's order goal: capped at 1,000 entries with 1,000,000 recipients deferred, the
/// cache hands out every recipient in next-try order, while recipients are added,
/// rescheduled and removed between pops.
@Suite struct NextTryCacheCappedOrderTests {
    @Test func aThousandKeyWindowOverAMillionDeferredRecipientsPopsInOrder() throws {
        let deferred = 1_000_000
        let month: UInt64 = 30 * 86_400_000_000
        let start: UInt64 = 1_700_000_000_000_000
        var setup = SplitMix64(seed: 2024)
        var keys = (0..<deferred).map { _ in
            NextTryKey(nextTry: start + setup.next() % month, envelopeID: EnvelopeID(setup.next() >> 20), recipient: UInt32(setup.below(4)))
        }
        keys.sort()
        #expect(zip(keys, keys.dropFirst()).allSatisfy { $0 < $1 })

        var h = CacheHarness(capacity: 1_000, index: SortedKeyModel(sorted: keys), seed: 7)
        var now = start
        var inserted = 0
        var removed = 0
        var round = 0
        // A month of scheduling: pops while time runs through every deferred key.
        while now < start + month {
            round += 1
            for _ in 0..<h.rng.below(8) {
                // New and rescheduled recipients, some already due, most far beyond the window.
                try h.insert(h.randomKey(in: (now - 3_600_000_000)..<(now + month / 2)))
                inserted += 1
            }
            for _ in 0..<h.rng.below(3) {
                let target = h.rng.coin() ? h.cache.earliest : h.index.someKey(using: &h.rng)
                if let key = target {
                    try h.remove(key)
                    removed += 1
                }
            }
            now += h.rng.next() % (month / 1_000)
            try h.pop(now: now, limit: 1 + h.rng.below(1_500))
            if round % 100 == 0 { try h.check() }
        }
        try h.pop(now: .max, limit: .max)
        try h.check()
        #expect(round > 1_000)
        #expect(h.popped + removed >= deferred + inserted - 100)  // less a few duplicate inserts
        #expect(h.cache.count == 0 && h.cache.horizon == nil)
        #expect(h.cache.refillCount >= deferred / 1_000)
        #expect(h.index.scans.allSatisfy { $0.limit == 1_000 })
    }
}
