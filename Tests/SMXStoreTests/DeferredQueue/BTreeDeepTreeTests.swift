import Testing
import SMXStore
import SMXTestSupport

/// Trees three levels deep, filled in key order (the right-edge split of leaves and of
/// branches) and emptied in random order and in key order: `verify()` after every commit.
@Suite struct BTreeDeepTreeTests {
    /// Keys in order, ten per commit, past the first split of the root branch at its right
    /// edge (near key 3,750): after every commit each branch has at least one separator (a right-edge
    /// branch split once left the new right branch with none, which `verify()` reports and
    /// a later delete below it tripped over).
    @Test func rightEdgeBranchSplitsLeaveNoEmptyBranch() throws {
        let file = try BTreeFile.open(fileSystem: SimulatedFileSystem(), configuration: BTreeFileTests.configuration())
        defer { file.close() }
        var rng = SplitMix64(seed: 5)
        for start in stride(from: 0, to: 6_000, by: 10) {
            try file.write { txn in
                for n in start..<(start + 10) { try txn.put(Self.key(n), rng.bytes(160), in: "records") }
            }
            let verification = file.verify()
            #expect(verification.isClean, "after key \(start + 9): \(verification.problems.prefix(3))")
            if !verification.isClean { return }
        }
        // Now delete below what was the right edge, in reverse, through every branch.
        try file.write { txn in
            for n in stride(from: 5_999, through: 0, by: -1) {
                let removed = try txn.delete(Self.key(n), in: "records")
                #expect(removed)
            }
        }
        #expect(file.verify().isClean)
    }

    static func key(_ n: Int) -> [UInt8] {
        (0..<12).map { UInt8(truncatingIfNeeded: UInt64(n) >> (8 * UInt64(11 - $0))) }
    }

    @Test(arguments: [false, true])
    func orderedFillThenDeleteAll(inKeyOrder: Bool) throws {
        let file = try BTreeFile.open(fileSystem: SimulatedFileSystem(), configuration: BTreeFileTests.configuration())
        defer { file.close() }
        let total = 60_000
        var rng = SplitMix64(seed: inKeyOrder ? 1 : 2)
        for start in stride(from: 0, to: total, by: 5_000) {
            try file.write { txn in
                for n in start..<(start + 5_000) { try txn.put(Self.key(n), rng.bytes(160), in: "records") }
            }
            let verification = file.verify()
            #expect(verification.isClean, "\(verification.problems.prefix(3))")
            if !verification.isClean { return }
        }
        var order = Array(0..<total)
        if !inKeyOrder { order.shuffle(using: &rng) }
        for start in stride(from: 0, to: total, by: 5_000) {
            try file.write { txn in
                for n in order[start..<(start + 5_000)] {
                    let removed = try txn.delete(Self.key(n), in: "records")
                    #expect(removed)
                }
            }
            let verification = file.verify()
            #expect(verification.isClean, "\(verification.problems.prefix(3))")
            if !verification.isClean { return }
        }
        let snapshot = try file.snapshot()
        #expect(try snapshot.count("records") == 0)
        snapshot.close()
    }
}
