import Testing
import SMXStore
import SMXTestSupport

/// Random inserts, duplicate inserts, removes and pops against `SortedKeyModel`, with the
/// window checked against the index every 1,000 operations and at the end.
@Suite struct NextTryCacheModelTests {
    struct Scenario: Sendable, CustomStringConvertible {
        var seed: UInt64
        var capacity: Int
        /// Keys in the index before the cache is created.
        var initialKeys: Int
        /// How far `now` moves per pop, at most (µs): smaller keeps more keys in the index.
        var maxStep: UInt64
        var operations = 100_000
        var description: String { "seed \(seed), capacity \(capacity), \(initialKeys) keys at start" }
    }

    /// Keys are due within this span (µs) of `now`.
    static let span: UInt64 = 3_600_000_000

    static let scenarios: [Scenario] = [
        Scenario(seed: 1, capacity: 1, initialKeys: 0, maxStep: span / 5_000),
        Scenario(seed: 2, capacity: 7, initialKeys: 2_000, maxStep: span / 5_000),
        Scenario(seed: 3, capacity: 100, initialKeys: 20_000, maxStep: span / 20_000),
        Scenario(seed: 4, capacity: 1_000, initialKeys: 5_000, maxStep: span / 20_000),
        Scenario(seed: 5, capacity: 30_000, initialKeys: 60_000, maxStep: span / 200_000),
        Scenario(seed: 6, capacity: 100_000, initialKeys: 0, maxStep: span / 200_000),
    ]

    @Test(arguments: scenarios)
    func randomOperationsMatchTheModel(_ scenario: Scenario) throws {
        var setup = SplitMix64(seed: scenario.seed ^ 0xA5A5)
        let start: UInt64 = 1_700_000_000_000_000
        var initial = (0..<scenario.initialKeys).map { _ in
            NextTryKey(nextTry: start + setup.next() % Self.span, envelopeID: EnvelopeID(setup.next() % 5_000), recipient: UInt32(setup.below(4)))
        }
        initial.sort()
        initial = initial.enumerated().filter { $0.offset == 0 || initial[$0.offset - 1] != $0.element }.map(\.element)
        var h = CacheHarness(
            capacity: scenario.capacity, index: SortedKeyModel(sorted: initial),
            indexIsEmpty: initial.isEmpty && scenario.seed % 2 == 1, seed: scenario.seed)
        var now = start
        for op in 1...scenario.operations {
            let choice = h.rng.below(100)
            switch choice {
            case 0..<40:
                let key = h.randomKey(in: (now - Self.span / 20)..<(now + Self.span), envelopes: 5_000)
                try h.insert(key)
            case 40..<45:
                if let key = h.index.someKey(using: &h.rng) { try h.insert(key) }
            case 45..<62:
                if let key = h.index.someKey(using: &h.rng) { try h.remove(key) }
            case 62..<66:
                // The window's own smallest key: removes that hit the window.
                if let key = h.cache.earliest { try h.remove(key) }
            case 66..<70:
                try h.remove(h.randomKey(in: now..<(now + Self.span), envelopes: 5_000))
            default:
                now += h.rng.next() % scenario.maxStep
                try h.pop(now: now, limit: 1 + h.rng.below(2 * scenario.capacity + 10))
            }
            if op % 1_000 == 0 { try h.check() }
        }
        try h.pop(now: .max, limit: .max)
        try h.check()
        #expect(h.index.count == 0 && h.cache.count == 0 && h.cache.horizon == nil)
        #expect(h.popped > scenario.operations / 10)
        if scenario.capacity < 1_000 { #expect(h.cache.refillCount > 10 && h.cache.droppedCount > 10) }
    }

    /// Grows the window to 120,000 keys inserted in random order (a tree three levels deep:
    /// inner nodes split) and shrinks it by random removals (inner nodes merge and borrow),
    /// checking the tree every 10,000 operations.
    @Test func aDeepTreeGrowsAndShrinks() throws {
        var h = CacheHarness(capacity: 1_000_000, index: SortedKeyModel(), indexIsEmpty: true, seed: 11)
        let start: UInt64 = 1_700_000_000_000_000
        for op in 1...120_000 {
            try h.insert(h.randomKey(in: start..<(start + Self.span)))
            if op % 10_000 == 0 { try h.cache.verify() }
        }
        try h.check()
        #expect(h.cache.count == h.index.count && h.cache.count > 119_000)
        var op = 0
        while h.index.count > 1_000 {
            if let key = h.index.someKey(using: &h.rng) { try h.remove(key) }
            op += 1
            if op % 10_000 == 0 { try h.cache.verify() }
        }
        try h.check()
        try h.pop(now: .max, limit: .max)
        try h.check()
        #expect(h.cache.count == 0)
    }
}
