import Testing
import Synchronization
import SMXStore
import SMXTestSupport

/// A crash while a new B+tree file is being created (found by the queue manager's
/// simulation, seed 1149: a crash image at the 14th sync of a new queue, restored with
/// `keepSome`, kept the file's directory entry but not its journal's, and every later open
/// refused the queue: "the journal is missing"). An image is taken before every operation
/// of the creation; each is recovered in every crash mode and opened: the open must
/// succeed, the file verify, and take a commit.
@Suite struct BTreeFileCreationCrashTests {
    @Test func aCrashDuringCreationLeavesAFileThatOpens() throws {
        let fs = SimulatedFileSystem(seed: 1149)
        let images = Mutex<[SimulatedImage]>([])
        fs.setOperationHook { _ in
            let image = fs.snapshot()
            images.withLock { $0.append(image) }
        }
        let file = try BTreeFile.open(fileSystem: fs, configuration: BTreeFileTests.configuration())
        fs.setOperationHook(nil)
        file.close()
        let points = images.withLock { $0 }
        var problems: [String] = []
        for (n, image) in points.enumerated() {
            for mode in CrashMode.allCases {
                for seed in UInt64(0)..<4 {
                    let context = "operation \(n) (\(mode), seed \(seed))"
                    do {
                        let recovered = SimulatedFileSystem.restore(image, crash: mode, seed: seed)
                        let again = try BTreeFile.open(fileSystem: recovered, configuration: BTreeFileTests.configuration())
                        defer { again.close() }
                        try again.write { txn in try txn.put([1], [2], in: "t") }
                        let verification = again.verify()
                        if !verification.isClean { problems.append("\(context): \(verification.problems.prefix(3))") }
                    } catch {
                        problems.append("\(context): \(error)")
                    }
                }
            }
        }
        #expect(points.count >= 5)
        #expect(problems.isEmpty, "\(problems.prefix(10))")
    }
}

/// A crash during the recovery of a crash (found by the queue manager simulation, seed
/// 2324: a keepSome crash at the 6th sync after a restart). A crash between a checkpoint's
/// meta page and its journal leaves checkpoint c with the journal of c - 1; opening that
/// runs a checkpoint (c + 1, in the slot of c - 1), and a crash between its meta page and
/// its journal left c + 1 with the journal of c - 1, which no open took ("journal
/// generation ... does not continue checkpoint ..."). Every image of a workload's
/// checkpoints is opened under a hook that takes an image before every operation of the
/// open; each of those is recovered in every mode and must open, verify and hold every
/// commit acknowledged before the first crash.
@Suite struct BTreeFileRecoveryCrashTests {
    @Test(.timeLimit(.minutes(10))) func aCrashWhileRecoveringFromACrashLeavesAFileThatOpens() throws {
        let fs = SimulatedFileSystem(seed: 2324)
        var configuration = BTreeFileTests.configuration()
        configuration.checkpointScheduling = .inline
        let file = try BTreeFile.open(fileSystem: fs, configuration: configuration)
        let points = Mutex<[(SimulatedImage, Int)]>([])
        let acknowledged = Atomic<Int>(0)
        fs.setOperationHook { operation in
            guard operation.kind.isSync else { return }
            let image = fs.snapshot()
            points.withLock { $0.append((image, acknowledged.load(ordering: .sequentiallyConsistent))) }
        }
        for n in 0..<12 {
            try file.write { txn in try txn.put(Array("key \(n)".utf8), Array(repeating: UInt8(n), count: 300), in: "t") }
            acknowledged.store(n + 1, ordering: .sequentiallyConsistent)
            if n % 3 == 2 { try file.checkpoint() }
        }
        fs.setOperationHook(nil)
        file.close()
        var problems: [String] = []
        var recoveries = 0
        for (n, (image, committed)) in points.withLock({ $0 }).enumerated() {
            for mode in CrashMode.allCases {
                let first = SimulatedFileSystem.restore(image, crash: mode, seed: UInt64(n))
                let inner = Mutex<[SimulatedImage]>([])
                first.setOperationHook { _ in
                    let image = first.snapshot()
                    inner.withLock { $0.append(image) }
                }
                do {
                    let opened = try BTreeFile.open(fileSystem: first, configuration: configuration)
                    opened.close()
                } catch {
                    problems.append("point \(n) (\(mode)): \(error)")
                    continue
                }
                first.setOperationHook(nil)
                for (m, image) in inner.withLock({ $0 }).enumerated() {
                    for second in CrashMode.allCases {
                        recoveries += 1
                        let context = "point \(n) (\(mode)), then operation \(m) of the recovery (\(second))"
                        do {
                            let again = try BTreeFile.open(
                                fileSystem: SimulatedFileSystem.restore(image, crash: second, seed: UInt64(m)), configuration: configuration)
                            defer { again.close() }
                            let snapshot = try again.snapshot()
                            defer { snapshot.close() }
                            for k in 0..<committed where try snapshot.get(Array("key \(k)".utf8), in: "t") == nil {
                                problems.append("\(context): acknowledged key \(k) lost")
                            }
                            let verification = again.verify()
                            if !verification.isClean { problems.append("\(context): \(verification.problems.prefix(3))") }
                        } catch {
                            problems.append("\(context): \(error)")
                        }
                    }
                }
            }
            if problems.count > 10 { break }
        }
        #expect(recoveries > 100)
        #expect(problems.isEmpty, "\(problems.prefix(10))")
    }
}
