import SMXQueueManager
import SMXTestSupport
import Testing

@Suite struct AdmissionControlTests {
    static func control(_ thresholds: [LoadResource: LoadThreshold], hysteresis: Double = 0.10) throws -> AdmissionControl {
        try AdmissionControl(thresholds: thresholds, hysteresis: hysteresis)
    }

    static func reason(_ resource: LoadResource, _ value: Int, _ threshold: Int) -> AdmissionDecision.Reason {
        AdmissionDecision.Reason(resource: resource, value: value, threshold: threshold)
    }

    @Test func twoStagesByThreshold() throws {
        let control = try Self.control([.incomingTransactions: LoadThreshold(slowDown: 100, refuse: 200)])
        #expect(control.decide(LoadPressure(incomingTransactions: 99)) == .accept)
        #expect(control.decide(LoadPressure(incomingTransactions: 100)) == .slowDown(Self.reason(.incomingTransactions, 100, 100)))
        #expect(control.decide(LoadPressure(incomingTransactions: 199)) == .slowDown(Self.reason(.incomingTransactions, 199, 100)))
        #expect(control.decide(LoadPressure(incomingTransactions: 200)) == .refuse(Self.reason(.incomingTransactions, 200, 200)))
        // Unwatched resources never count.
        #expect(control.decide(LoadPressure(incomingLogBytes: .max, activeQueueEntries: .max, contentBytesPending: .max)) == .accept)
        #expect(control.decide(LoadPressure(incomingTransactions: -5)) == .accept)
        #expect(try AdmissionControl(thresholds: [:]).decide(LoadPressure(incomingTransactions: .max)) == .accept)
        #expect(control.slowDownDelay == .seconds(1) && control.hysteresis == 0.10)
    }

    /// A stage entered at a threshold ends only below the threshold less 10 %.
    @Test func hysteresisHoldsTheStage() throws {
        let control = try Self.control([.activeQueueEntries: LoadThreshold(slowDown: 1_000, refuse: 2_000)])
        #expect(control.exitLevel(of: 1_000) == 900 && control.exitLevel(of: 2_000) == 1_800)
        func decide(_ value: Int, after previous: AdmissionDecision) -> AdmissionDecision {
            control.decide(LoadPressure(activeQueueEntries: value), previous: previous)
        }
        let slow = decide(1_000, after: .accept)
        #expect(slow.stage == 1)
        #expect(decide(950, after: slow) == .slowDown(Self.reason(.activeQueueEntries, 950, 1_000)))
        #expect(decide(900, after: slow).stage == 1)
        #expect(decide(899, after: slow) == .accept)
        #expect(decide(950, after: .accept) == .accept)
        let refused = decide(2_000, after: slow)
        #expect(refused == .refuse(Self.reason(.activeQueueEntries, 2_000, 2_000)))
        #expect(decide(1_800, after: refused).stage == 2)
        #expect(decide(1_799, after: refused) == .slowDown(Self.reason(.activeQueueEntries, 1_799, 1_000)))
        #expect(decide(899, after: refused) == .accept)
        #expect(decide(1_900, after: slow).stage == 1)
        // A load hovering around the threshold changes the decision once, not every time.
        var previous = AdmissionDecision.accept
        var changes = 0
        for value in [990, 1_010, 995, 1_005, 960, 1_040, 910, 1_000, 990] {
            let next = decide(value, after: previous)
            if next.stage != previous.stage { changes += 1 }
            previous = next
        }
        #expect(changes == 1 && previous.stage == 1)
        // No hysteresis: it follows the threshold.
        let plain = try Self.control([.activeQueueEntries: LoadThreshold(slowDown: 1_000, refuse: 2_000)], hysteresis: 0)
        #expect(plain.decide(LoadPressure(activeQueueEntries: 999), previous: slow) == .accept)
    }

    @Test func theResourceFurthestOverDecides() throws {
        let control = try Self.control([
            .incomingTransactions: LoadThreshold(slowDown: 100, refuse: 1_000),
            .incomingLogBytes: LoadThreshold(slowDown: 1_000_000, refuse: 8_000_000),
            .contentBytesPending: LoadThreshold(slowDown: 50_000_000, refuse: 100_000_000),
        ])
        // 1.5 × versus 2 ×: the log bytes name the reason.
        #expect(control.decide(LoadPressure(incomingTransactions: 150, incomingLogBytes: 2_000_000)) == .slowDown(Self.reason(.incomingLogBytes, 2_000_000, 1_000_000)))
        // A tie goes to the first resource in LoadResource order.
        #expect(control.decide(LoadPressure(incomingTransactions: 200, incomingLogBytes: 2_000_000)) == .slowDown(Self.reason(.incomingTransactions, 200, 100)))
        // Refusing beats slowing down, however far over the slow-down threshold another is.
        #expect(control.decide(LoadPressure(incomingTransactions: 999, contentBytesPending: 100_000_000)) == .refuse(Self.reason(.contentBytesPending, 100_000_000, 100_000_000)))
        // Huge values compare exactly.
        #expect(control.decide(LoadPressure(incomingLogBytes: .max, contentBytesPending: .max)) == .refuse(Self.reason(.incomingLogBytes, .max, 8_000_000)))
    }

    /// Random pressure sequences: the stage is refuse whenever a resource is at its refuse
    /// threshold, accept whenever every resource is below its exit levels, and otherwise
    /// never lower than a fresh decision.
    @Test func randomSequencesKeepTheRules() throws {
        let thresholds: [LoadResource: LoadThreshold] = [
            .incomingTransactions: LoadThreshold(slowDown: 50, refuse: 80),
            .activeQueueEntries: LoadThreshold(slowDown: 30, refuse: 90),
        ]
        let control = try Self.control(thresholds, hysteresis: 0.2)
        var random = SplitMix64(seed: 42)
        var previous = AdmissionDecision.accept
        var stages = [0, 0, 0]
        for _ in 0..<20_000 {
            let pressure = LoadPressure(incomingTransactions: random.below(100), activeQueueEntries: random.below(100))
            let decision = control.decide(pressure, previous: previous)
            let fresh = control.decide(pressure)
            let values = [pressure.incomingTransactions, pressure.activeQueueEntries]
            let limits = [thresholds[.incomingTransactions], thresholds[.activeQueueEntries]].compactMap { $0 }
            let atRefuse = zip(values, limits).contains { $0 >= $1.refuse }
            let belowExits = zip(values, limits).allSatisfy { $0 < control.exitLevel(of: $1.slowDown) }
            #expect(decision.stage >= fresh.stage && decision.stage <= max(fresh.stage, previous.stage))
            if atRefuse { #expect(decision.stage == 2) }
            if belowExits { #expect(decision == .accept) }
            stages[decision.stage] += 1
            previous = decision
        }
        #expect(stages.allSatisfy { $0 > 1_000 })
    }

    @Test func invalidConfigurationsThrow() {
        #expect(throws: AdmissionConfigurationError.invalidThreshold(.activeQueueEntries)) {
            try AdmissionControl(thresholds: [.activeQueueEntries: LoadThreshold(slowDown: 0, refuse: 10)])
        }
        #expect(throws: AdmissionConfigurationError.invalidThreshold(.contentBytesPending)) {
            try AdmissionControl(thresholds: [.contentBytesPending: LoadThreshold(slowDown: 11, refuse: 10)])
        }
        #expect(throws: Never.self) { try AdmissionControl(thresholds: [.contentBytesPending: LoadThreshold(slowDown: 10, refuse: 10)]) }
        for hysteresis in [-0.1, 1.0, .nan, .infinity] {
            #expect(throws: AdmissionConfigurationError.invalidHysteresis) { try AdmissionControl(thresholds: [:], hysteresis: hysteresis) }
        }
        for delay in [Duration.zero, .seconds(-1), .seconds(61)] {
            #expect(throws: AdmissionConfigurationError.invalidDelay) { try AdmissionControl(thresholds: [:], slowDownDelay: delay) }
        }
        #expect(throws: Never.self) { try AdmissionControl(thresholds: [:], slowDownDelay: AdmissionControl.maximumSlowDownDelay) }
    }
}
