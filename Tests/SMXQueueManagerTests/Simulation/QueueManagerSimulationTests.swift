import Testing
import SMXQueueManager
import SMXStore
import SMXTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The queue manager's deterministic simulation with crashes (``Simulation``): the short
/// set for `make test`. `SMX_SIM_SEED=N` runs that one seed instead (with
/// `SMX_SIM_MESSAGES=M` messages, default the short set's), which is what a failing seed
/// prints. The full set is ``QueueManagerSimulationSoakTests`` (`make soak`).
@Suite struct QueueManagerSimulationTests {
    static let seeds: [UInt64] = Array(1...40)
    static let messagesPerSeed = 150

    static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// Runs `seeds` two at a time (the machine has two cores) and checks each result.
    /// `SMX_SIM_PROGRESS=1` prints each seed as it starts and ends (to find one that hangs).
    static func campaign(seeds: [UInt64], messages: Int, label: String) async -> SimulationTotals {
        var totals = SimulationTotals()
        var failures: [SimulationResult] = []
        let progress = environment("SMX_SIM_PROGRESS") != nil
        @Sendable func run(_ seed: UInt64) async -> SimulationResult {
            if progress { print("simulation seed \(seed) starts") }
            let result = await Simulation.run(seed: seed, messages: messages)
            if progress { print("simulation seed \(seed) ends") }
            return result
        }
        await withTaskGroup(of: SimulationResult.self) { group in
            var pending = seeds[...]
            for _ in 0..<2 {
                if let seed = pending.popFirst() { group.addTask { await run(seed) } }
            }
            for await result in group {
                totals.add(result.totals)
                if !result.problems.isEmpty { failures.append(result) }
                if let seed = pending.popFirst() { group.addTask { await run(seed) } }
            }
        }
        for result in failures.sorted(by: { $0.seed < $1.seed }) {
            Issue.record("simulation seed \(result.seed) failed; replay: \(result.replay)\n\(result.problems.prefix(12).joined(separator: "\n"))")
        }
        print("\(label): \(totals.line)")
        return totals
    }

    @Test(.timeLimit(.minutes(10)))
    func shortSet() async {
        if let text = Self.environment("SMX_SIM_SEED"), let seed = UInt64(text) {
            let messages = Self.environment("SMX_SIM_MESSAGES").flatMap { Int($0) } ?? Self.messagesPerSeed
            _ = await Self.campaign(seeds: [seed], messages: messages, label: "queue manager simulation, seed \(seed)")
            return
        }
        let totals = await Self.campaign(seeds: Self.seeds, messages: Self.messagesPerSeed, label: "queue manager simulation")
        #expect(totals.crashes > 0)
        #expect(totals.restarts > totals.crashes)
        #expect(totals.deliveries > 0)
        #expect(totals.bounces > 0)
    }
}

/// The full set for `make soak` (SMX_SOAK=1, release build): 500 seeds of 220 messages,
/// over 100,000 messages; the totals in one line.
@Suite(.enabled(if: getenv("SMX_SOAK") != nil && getenv("SMX_SIM_SEED") == nil, "set SMX_SOAK=1 (make soak)"))
struct QueueManagerSimulationSoakTests {
    @Test(.timeLimit(.minutes(240)))
    func fullSet() async {
        // SMX_SIM_FIRST_SEED moves the 500 seeds elsewhere (to look further).
        let first = QueueManagerSimulationTests.environment("SMX_SIM_FIRST_SEED").flatMap { UInt64($0) } ?? 1_001
        let seeds = (first..<(first + 500)).map { $0 }
        let totals = await QueueManagerSimulationTests.campaign(seeds: seeds, messages: 220, label: "queue manager simulation soak")
        #expect(totals.seeds >= 500)
        #expect(totals.messages >= 100_000)
    }
}
