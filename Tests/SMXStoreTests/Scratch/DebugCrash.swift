import Testing
import Synchronization
import SMXStore
import SMXTestSupport

@Suite struct DebugCrash {
    @Test func sequentialKeepSome() async throws {
        let fs = SimulatedFileSystem(seed: 1)
        let log = try IncomingLog.open(fileSystem: fs, configuration: IncomingLogCrashTests.configuration())
        let points = IncomingLogCrashTests.Points()
        points.log.withLock { $0 = log }
        fs.setOperationHook { op in
            guard op.kind.isSync, let log = points.log.withLock({ $0 }) else { return }
            let d = log.durableSequence(directory: 0)
            let image = fs.snapshot()
            points.points.withLock { $0.append(.init(image: image, durable: d, atSync: true, operation: op.index)) }
        }
        let model = try await IncomingLogWorkload(transactions: 300, committers: 1, seed: 5).run(on: log)
        fs.setOperationHook(nil)
        points.log.withLock { $0 = nil }
        log.close()
        let all = points.points.withLock { $0 }
        var bad = 0
        let checker = model.checker()
        for (n, p) in all.enumerated() {
            for mode in CrashMode.allCases {
                let crashed = SimulatedFileSystem.restore(p.image, crash: mode, seed: UInt64(n))
                let replay = try IncomingLog.replay(fileSystem: crashed, directories: ["/q/ibdb"], queueID: IncomingLogCrashTests.queueID)
                let closes = Set(replay.records.compactMap { if case .closed(let id, _) = $0.record { id } else { nil } })
                let problems = checker.check(recovered: replay.openTransactions, durable: p.durable, survivingCloses: closes)
                if !problems.isEmpty && bad < 3 {
                    bad += 1
                    print("POINT \(n) op \(p.operation) mode \(mode) durable \(p.durable): \(problems.prefix(3))")
                    print("  replay seqs: \(replay.records.map(\.sequence).suffix(10)) corruption \(replay.corruption)")
                    print("  files: \(try crashed.listDirectory("/q/ibdb"))")
                }
            }
        }
        #expect(bad == 0)
    }
}
