import Testing
import SMXStore
import SMXTestSupport

/// The window rule at its edges: refills that return exactly the limit, fewer, or nothing;
/// inserts below, at and above the horizon; removes of keys the window does not hold.
@Suite struct NextTryCacheTests {
    /// Key `i`: due at `i` seconds, envelope `i`, recipient 0.
    static func key(_ i: UInt64, recipient: UInt32 = 0) -> NextTryKey {
        NextTryKey(nextTry: i * 1_000_000, envelopeID: EnvelopeID(i), recipient: recipient)
    }

    static func keys(_ range: Range<UInt64>) -> [NextTryKey] { range.map { key($0) } }

    /// A source that answers with fixed keys, whatever is asked.
    struct FixedSource: NextTrySource {
        var answer: [NextTryKey]
        func keys(from: NextTryKey, limit: Int) throws -> [NextTryKey] { answer }
    }

    @Test func keysOrderByTimeThenEnvelopeThenRecipient() {
        let a = NextTryKey(nextTry: 5, envelopeID: EnvelopeID(9), recipient: 9)
        let b = NextTryKey(nextTry: 6, envelopeID: EnvelopeID(1), recipient: 0)
        let c = NextTryKey(nextTry: 6, envelopeID: EnvelopeID(2), recipient: 0)
        let d = NextTryKey(nextTry: 6, envelopeID: EnvelopeID(2), recipient: 1)
        #expect(a < b && b < c && c < d && !(d < c) && !(c < c))
        #expect(NextTryKey(nextTry: UInt64(1) << 32, envelopeID: EnvelopeID(0), recipient: 0) > NextTryKey(nextTry: UInt64(UInt32.max), envelopeID: EnvelopeID(.max), recipient: .max))
    }

    @Test func successorCarriesAcrossFields() {
        #expect(Self.key(1).successor == Self.key(1, recipient: 1))
        let lastRecipient = NextTryKey(nextTry: 7, envelopeID: EnvelopeID(3), recipient: .max)
        #expect(lastRecipient.successor == NextTryKey(nextTry: 7, envelopeID: EnvelopeID(4), recipient: 0))
        let lastEnvelope = NextTryKey(nextTry: 7, envelopeID: EnvelopeID(.max), recipient: .max)
        #expect(lastEnvelope.successor == NextTryKey(nextTry: 8, envelopeID: EnvelopeID(0), recipient: 0))
        #expect(NextTryKey.max.successor == nil)
        #expect(NextTryKey.min.successor! > .min)
    }

    @Test func aNewCacheKeepsNoInsertAndItsFirstPopRefills() throws {
        let index = SortedKeyModel(sorted: Self.keys(0..<10))
        let cache = NextTryCache(capacity: 4)
        #expect(cache.horizon == .min && cache.nextDueTime == 0 && cache.earliest == nil)
        #expect(!cache.insert(Self.key(20)) && cache.count == 0)
        let popped = try cache.popDue(now: 0, limit: 10, refillFrom: index)
        #expect(popped == [Self.key(0)])
        #expect(index.scans.count == 1 && index.scans[0].from == .min && index.scans[0].limit == 4)
        #expect(cache.keys == Self.keys(1..<4))
        #expect(cache.horizon == Self.key(3).successor)
        try cache.verify()
    }

    @Test func aScanReturningExactlyTheLimitLeavesAFiniteHorizon() throws {
        let index = SortedKeyModel(sorted: Self.keys(0..<4))
        let cache = NextTryCache(capacity: 4)
        #expect(try cache.refillIfEmpty(from: index) == 4)
        #expect(cache.horizon == Self.key(3).successor && cache.count == 4)
        // Drained: the next pop scans again, finds nothing, and the horizon goes to +∞.
        let all = try cache.popDue(now: .max, limit: 100, refillFrom: index)
        #expect(all == Self.keys(0..<4))
        #expect(index.scans.count == 2 && index.scans[1].from == Self.key(3).successor && index.scans[1].returned == 0)
        #expect(cache.horizon == nil && cache.nextDueTime == nil)
        #expect(try cache.popDue(now: .max, limit: 100, refillFrom: index).isEmpty)
        #expect(index.scans.count == 2)
        try cache.verify()
    }

    @Test func aScanReturningFewerThanTheLimitReachesTheEnd() throws {
        let index = SortedKeyModel(sorted: Self.keys(0..<3))
        let cache = NextTryCache(capacity: 4)
        #expect(try cache.refillIfEmpty(from: index) == 3)
        #expect(cache.horizon == nil)
        // Everything is in the window now: any insert is kept.
        #expect(cache.insert(Self.key(1_000)))
        #expect(try cache.popDue(now: .max, limit: 100, refillFrom: index) == Self.keys(0..<3) + [Self.key(1_000)])
        #expect(index.scans.count == 1)
    }

    @Test func aScanReturningNothingLeavesAnEmptyWindowCoveringEverything() throws {
        let index = SortedKeyModel()
        let cache = NextTryCache(capacity: 4)
        #expect(try cache.popDue(now: .max, limit: 10, refillFrom: index).isEmpty)
        #expect(index.scans.count == 1 && index.scans[0].returned == 0)
        #expect(cache.horizon == nil && cache.refillCount == 1 && cache.nextDueTime == nil)
        #expect(try cache.popDue(now: .max, limit: 10, refillFrom: index).isEmpty)
        #expect(index.scans.count == 1)
    }

    @Test func theLastKeyThereIsEndsTheIndex() throws {
        let index = SortedKeyModel(sorted: [Self.key(1), .max])
        let cache = NextTryCache(capacity: 2)
        #expect(try cache.refillIfEmpty(from: index) == 2)
        #expect(cache.horizon == nil)
    }

    @Test func insertsBelowTheHorizonAreKeptAtOrAboveItAreNot() throws {
        let index = SortedKeyModel(sorted: Self.keys(0..<20).filter { $0 != Self.key(2) })
        let cache = NextTryCache(capacity: 5)
        try cache.refillIfEmpty(from: index)
        let horizon = try #require(cache.horizon)
        #expect(cache.keys == [0, 1, 3, 4, 5].map { Self.key($0) })
        #expect(cache.insert(Self.key(2)))  // a sixth key: the largest, 5, is dropped
        #expect(cache.keys == Self.keys(0..<5) && cache.horizon == Self.key(5) && cache.droppedCount == 1)
        #expect(horizon > Self.key(5))
        #expect(!cache.insert(Self.key(5)) && !cache.insert(Self.key(7)))  // at and above
        #expect(!cache.insert(Self.key(4)))  // already there
        // Below the horizon but larger than every key in a full window: dropped at once.
        #expect(!cache.insert(Self.key(4, recipient: 1)))
        #expect(cache.horizon == Self.key(4, recipient: 1) && cache.keys == Self.keys(0..<5))
        try cache.verify()
    }

    @Test func removesOfKeysTheWindowDoesNotHoldChangeNothing() throws {
        let index = SortedKeyModel(sorted: Self.keys(0..<20))
        let cache = NextTryCache(capacity: 5)
        try cache.refillIfEmpty(from: index)
        #expect(!cache.remove(Self.key(10)))  // above the horizon
        #expect(!cache.remove(Self.key(2, recipient: 1)))  // below it, not in the index
        #expect(cache.keys == Self.keys(0..<5))
        #expect(cache.remove(Self.key(0)) && cache.earliest == Self.key(1) && cache.nextDueTime == 1_000_000)
        try cache.verify()
    }

    @Test func popsTakeOnlyDueKeysUpToTheLimit() throws {
        let index = SortedKeyModel(sorted: Self.keys(1..<10))
        let cache = NextTryCache(capacity: 100)
        #expect(try cache.popDue(now: 3_000_000, limit: 0, refillFrom: index).isEmpty)
        #expect(index.scans.isEmpty)
        #expect(try cache.popDue(now: 3_000_000, limit: 2, refillFrom: index) == Self.keys(1..<3))
        #expect(try cache.popDue(now: 3_000_000, limit: 5, refillFrom: index) == [Self.key(3)])
        #expect(try cache.popDue(now: 3_999_999, limit: 5, refillFrom: index).isEmpty)
        #expect(cache.nextDueTime == 4_000_000)
        // A recipient rescheduled into the past is due at once, ahead of the rest.
        #expect(cache.insert(Self.key(0, recipient: 3)))
        #expect(try cache.popDue(now: 3_999_999, limit: 5, refillFrom: index) == [Self.key(0, recipient: 3)])
    }

    @Test func anEmptyWindowWithAFiniteHorizonWakesTheSchedulerAtTheHorizon() throws {
        let index = SortedKeyModel(sorted: Self.keys(0..<10))
        let cache = NextTryCache(capacity: 3)
        #expect(try cache.popDue(now: 2_000_000, limit: 3, refillFrom: index) == Self.keys(0..<3))
        #expect(cache.count == 0 && cache.horizon == Self.key(2).successor)
        #expect(cache.nextDueTime == 2_000_000)
        #expect(try cache.refillIfEmpty(from: index) == 3 && cache.nextDueTime == 3_000_000)
        #expect(try cache.refillIfEmpty(from: index) == 0)  // not empty: no scan
        #expect(index.scans.count == 2)
    }

    @Test func aSourceBreakingItsContractIsReportedAndChangesNothing() throws {
        let cache = NextTryCache(capacity: 3)
        for answer in [[Self.key(2), Self.key(1)], [Self.key(1), Self.key(1)], Self.keys(0..<4)] {
            #expect { try cache.refillIfEmpty(from: FixedSource(answer: answer)) } throws: { error in
                (error as? StoreError)?.code == .corrupted
            }
            #expect(cache.count == 0 && cache.horizon == .min && cache.refillCount == 0)
        }
        try cache.refillIfEmpty(from: FixedSource(answer: Self.keys(5..<8)))
        let emptied = try cache.popDue(now: .max, limit: 3, refillFrom: FixedSource(answer: []))
        #expect(emptied == Self.keys(5..<8))
        #expect { try cache.refillIfEmpty(from: FixedSource(answer: [Self.key(1)])) } throws: { error in
            (error as? StoreError)?.code == .corrupted
        }
        #expect(cache.horizon == Self.key(7).successor)
    }
}
