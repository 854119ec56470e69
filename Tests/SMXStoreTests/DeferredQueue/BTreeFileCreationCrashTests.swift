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
