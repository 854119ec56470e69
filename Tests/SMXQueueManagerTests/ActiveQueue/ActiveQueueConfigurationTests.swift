import SMXQueueManager
import Testing

@Suite struct ActiveQueueConfigurationTests {
    /// The fractions become slot counts: the maximum rounded down (at least 1), the reserve
    /// rounded up (at most the maximum and capacity − 1), in exact integer arithmetic.
    @Test(arguments: [
        // capacity, reserved, maximum with the defaults 0.10 / 0.70
        (1, 0, 1), (2, 1, 1), (3, 1, 2), (10, 1, 7), (11, 2, 7), (30, 3, 21), (100, 10, 70), (1_000, 100, 700), (10_001, 1_001, 7_000),
    ])
    func defaultFractionsBecomeSlots(capacity: Int, reserved: Int, maximum: Int) throws {
        let configuration = try ActiveQueueConfiguration(capacity: capacity)
        #expect(configuration.reservedDeferred == reserved)
        #expect(configuration.maximumDeferred == maximum)
        #expect(configuration.deferredReserve == 0.10 && configuration.deferredMaximum == 0.70)
    }

    @Test func defaultsDeriveFromTheCapacity() throws {
        let large = try ActiveQueueConfiguration(capacity: 10_000)
        #expect(large.lowWatermark == 7_500 && large.minimumBatch == 100)
        let small = try ActiveQueueConfiguration(capacity: 10)
        #expect(small.lowWatermark == 7 && small.minimumBatch == 1)
        let medium = try ActiveQueueConfiguration(capacity: 100)
        #expect(medium.lowWatermark == 75 && medium.minimumBatch == 10)
        let one = try ActiveQueueConfiguration(capacity: 1)
        #expect(one.lowWatermark == 0 && one.minimumBatch == 1)
        let huge = try ActiveQueueConfiguration(capacity: Int.max)
        #expect(huge.lowWatermark == Int.max / 4 * 3 + 2 && huge.maximumDeferred == 6_456_360_425_798_343_064 && huge.reservedDeferred == 922_337_203_685_477_581)
    }

    @Test func fractionsAtTheirLimits() throws {
        let all = try ActiveQueueConfiguration(capacity: 10, lowWatermark: 0, deferredReserve: 1, deferredMaximum: 1)
        #expect(all.maximumDeferred == 10 && all.reservedDeferred == 9)
        let none = try ActiveQueueConfiguration(capacity: 10, deferredReserve: 0, deferredMaximum: 0.01)
        #expect(none.maximumDeferred == 1 && none.reservedDeferred == 0)
    }

    @Test func invalidConfigurationsThrow() {
        #expect(throws: ActiveQueueConfigurationError.invalidCapacity) { try ActiveQueueConfiguration(capacity: 0) }
        #expect(throws: ActiveQueueConfigurationError.invalidCapacity) { try ActiveQueueConfiguration(capacity: -5) }
        #expect(throws: ActiveQueueConfigurationError.invalidLowWatermark) { try ActiveQueueConfiguration(capacity: 10, lowWatermark: 10) }
        #expect(throws: ActiveQueueConfigurationError.invalidLowWatermark) { try ActiveQueueConfiguration(capacity: 10, lowWatermark: -1) }
        // 100 reserves 10 slots; a fill at 91 would have room for 9.
        #expect(throws: ActiveQueueConfigurationError.invalidLowWatermark) { try ActiveQueueConfiguration(capacity: 100, lowWatermark: 91) }
        #expect(throws: Never.self) { try ActiveQueueConfiguration(capacity: 100, lowWatermark: 90, minimumBatch: 10) }
        #expect(throws: ActiveQueueConfigurationError.invalidDeferredMaximum) { try ActiveQueueConfiguration(capacity: 10, deferredMaximum: 0) }
        #expect(throws: ActiveQueueConfigurationError.invalidDeferredMaximum) { try ActiveQueueConfiguration(capacity: 10, deferredMaximum: 1.5) }
        #expect(throws: ActiveQueueConfigurationError.invalidDeferredMaximum) { try ActiveQueueConfiguration(capacity: 10, deferredMaximum: .nan) }
        #expect(throws: ActiveQueueConfigurationError.invalidDeferredReserve) { try ActiveQueueConfiguration(capacity: 10, deferredReserve: -0.1) }
        #expect(throws: ActiveQueueConfigurationError.invalidDeferredReserve) {
            try ActiveQueueConfiguration(capacity: 10, deferredReserve: 0.8, deferredMaximum: 0.7)
        }
        #expect(throws: ActiveQueueConfigurationError.invalidDeferredReserve) { try ActiveQueueConfiguration(capacity: 10, deferredReserve: .infinity) }
        #expect(throws: ActiveQueueConfigurationError.invalidMinimumBatch) { try ActiveQueueConfiguration(capacity: 10, minimumBatch: 0) }
        // Low watermark 7: a fill has room for 3.
        #expect(throws: ActiveQueueConfigurationError.invalidMinimumBatch) { try ActiveQueueConfiguration(capacity: 10, minimumBatch: 4) }
        #expect(throws: Never.self) { try ActiveQueueConfiguration(capacity: 10, minimumBatch: 3) }
    }
}

extension ActiveQueueConfigurationTests {
    /// "1,000" style, as the docs write counts.
    static func grouped(_ value: Int) -> String {
        let digits = String(value)
        guard digits.count > 3 else { return digits }
        return grouped(value / 1_000) + "," + String(digits.suffix(3))
    }

    /// docs/queue-manager.md's table of default slot counts is what the code computes.
    @Test func docsTableOfDefaultsMatches() throws {
        for capacity in [1, 2, 10, 100, 10_000] {
            let configuration = try ActiveQueueConfiguration(capacity: capacity)
            let cells = [capacity, configuration.lowWatermark, configuration.reservedDeferred, configuration.maximumDeferred, configuration.minimumBatch]
            let row = "| " + cells.map(Self.grouped).joined(separator: " | ") + " |"
            #expect(QueueManagerDocTests.document.contains(row + "\n"), "docs/queue-manager.md should have the row \(row)")
        }
    }
}
