import Synchronization
import Testing
import SMXQueueManager
import SMXStore
import SMXTestSupport

/// Startup's crash test: the scenario of ``StartupScenario`` is started once without
/// interruption (the expected state), then once more with a power-loss image taken at every
/// sync point, from the stores' own recovery at open to their close. Each image is
/// recovered in every crash mode, the stores reopened and startup run again: the result
/// must be the uninterrupted state exactly (no envelope lost, none duplicated, every
/// recipient as expected, every unreferenced body released) with every store verifying.
@Suite struct QueueStartupCrashTests {
    struct Point: Sendable {
        var image: SimulatedImage
        var phase: String
    }

    @Test(.timeLimit(.minutes(10)))
    func everyCrashDuringStartupEndsInTheUninterruptedState() async throws {
        let scenario = try await StartupScenario.build(seed: 400)
        let now = StartupScenario.now

        let reference = try QueueStores(scenario.fileSystem(seed: 1))
        let referenceResult = try await QueueStartup(log: reference.log, contentStore: reference.content, deferredQueue: reference.deferred)
            .run(now: now)
        let expected = try QueueState(reference)
        #expect(try startupInvariantProblems(reference, referenceResult) == [])
        #expect(expected.transactions.map(\.envelopeID) == [scenario.a.envelopeID, scenario.b.envelopeID, scenario.f.envelopeID])
        #expect(expected.recipients.count == 6)
        reference.close()

        // The recorded run goes step by step so that each image knows the step it
        // interrupts.
        let fs = scenario.fileSystem(seed: 2)
        let phase = Mutex("open")
        let points = Mutex<[Point]>([])
        fs.setOperationHook { op in
            guard op.kind.isSync else { return }
            let image = fs.snapshot()
            let current = phase.withLock { $0 }
            points.withLock { $0.append(Point(image: image, phase: current)) }
        }
        let stores = try QueueStores(fs)
        let startup = QueueStartup(log: stores.log, contentStore: stores.content, deferredQueue: stores.deferred)
        var report = try startup.makeReport()
        phase.withLock { $0 = StartupStep.discardWithoutBody.rawValue }
        report.discardedWithoutBody = try await startup.discardTransactionsWithoutBody()
        phase.withLock { $0 = StartupStep.moveOpenTransactions.rawValue }
        try await startup.moveOpenTransactions(now: now, into: &report)
        phase.withLock { $0 = StartupStep.checkDeferredBodies.rawValue }
        try await startup.checkDeferredBodies(into: &report)
        phase.withLock { $0 = StartupStep.recountReferences.rawValue }
        _ = try startup.recountReferences(into: &report)
        phase.withLock { $0 = "close" }
        stores.close()
        fs.setOperationHook(nil)
        #expect(report.transactionsMoved == referenceResult.report.transactionsMoved)
        #expect(report.droppedEnvelopes.count == referenceResult.report.droppedEnvelopes.count)

        let all = points.withLock { $0 }
        var perPhase: [String: Int] = [:]
        for point in all { perPhase[point.phase, default: 0] += 1 }
        var problems: [String] = []
        var recoveries = 0
        for (n, point) in all.enumerated() {
            for (m, mode) in CrashMode.allCases.enumerated() {
                let seed = 400 &+ UInt64(n) &* 31 &+ UInt64(m)
                let context = "point \(n) in \(point.phase) (\(mode), seed \(seed))"
                recoveries += 1
                do {
                    let again = try QueueStores(SimulatedFileSystem.restore(point.image, crash: mode, seed: seed))
                    defer { again.close() }
                    let result = try await QueueStartup(log: again.log, contentStore: again.content, deferredQueue: again.deferred)
                        .run(now: now)
                    let state = try QueueState(again)
                    if state != expected { problems.append("\(context): \(state); expected \(expected)") }
                    problems += try startupInvariantProblems(again, result).map { "\(context): \($0)" }
                } catch {
                    problems.append("\(context): \(error)")
                }
            }
            if problems.count > 20 { break }
        }
        print("startup crash campaign: \(all.count) sync points \(perPhase.sorted { $0.key < $1.key }), \(recoveries) recoveries, \(problems.count) problems")
        // Every step that writes was interrupted at least once.
        for step in [StartupStep.discardWithoutBody, .moveOpenTransactions, .checkDeferredBodies] {
            #expect(perPhase[step.rawValue, default: 0] >= 1, "no sync point in \(step)")
        }
        #expect(problems.isEmpty, "\(problems.prefix(10))")
    }
}
