import Dispatch
import Foundation
import SMXTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: Helpers

private func fill(_ value: UInt8, _ count: Int) -> [UInt8] {
    [UInt8](repeating: value, count: count)
}

/// Expects `body` to throw a `StoreError` with `code` (and `errno`, when given).
private func expectError(
    _ code: StoreError.Code,
    errno: Int32? = nil,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) {
    let error = #expect(throws: StoreError.self, sourceLocation: sourceLocation) { try body() }
    #expect(error?.code == code, "\(String(describing: error))", sourceLocation: sourceLocation)
    if let errno {
        #expect(error?.errno == errno, "\(String(describing: error))", sourceLocation: sourceLocation)
    }
}

/// Runs `body(0..<count)` on `count` dedicated threads at once and waits for all of them
/// (`DispatchQueue.concurrentPerform` would use at most one thread per core).
private func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        let thread = Thread {
            body(index)
            group.leave()
        }
        thread.start()
    }
    group.wait()
}

/// Creates `path` with `content`, syncs it and its directory.
private func makeDurableFile(_ fs: SimulatedFileSystem, _ path: String, _ content: [UInt8]) throws {
    let handle = try fs.openFile(path, mode: .createNew)
    try handle.write(content, at: 0)
    try handle.sync()
    try handle.close()
    try fs.syncDirectory(Path.directory(of: path))
}

/// A file system with `/d` created and durable.
private func fileSystemWithDirectory() throws -> SimulatedFileSystem {
    let fs = SimulatedFileSystem()
    try fs.createDirectory("/d", intermediate: false)
    try fs.syncDirectory("/")
    return fs
}

@Suite("SimulatedFileSystem")
struct SimulatedFileSystemTests {
    // MARK: Basic file semantics

    @Test func rootExistsAndIsDurable() throws {
        let fs = SimulatedFileSystem(seed: 7)
        #expect(fs.seed == 7)
        #expect(try fs.itemType("/") == .directory)
        #expect(try fs.listDirectory("/") == [])
        for mode in CrashMode.allCases {
            #expect(try fs.crash(mode: mode, seed: 1).itemType("/") == .directory)
        }
    }

    @Test func openModes() throws {
        let fs = try fileSystemWithDirectory()
        expectError(.notFound) { _ = try fs.openFile("/d/f", mode: .existing) }
        expectError(.notFound) { _ = try fs.openFile("/d/f", mode: .readOnly) }
        expectError(.notFound) { _ = try fs.openFile("/missing/f", mode: .createIfMissing) }
        expectError(.io, errno: EISDIR) { _ = try fs.openFile("/d", mode: .createIfMissing) }

        let created = try fs.openFile("/d/f", mode: .createNew)
        try created.write([1, 2, 3], at: 0)
        expectError(.alreadyExists) { _ = try fs.openFile("/d/f", mode: .createNew) }
        expectError(.io, errno: ENOTDIR) { _ = try fs.openFile("/d/f/g", mode: .createIfMissing) }

        let again = try fs.openFile("/d/f", mode: .createIfMissing)
        #expect(try again.readAll() == [1, 2, 3])
        let existing = try fs.openFile("d/./f", mode: .existing)  // relative paths start at "/"
        #expect(try existing.readAll() == [1, 2, 3])

        let readOnly = try fs.openFile("/d/f", mode: .readOnly)
        #expect(try readOnly.readAll() == [1, 2, 3])
        expectError(.io, errno: EBADF) { try readOnly.write([9], at: 0) }
        expectError(.io, errno: EBADF) { try readOnly.truncate(to: 0) }
        expectError(.io, errno: EBADF) { try readOnly.allocate(offset: 0, length: 10) }
        try readOnly.sync()  // fsync of a read-only descriptor is allowed
        #expect(fs.currentContents("/d/f") == [1, 2, 3])
        for handle in [created, again, existing, readOnly] { try handle.close() }
    }

    @Test func readsSeeWritesAndGrowWithZeros() throws {
        let fs = SimulatedFileSystem()
        let handle = try fs.openFile("/f", mode: .createNew)
        try handle.write([7, 8, 9], at: 10)
        #expect(try handle.size() == 13)
        #expect(try handle.readAll() == fill(0, 10) + [7, 8, 9])
        #expect(try handle.read(at: 12, count: 100) == [9])
        #expect(try handle.read(at: 13, count: 5) == [])
        #expect(try handle.read(at: 500, count: 5) == [])
        try handle.write([], at: 1000)  // writing nothing does not extend
        #expect(try handle.size() == 13)

        // Writes that cross page boundaries (16 KiB) read back exactly.
        let pattern = (0..<40_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        try handle.write(pattern, at: 4000)
        #expect(try handle.read(at: 4000, count: 40_000) == pattern)
        #expect(try handle.read(at: 16_000, count: 1000) == Array(pattern[12_000..<13_000]))
        #expect(try handle.size() == 44_000)

        // Shrinking forgets the bytes; growing again brings zeros, not the old bytes.
        try handle.truncate(to: 20_000)
        try handle.truncate(to: 50_000)
        #expect(try handle.read(at: 4000, count: 16_000) == Array(pattern[0..<16_000]))
        #expect(try handle.read(at: 20_000, count: 30_000) == fill(0, 30_000))
        try handle.truncate(to: 4100)
        try handle.allocate(offset: 0, length: 9000)
        #expect(try handle.read(at: 4000, count: 100) == Array(pattern[0..<100]))
        #expect(try handle.read(at: 4100, count: 4900) == fill(0, 4900))
        try handle.truncate(to: 0)
        #expect(try handle.size() == 0)
        expectError(.io, errno: EINVAL) { try handle.write([1], at: -1) }
        expectError(.io, errno: EINVAL) { _ = try handle.read(at: -1, count: 1) }
        expectError(.io, errno: EINVAL) { try handle.truncate(to: -1) }
        try handle.close()
    }

    @Test func allocateExtendsWithZerosAndNeverShrinks() throws {
        let fs = SimulatedFileSystem()
        let handle = try fs.openFile("/f", mode: .createNew)
        try handle.write(fill(5, 100), at: 0)
        try handle.allocate(offset: 0, length: 10)
        #expect(try handle.size() == 100)
        try handle.allocate(offset: 50, length: 8192)
        #expect(try handle.size() == 8242)
        #expect(try handle.readAll() == fill(5, 100) + fill(0, 8142))
        expectError(.io, errno: EINVAL) { try handle.allocate(offset: 0, length: 0) }
        try handle.sync()
        #expect(fs.durableContents("/f") == nil)  // the directory entry is not durable yet
        try fs.syncDirectory("/")
        #expect(fs.durableContents("/f")?.count == 8242)
        try handle.close()
    }

    @Test func directoriesListAndTypes() throws {
        let fs = SimulatedFileSystem()
        expectError(.notFound) { try fs.createDirectory("/a/b", intermediate: false) }
        try fs.createDirectory("/a/b/c", intermediate: true)
        try fs.createDirectory("/a/b/c", intermediate: true)  // exists: fine
        try fs.createDirectory("/a/b", intermediate: false)  // exists: fine
        try fs.createDirectory("/a/z", intermediate: false)
        try makeDurableFile(fs, "/a/m", [1])
        expectError(.alreadyExists) { try fs.createDirectory("/a/m", intermediate: true) }
        expectError(.io, errno: ENOTDIR) { try fs.createDirectory("/a/m/x", intermediate: true) }

        #expect(try fs.listDirectory("/a") == ["b", "m", "z"])
        #expect(try fs.listDirectory("/") == ["a"])
        expectError(.notFound) { _ = try fs.listDirectory("/nope") }
        expectError(.io, errno: ENOTDIR) { _ = try fs.listDirectory("/a/m") }
        #expect(try fs.itemType("/a") == .directory)
        #expect(try fs.itemType("/a/m") == .file)
        #expect(try fs.itemType("/a/q") == nil)
        #expect(try fs.itemType("/q/q") == nil)

        expectError(.io, errno: EISDIR) { try fs.removeFile("/a/b") }
        expectError(.notFound) { try fs.removeFile("/a/q") }
        expectError(.notFound) { try fs.rename("/a/q", to: "/a/r") }
        expectError(.notFound) { try fs.rename("/a/m", to: "/q/r") }
        expectError(.io, errno: EISDIR) { try fs.rename("/a/m", to: "/a/b") }
        expectError(.io, errno: ENOTDIR) { try fs.rename("/a/b", to: "/a/m") }
        expectError(.io, errno: ENOTEMPTY) { try fs.rename("/a/z", to: "/a/b") }
        expectError(.io, errno: EINVAL) { try fs.rename("/a/b", to: "/a/b/c/d") }
        expectError(.notFound) { try fs.syncDirectory("/q") }

        // Directory renames carry their contents.
        try fs.rename("/a/b", to: "/a/y")
        #expect(try fs.itemType("/a/y/c") == .directory)
        try fs.rename("/a/m", to: "/a/m")  // onto itself: nothing happens
        #expect(fs.currentContents("/a/m") == [1])
    }

    // MARK: Durability of file data

    @Test func unsyncedWriteVanishesSyncedWriteSurvives() throws {
        let fs = try fileSystemWithDirectory()
        try makeDurableFile(fs, "/d/f", fill(0xAA, 1000))
        let handle = try fs.openFile("/d/f", mode: .existing)
        try handle.write(fill(0xBB, 1000), at: 1000)  // never synced
        #expect(fs.currentContents("/d/f") == fill(0xAA, 1000) + fill(0xBB, 1000))
        #expect(fs.durableContents("/d/f") == fill(0xAA, 1000))

        let dropped = fs.crash(mode: .dropAllUnsynced, seed: 0)
        #expect(dropped.currentContents("/d/f") == fill(0xAA, 1000))

        try handle.write(fill(0xCC, 300), at: 2000)
        try handle.sync()  // makes the 0xBB and 0xCC writes durable
        try handle.write(fill(0xDD, 500), at: 2300)  // unsynced again
        let synced = fill(0xAA, 1000) + fill(0xBB, 1000) + fill(0xCC, 300)
        for mode in CrashMode.allCases {
            for seed in UInt64(0)..<50 {
                let after = try #require(fs.crash(mode: mode, seed: seed).currentContents("/d/f"))
                #expect(Array(after.prefix(synced.count)) == synced, "\(mode) seed \(seed)")
            }
        }
        try handle.close()
    }

    @Test func newFileNeedsItsDirectorySynced() throws {
        let fs = try fileSystemWithDirectory()
        let handle = try fs.openFile("/d/new", mode: .createNew)
        try handle.write(fill(1, 100), at: 0)
        try handle.fullSync()  // data synced, directory entry not
        #expect(fs.durableContents("/d/new") == nil)
        #expect(try fs.crash(mode: .dropAllUnsynced, seed: 0).itemType("/d/new") == nil)
        var vanished = 0
        for seed in UInt64(0)..<32 where try fs.crash(mode: .keepSome, seed: seed).itemType("/d/new") == nil {
            vanished += 1
        }
        #expect(vanished > 0 && vanished < 32)

        try fs.syncDirectory("/d")
        for mode in CrashMode.allCases {
            for seed in UInt64(0)..<20 {
                #expect(fs.crash(mode: mode, seed: seed).currentContents("/d/new") == fill(1, 100))
            }
        }
        try handle.close()
    }

    @Test func unreachableDirectoriesAndFilesAreGone() throws {
        let fs = SimulatedFileSystem()
        try fs.createDirectory("/a/b", intermediate: true)
        try makeDurableFile(fs, "/a/b/f", [1, 2, 3])  // syncs /a/b, not / nor /a
        try fs.syncDirectory("/a")
        let crashed = fs.crash(mode: .dropAllUnsynced, seed: 0)
        #expect(try crashed.listDirectory("/") == [])
        #expect(crashed.currentContents("/a/b/f") == nil)
        #expect(crashed.durableContents("/a/b/f") == nil)

        try fs.syncDirectory("/")
        let kept = fs.crash(mode: .tear, seed: 3)
        #expect(kept.currentContents("/a/b/f") == [1, 2, 3])
        #expect(kept.usedBytes == 3)
    }

    @Test func keepSomeKeepsAndDropsEachOperation() throws {
        let fs = try fileSystemWithDirectory()
        try makeDurableFile(fs, "/d/f", fill(0, 8 * 512))
        let handle = try fs.openFile("/d/f", mode: .existing)
        for sector in 0..<8 {
            try handle.write(fill(UInt8(sector + 1), 512), at: sector * 512)
        }
        var kept = [Int](repeating: 0, count: 8)
        var outcomes = Set<[UInt8]>()
        for seed in UInt64(0)..<64 {
            let contents = try #require(fs.crash(mode: .keepSome, seed: seed).currentContents("/d/f"))
            #expect(contents.count == 8 * 512)
            outcomes.insert(contents)
            for sector in 0..<8 {
                let piece = contents[(sector * 512)..<((sector + 1) * 512)]
                if piece.allSatisfy({ $0 == UInt8(sector + 1) }) {
                    kept[sector] += 1
                } else {
                    #expect(piece.allSatisfy { $0 == 0 }, "keepSome never tears a write")
                }
            }
        }
        for sector in 0..<8 {
            #expect(kept[sector] > 0 && kept[sector] < 64, "write \(sector) kept \(kept[sector])/64 times")
        }
        #expect(outcomes.count > 10)
        try handle.close()
    }

    @Test func keepSomeAppliesAPrefixOfEachDirectorysOperations() throws {
        let fs = try fileSystemWithDirectory()
        let names = (0..<10).map { "f\($0)" }
        for name in names {
            try fs.openFile("/d/\(name)", mode: .createNew).close()
        }
        var lengths = Set<Int>()
        for mode in [CrashMode.keepSome, .tear] {
            for seed in UInt64(0)..<64 {
                let survivors = try fs.crash(mode: mode, seed: seed).listDirectory("/d")
                let count = survivors.count
                #expect(Set(survivors) == Set(names.prefix(count)), "\(mode) seed \(seed): \(survivors)")
                lengths.insert(count)
            }
        }
        #expect(lengths.count > 3)
        #expect(lengths.contains(0) || lengths.contains(10) || lengths.count > 5)
    }

    @Test func tearCutsAtFileSectorBoundaries() throws {
        let fs = try fileSystemWithDirectory()
        try makeDurableFile(fs, "/d/f", fill(0xAA, 4096))
        let handle = try fs.openFile("/d/f", mode: .existing)
        try handle.write(fill(0xBB, 2000), at: 300)  // covers [300, 2300): 5 pieces
        let pieces = [300..<512, 512..<1024, 1024..<1536, 1536..<2048, 2048..<2300]
        var old = 0, new = 0, garbage = 0
        for seed in UInt64(0)..<40 {
            let contents = try #require(fs.crash(mode: .tear, seed: seed).currentContents("/d/f"))
            #expect(contents.count == 4096)
            #expect(contents[0..<300].allSatisfy { $0 == 0xAA })
            #expect(contents[2300..<4096].allSatisfy { $0 == 0xAA })
            for range in pieces {
                let piece = contents[range]
                if piece.allSatisfy({ $0 == 0xAA }) {
                    old += 1
                } else if piece.allSatisfy({ $0 == 0xBB }) {
                    new += 1
                } else {
                    // Garbage: random bytes, so almost none equal the old or the new byte.
                    // A piece mixing old and new bytes fails this.
                    let familiar = piece.filter { $0 == 0xAA || $0 == 0xBB }.count
                    #expect(familiar < piece.count / 8, "seed \(seed) piece \(range) mixes old and new")
                    garbage += 1
                }
            }
        }
        #expect(old > 0 && new > 0 && garbage > 0, "old \(old) new \(new) garbage \(garbage)")
        try handle.close()
    }

    @Test func tearKeepsTruncateAndAllocateHalfTheTime() throws {
        let fs = try fileSystemWithDirectory()
        try makeDurableFile(fs, "/d/f", fill(3, 1000))
        let handle = try fs.openFile("/d/f", mode: .existing)
        try handle.truncate(to: 100)
        try handle.allocate(offset: 0, length: 5000)
        var sizes = Set<Int>()
        for seed in UInt64(0)..<64 {
            let contents = try #require(fs.crash(mode: .tear, seed: seed).currentContents("/d/f"))
            sizes.insert(contents.count)
            let kept = contents.prefix(100)
            #expect(kept.allSatisfy { $0 == 3 })
        }
        // truncate kept or not x allocate kept or not: 1000 (neither), 100, 5000 (both, or allocate only).
        #expect(sizes == [1000, 100, 5000])
        try handle.close()
    }

    @Test func crashesAreDeterministicPerSeed() throws {
        let fs = try fileSystemWithDirectory()
        try makeDurableFile(fs, "/d/f", fill(0xAA, 8192))
        let handle = try fs.openFile("/d/f", mode: .existing)
        for index in 0..<20 {
            try handle.write(fill(UInt8(index), 300), at: index * 400)
            try fs.openFile("/d/g\(index)", mode: .createNew).close()
        }
        let image = fs.snapshot()
        for mode in CrashMode.allCases {
            var distinct = Set<[UInt8]>()
            for seed in UInt64(0)..<8 {
                let first = SimulatedFileSystem.restore(image, crash: mode, seed: seed)
                let second = SimulatedFileSystem.restore(image, crash: mode, seed: seed)
                #expect(first.currentContents("/d/f") == second.currentContents("/d/f"))
                #expect(try first.listDirectory("/d") == second.listDirectory("/d"))
                #expect(first.seed == seed)
                distinct.insert(try #require(first.currentContents("/d/f")))
            }
            #expect(distinct.count == (mode == .dropAllUnsynced ? 1 : 8), "\(mode)")
        }
        try handle.close()
    }

    // MARK: fsyncgate

    @Test func failedSyncLosesTheDataForGood() throws {
        let fs = try fileSystemWithDirectory()
        try makeDurableFile(fs, "/d/f", fill(0xAA, 100))
        let handle = try fs.openFile("/d/f", mode: .existing)
        try handle.write(fill(0xBB, 100), at: 0)
        let fault = fs.injectFault(FaultRule(kinds: [.sync], errno: EIO))
        expectError(.io, errno: EIO) { try handle.sync() }
        #expect(fs.firedCount(ofFault: fault) == 1)
        #expect(fs.currentContents("/d/f") == fill(0xBB, 100))  // the page cache keeps it
        try handle.sync()  // "succeeds", but the 0xBB write is gone from the device's view
        #expect(fs.durableContents("/d/f") == fill(0xAA, 100))
        for mode in CrashMode.allCases {
            for seed in UInt64(0)..<10 {
                #expect(fs.crash(mode: mode, seed: seed).currentContents("/d/f") == fill(0xAA, 100))
            }
        }

        // Later writes become durable on top of the durable bytes, not of what reads see.
        try handle.write(fill(0xCC, 10), at: 200)
        try handle.fullSync()
        #expect(fs.currentContents("/d/f") == fill(0xBB, 100) + fill(0, 100) + fill(0xCC, 10))
        #expect(fs.durableContents("/d/f") == fill(0xAA, 100) + fill(0, 100) + fill(0xCC, 10))
        try handle.close()
    }

    @Test func failedDirectorySyncLosesTheEntriesForGood() throws {
        let fs = try fileSystemWithDirectory()
        try fs.openFile("/d/f", mode: .createNew).close()
        fs.injectFault(FaultRule(kinds: [.syncDirectory], errno: EIO))
        expectError(.io) { try fs.syncDirectory("/d") }
        #expect(try fs.listDirectory("/d") == ["f"])
        try fs.syncDirectory("/d")
        #expect(fs.durableContents("/d/f") == nil)
        #expect(try fs.crash(mode: .keepSome, seed: 1).listDirectory("/d") == [])
    }

    // MARK: Faults

    @Test func writeFaultByCount() throws {
        let fs = SimulatedFileSystem()
        let handle = try fs.openFile("/f", mode: .createNew)
        let fault = fs.injectFault(FaultRule(kinds: [.write], errno: EIO, after: 2, times: 1))
        try handle.write([1], at: 0)
        try handle.write([2], at: 1)
        expectError(.io, errno: EIO) { try handle.write(fill(3, 5000), at: 2) }
        #expect(try handle.readAll() == [1, 2])  // the failed write changed nothing
        #expect(fs.usedBytes == 2)
        try handle.write([4], at: 2)
        #expect(try handle.readAll() == [1, 2, 4])
        #expect(fs.firedCount(ofFault: fault) == 1)
        try handle.close()
    }

    @Test func syncFaultByCountFailsEveryOneFromThenOn() throws {
        let fs = SimulatedFileSystem()
        let handle = try fs.openFile("/f", mode: .createNew)
        let fault = fs.injectFault(FaultRule(kinds: [.sync, .fullSync], errno: EIO, after: 1, times: nil))
        try handle.sync()
        for _ in 0..<3 {
            expectError(.io) { try handle.sync() }
            expectError(.io) { try handle.fullSync() }
        }
        #expect(fs.firedCount(ofFault: fault) == 6)
        #expect(fs.syncCount == 7)
        fs.removeFault(fault)
        try handle.sync()
        try handle.close()
    }

    @Test func faultByPredicate() throws {
        let fs = SimulatedFileSystem()
        fs.injectFault(
            FaultRule(kinds: [.write, .sync], errno: EIO, times: nil, matches: { $0.path.hasSuffix("/b") }))
        let a = try fs.openFile("/a", mode: .createNew)
        let b = try fs.openFile("/b", mode: .createNew)
        for round in 0..<3 {
            try a.write([UInt8(round)], at: round)
            try a.sync()
            expectError(.io) { try b.write([1], at: 0) }
            expectError(.io) { try b.sync() }
        }
        #expect(fs.durableContents("/a") == nil)  // "/" never synced
        #expect(fs.currentContents("/a") == [0, 1, 2])
        #expect(fs.currentContents("/b") == [])
        fs.removeAllFaults()
        try b.write([1], at: 0)
        try a.close()
        try b.close()
    }

    @Test(arguments: SimulatedOperationKind.allCases)
    func faultsApplyToEveryKind(kind: SimulatedOperationKind) throws {
        let fs = try fileSystemWithDirectory()
        try makeDurableFile(fs, "/d/f", fill(1, 10))
        let handle = try fs.openFile("/d/f", mode: .existing)
        try handle.write([2], at: 20)
        fs.injectFault(FaultRule(kinds: [kind], errno: EIO))
        let before = fs.snapshot()
        let attempt: () throws -> Void
        switch kind {
        case .create: attempt = { _ = try fs.openFile("/d/g", mode: .createIfMissing) }
        case .write: attempt = { try handle.write(fill(9, 100), at: 0) }
        case .sync: attempt = { try handle.sync() }
        case .fullSync: attempt = { try handle.fullSync() }
        case .allocate: attempt = { try handle.allocate(offset: 0, length: 100) }
        case .truncate: attempt = { try handle.truncate(to: 0) }
        case .syncDirectory: attempt = { try fs.syncDirectory("/d") }
        case .rename: attempt = { try fs.rename("/d/f", to: "/d/g") }
        case .removeFile: attempt = { try fs.removeFile("/d/f") }
        case .createDirectory: attempt = { try fs.createDirectory("/d/e", intermediate: false) }
        }
        expectError(.io, errno: EIO, attempt)
        // Nothing visible changed, and nothing durable did either.
        #expect(try fs.listDirectory("/d") == ["f"])
        #expect(fs.currentContents("/d/f") == fill(1, 10) + fill(0, 10) + [2])
        #expect(fs.durableContents("/d/f") == fill(1, 10))
        let image = SimulatedFileSystem.restore(before, crash: .dropAllUnsynced, seed: 0)
        #expect(fs.crash(mode: .dropAllUnsynced, seed: 0).currentContents("/d/f") == image.currentContents("/d/f"))
        // The next one goes through.
        try attempt()
        try handle.close()
    }

    @Test func noSpaceFromCapacity() throws {
        let fs = SimulatedFileSystem()
        fs.capacityBytes = 10_000
        #expect(fs.capacityBytes == 10_000)
        let handle = try fs.openFile("/f", mode: .createNew)
        try handle.write(fill(1, 6000), at: 0)
        expectError(.noSpace, errno: ENOSPC) { try handle.write(fill(2, 6000), at: 6000) }
        #expect(try handle.size() == 6000)
        try handle.write(fill(3, 4000), at: 2000)  // overwriting needs no space
        try handle.write(fill(3, 4000), at: 6000)  // exactly full
        #expect(fs.usedBytes == 10_000)
        expectError(.noSpace) { try handle.write([1], at: 10_000) }
        expectError(.noSpace) { try handle.allocate(offset: 0, length: 10_001) }
        expectError(.noSpace) { try handle.truncate(to: 10_001) }
        try handle.truncate(to: 1000)
        #expect(fs.usedBytes == 1000)

        let other = try fs.openFile("/g", mode: .createNew)
        try other.allocate(offset: 0, length: 9000)
        expectError(.noSpace) { try other.write([1], at: 9000) }
        // An unlinked file uses space until its last handle closes.
        try fs.removeFile("/f")
        expectError(.noSpace) { try other.write([1], at: 9000) }
        try handle.close()
        #expect(fs.usedBytes == 9000)
        try other.write(fill(4, 1000), at: 9000)
        try other.close()
        fs.capacityBytes = nil
        #expect(fs.capacityBytes == nil)
    }

    @Test func noSpaceFromFault() throws {
        let fs = SimulatedFileSystem()
        let handle = try fs.openFile("/f", mode: .createNew)
        fs.injectFault(FaultRule(kinds: [.write, .allocate], errno: ENOSPC, times: 2))
        expectError(.noSpace, errno: ENOSPC) { try handle.allocate(offset: 0, length: 4096) }
        expectError(.noSpace, errno: ENOSPC) { try handle.write([1], at: 0) }
        #expect(try handle.size() == 0)
        try handle.write([1], at: 0)
        try handle.close()
    }

    // MARK: Power off

    @Test func powerOffMakesEveryLaterOperationFail() throws {
        let fs = try fileSystemWithDirectory()
        try makeDurableFile(fs, "/d/f", [1, 2, 3])
        let handle = try fs.openFile("/d/f", mode: .existing)
        try handle.write([4], at: 3)
        let lock = try fs.lockFile("/d/LOCK")
        fs.powerOff()
        #expect(fs.isPoweredOff)
        let count = fs.operationCount

        let calls: [() throws -> Void] = [
            { try handle.write([9], at: 0) }, { try handle.sync() }, { try handle.fullSync() },
            { _ = try handle.read(at: 0, count: 1) }, { _ = try handle.size() },
            { try handle.allocate(offset: 0, length: 1) }, { try handle.truncate(to: 0) },
            { _ = try fs.openFile("/d/f", mode: .existing) }, { _ = try fs.openFile("/d/g", mode: .createNew) },
            { try fs.createDirectory("/e", intermediate: true) }, { try fs.syncDirectory("/d") },
            { try fs.rename("/d/f", to: "/d/g") }, { try fs.removeFile("/d/f") },
            { _ = try fs.listDirectory("/d") }, { _ = try fs.itemType("/d") }, { _ = try fs.lockFile("/d/L2") },
            { try handle.close() },
        ]
        for call in calls {
            let error = #expect(throws: StoreError.self) { try call() }
            #expect(error?.code == .io)
            #expect(error?.message == "simulated power loss")
        }
        lock.unlock()
        #expect(fs.operationCount == count)
        // Inspection and crashes still work.
        #expect(fs.currentContents("/d/f") == [1, 2, 3, 4])
        #expect(fs.crash(mode: .dropAllUnsynced, seed: 0).currentContents("/d/f") == [1, 2, 3])
    }

    @Test func powerOffFromTheHookFailsThatOperation() throws {
        let fs = try fileSystemWithDirectory()
        let image = Mutex<SimulatedImage?>(nil)
        fs.setOperationHook { [fs] operation in
            if operation.kind == .sync {
                image.withLock { $0 = fs.snapshot() }
                fs.powerOff()
            }
        }
        let handle = try fs.openFile("/d/f", mode: .createNew)
        try fs.syncDirectory("/d")
        try handle.write([1, 2], at: 0)
        expectError(.io) { try handle.sync() }
        let taken = try #require(image.withLock { $0 })
        // createDirectory, syncDirectory, create, syncDirectory, write: the sync was #5, and
        // it was counted before its hook ran.
        #expect(taken.operationCount == 6)
        let after = SimulatedFileSystem.restore(taken, crash: .dropAllUnsynced, seed: 0)
        #expect(after.currentContents("/d/f") == [])
        #expect(fs.durableContents("/d/f") == [])  // the sync never ran
    }

    // MARK: Snapshots

    @Test func snapshotIsUnaffectedByLaterOperations() throws {
        let fs = try fileSystemWithDirectory()
        try makeDurableFile(fs, "/d/f", fill(0xAA, 5000))
        let image = fs.snapshot()
        #expect(image.operationCount == fs.operationCount)

        let handle = try fs.openFile("/d/f", mode: .existing)
        try handle.write(fill(0xBB, 5000), at: 0)
        try handle.sync()
        try makeDurableFile(fs, "/d/g", [1])
        try fs.removeFile("/d/f")
        try fs.syncDirectory("/d")

        for mode in CrashMode.allCases {
            let restored = SimulatedFileSystem.restore(image, crash: mode, seed: 5)
            #expect(restored.currentContents("/d/f") == fill(0xAA, 5000))
            #expect(try restored.listDirectory("/d") == ["f"])
            #expect(restored.operationCount == 0)
            // The restored file system is independent of the image and of the original.
            let again = try restored.openFile("/d/f", mode: .existing)
            try again.write([7], at: 0)
            try again.close()
        }
        let restored = SimulatedFileSystem.restore(image, crash: .keepSome, seed: 5)
        #expect(restored.currentContents("/d/f") == fill(0xAA, 5000))
        #expect(fs.currentContents("/d/f") == nil)
        #expect(try handle.readAll() == fill(0xBB, 5000))
        try handle.close()
    }

    @Test func restoreKeepsDeviceSettings() throws {
        let fs = SimulatedFileSystem()
        fs.capacityBytes = 123
        fs.syncDelayMicroseconds = 5
        try makeDurableFile(fs, "/f", [1, 2])
        fs.injectFault(FaultRule(kinds: [.write], errno: EIO, times: nil))
        let crashed = fs.crash(mode: .dropAllUnsynced, seed: 0)
        #expect(crashed.capacityBytes == 123)
        #expect(crashed.syncDelayMicroseconds == 5)
        #expect(crashed.usedBytes == 2)
        let handle = try crashed.openFile("/f", mode: .existing)
        try handle.write([3], at: 2)  // faults are not carried over
        try handle.close()
    }

    @Test func overwriteDurablyCorruptsTheDisk() throws {
        let fs = try fileSystemWithDirectory()
        try makeDurableFile(fs, "/d/f", fill(0, 1024))
        fs.overwriteDurably("/d/f", at: 100, with: [0xDE, 0xAD])
        #expect(fs.currentContents("/d/f")?[100...101] == [0xDE, 0xAD])
        #expect(fs.durableContents("/d/f")?[100...101] == [0xDE, 0xAD])
        #expect(fs.crash(mode: .keepSome, seed: 9).currentContents("/d/f")?[100...101] == [0xDE, 0xAD])
        // createDirectory, syncDirectory, then create, write, sync, syncDirectory: corruption is no operation.
        #expect(fs.operationCount == 6)
    }

    // MARK: Renames

    @Test func renameWithinADirectoryIsAtomicAcrossCrashes() throws {
        let fs = try fileSystemWithDirectory()
        try makeDurableFile(fs, "/d/a", fill(0xBB, 900))
        try fs.rename("/d/a", to: "/d/b")  // directory not synced
        try fs.openFile("/d/c", mode: .createNew).close()  // a later pending entry operation
        var sawOld = false, sawNew = false
        for mode in CrashMode.allCases {
            for seed in UInt64(0)..<64 {
                let crashed = fs.crash(mode: mode, seed: seed)
                let a = crashed.currentContents("/d/a")
                let b = crashed.currentContents("/d/b")
                #expect((a == nil) != (b == nil), "\(mode) seed \(seed): exactly one name")
                #expect((a ?? b) == fill(0xBB, 900))
                if a != nil { sawOld = true } else { sawNew = true }
            }
        }
        #expect(sawOld && sawNew)
    }

    @Test func renameReplacingAFileIsAtomicAcrossCrashes() throws {
        let fs = try fileSystemWithDirectory()
        try makeDurableFile(fs, "/d/a", fill(0xAA, 700))
        try makeDurableFile(fs, "/d/tmp", fill(0xBB, 900))
        try fs.rename("/d/tmp", to: "/d/a")
        #expect(fs.currentContents("/d/a") == fill(0xBB, 900))
        #expect(fs.durableContents("/d/a") == fill(0xAA, 700))
        var outcomes = Set<String>()
        for mode in CrashMode.allCases {
            for seed in UInt64(0)..<64 {
                let crashed = fs.crash(mode: mode, seed: seed)
                let a = crashed.currentContents("/d/a")
                let tmp = crashed.currentContents("/d/tmp")
                if a == fill(0xAA, 700) && tmp == fill(0xBB, 900) {
                    outcomes.insert("old")
                } else if a == fill(0xBB, 900) && tmp == nil {
                    outcomes.insert("new")
                } else {
                    Issue.record("\(mode) seed \(seed): a \(a?.count ?? -1) tmp \(tmp?.count ?? -1)")
                }
            }
        }
        #expect(outcomes == ["old", "new"])
        try fs.syncDirectory("/d")
        #expect(fs.durableContents("/d/a") == fill(0xBB, 900))
        #expect(fs.durableContents("/d/tmp") == nil)
    }

    @Test func renameAcrossDirectoriesIsTwoEntryOperations() throws {
        let fs = SimulatedFileSystem()
        try fs.createDirectory("/s", intermediate: false)
        try fs.createDirectory("/t", intermediate: false)
        try fs.syncDirectory("/")
        try makeDurableFile(fs, "/s/f", [5])
        try fs.rename("/s/f", to: "/t/f")
        var outcomes = Set<[Bool]>()
        for seed in UInt64(0)..<64 {
            let crashed = fs.crash(mode: .keepSome, seed: seed)
            outcomes.insert([try crashed.itemType("/s/f") != nil, try crashed.itemType("/t/f") != nil])
        }
        #expect(outcomes == [[true, false], [false, false], [true, true], [false, true]])

        // Only the destination directory synced: the file has both names after a crash.
        try fs.syncDirectory("/t")
        let both = fs.crash(mode: .dropAllUnsynced, seed: 0)
        #expect(both.currentContents("/s/f") == [5])
        #expect(both.currentContents("/t/f") == [5])
        try both.removeFile("/s/f")
        #expect(both.currentContents("/t/f") == [5])

        try fs.syncDirectory("/s")
        let moved = fs.crash(mode: .tear, seed: 0)
        #expect(try moved.itemType("/s/f") == nil)
        #expect(moved.currentContents("/t/f") == [5])
    }

    @Test func removedFileComesBackUntilItsDirectoryIsSynced() throws {
        let fs = SimulatedFileSystem()
        for directory in ["/d", "/e", "/s", "/t"] {
            try fs.createDirectory(directory, intermediate: false)
        }
        try fs.syncDirectory("/")
        try makeDurableFile(fs, "/d/f", fill(7, 3000))
        try makeDurableFile(fs, "/s/g", fill(8, 3000))
        try fs.removeFile("/d/f")
        try fs.rename("/s/g", to: "/t/g")
        try fs.removeFile("/t/g")
        #expect(fs.usedBytes == 0)
        try fs.syncDirectory("/t")  // the rename's link and the unlink of /t/g are durable now
        try fs.syncDirectory("/e")  // syncing an unrelated directory changes nothing
        let dropped = fs.crash(mode: .dropAllUnsynced, seed: 0)
        #expect(dropped.currentContents("/d/f") == fill(7, 3000))
        #expect(dropped.currentContents("/s/g") == fill(8, 3000))
        #expect(try dropped.listDirectory("/t") == [])
        // The other modes may or may not apply the pending unlinks; a file that comes back
        // comes back whole (its inode was kept while a crash could still need it).
        var back = 0
        for seed in UInt64(0)..<32 {
            let crashed = fs.crash(mode: .keepSome, seed: seed)
            for (path, byte) in [("/d/f", UInt8(7)), ("/s/g", UInt8(8))] {
                let contents = crashed.currentContents(path)
                #expect(contents == nil || contents == fill(byte, 3000))
                if contents != nil { back += 1 }
            }
        }
        #expect(back > 0 && back < 64)
        try fs.syncDirectory("/d")
        try fs.syncDirectory("/s")
        let crashed = fs.crash(mode: .keepSome, seed: 2)
        #expect(try crashed.listDirectory("/d") == [])
        #expect(try crashed.listDirectory("/s") == [])
        #expect(crashed.usedBytes == 0)
    }

    // MARK: Locks and handles

    @Test func locksAreExclusivePerFile() throws {
        let fs = try fileSystemWithDirectory()
        let lock = try fs.lockFile("/d/LOCK")
        #expect(try fs.itemType("/d/LOCK") == .file)
        expectError(.locked) { _ = try fs.lockFile("/d/LOCK") }
        try fs.rename("/d/LOCK", to: "/d/LOCK2")  // flock follows the file, not the name
        expectError(.locked) { _ = try fs.lockFile("/d/LOCK2") }
        let other = try fs.lockFile("/d/LOCK")  // a new file under the old name
        lock.unlock()
        lock.unlock()  // harmless
        let again = try fs.lockFile("/d/LOCK2")
        expectError(.locked) { _ = try fs.lockFile("/d/LOCK") }
        // A restored file system has no locks.
        try fs.syncDirectory("/d")
        let restored = fs.crash(mode: .dropAllUnsynced, seed: 0)
        try restored.lockFile("/d/LOCK").unlock()
        other.unlock()
        again.unlock()
    }

    @Test func handlesKeepWorkingAfterRenameAndUnlink() throws {
        let fs = try fileSystemWithDirectory()
        let handle = try fs.openFile("/d/f", mode: .createNew)
        try handle.write([1, 2, 3], at: 0)
        try fs.rename("/d/f", to: "/d/g")
        try handle.write([4], at: 3)
        #expect(handle.path == "/d/f")
        #expect(fs.currentContents("/d/g") == [1, 2, 3, 4])
        #expect(fs.currentContents("/d/f") == nil)

        try fs.removeFile("/d/g")
        #expect(try fs.itemType("/d/g") == nil)
        try handle.write([5], at: 4)
        try handle.sync()
        #expect(try handle.readAll() == [1, 2, 3, 4, 5])
        #expect(try handle.size() == 5)
        try handle.close()
        expectError(.closed) { _ = try handle.size() }
        expectError(.closed) { try handle.write([1], at: 0) }
        expectError(.closed) { try handle.sync() }
        expectError(.closed) { try handle.close() }
        try fs.syncDirectory("/d")
        #expect(try fs.crash(mode: .keepSome, seed: 0).listDirectory("/d") == [])
    }

    // MARK: Hook and counters

    /// `FileHandle.writeZeros` (segment zero-filling): zeros over exactly the range, in
    /// writes of at most 1 MiB, a sync after each `syncingEvery` bytes but the last.
    @Test func writeZerosCoversTheRangeAndSyncsAsAsked() throws {
        let fs = SimulatedFileSystem()
        let seen = Mutex<[SimulatedOperationKind]>([])
        try fs.createDirectory("/d", intermediate: false)
        let handle = try fs.openFile("/d/f", mode: .createNew)
        let size = 3 << 20
        try handle.write([UInt8](repeating: 0xAB, count: size), at: 0)
        fs.setOperationHook { operation in seen.withLock { $0.append(operation.kind) } }
        try handle.writeZeros(100..<(size - 100), syncingEvery: 1 << 20)
        fs.setOperationHook(nil)
        let bytes = try handle.readAll()
        #expect(bytes.count == size)
        #expect(bytes[..<100].allSatisfy { $0 == 0xAB } && bytes[(size - 100)...].allSatisfy { $0 == 0xAB })
        #expect(bytes[100..<(size - 100)].allSatisfy { $0 == 0 })
        // 3 MiB - 200 bytes: three writes, a sync after the first two.
        #expect(seen.withLock { $0 } == [.write, .sync, .write, .sync, .write])

        seen.withLock { $0 = [] }
        fs.setOperationHook { operation in seen.withLock { $0.append(operation.kind) } }
        try handle.writeZeros(0..<size)
        fs.setOperationHook(nil)
        #expect(try handle.readAll().allSatisfy { $0 == 0 })
        #expect(seen.withLock { $0 } == [.write, .write, .write])
    }

    @Test func hookSeesEveryMutatingOperationInOrder() throws {
        let fs = SimulatedFileSystem()
        let seen = Mutex<[SimulatedOperation]>([])
        fs.setOperationHook { operation in seen.withLock { $0.append(operation) } }
        try fs.createDirectory("/d", intermediate: false)
        let handle = try fs.openFile("/d/f", mode: .createNew)
        try handle.write([1], at: 0)
        _ = try handle.readAll()
        _ = try fs.listDirectory("/d")
        _ = try fs.itemType("/d/f")
        try fs.openFile("/d/f", mode: .existing).close()
        try handle.allocate(offset: 0, length: 10)
        try handle.truncate(to: 5)
        try handle.sync()
        try handle.fullSync()
        try fs.syncDirectory("/d")
        try fs.rename("/d/f", to: "/d/g")
        try fs.removeFile("/d/g")
        try fs.lockFile("/d/L").unlock()
        try handle.close()

        let operations = seen.withLock { $0 }
        #expect(operations.map(\.kind) == [
            .createDirectory, .create, .write, .allocate, .truncate, .sync, .fullSync, .syncDirectory,
            .rename, .removeFile, .create,
        ])
        #expect(operations.map(\.index) == Array(0..<11))
        #expect(operations[8].path == "/d/f" && operations[8].destination == "/d/g")
        #expect(operations[2].path == "/d/f" && operations[2].destination == nil)
        #expect(fs.operationCount == 11)
        #expect(fs.syncCount == 3)

        fs.setOperationHook(nil)
        try fs.createDirectory("/e", intermediate: false)
        #expect(seen.withLock { $0.count } == 11)
    }

    @Test func hookRunsBeforeTheOperationAndBeforeFaults() throws {
        let fs = try fileSystemWithDirectory()
        try makeDurableFile(fs, "/d/f", [1])
        let handle = try fs.openFile("/d/f", mode: .existing)
        try handle.write([2], at: 1)
        let images = Mutex<[SimulatedImage]>([])
        let indices = Mutex<[Int]>([])
        fs.setOperationHook { [fs] operation in
            indices.withLock { $0.append(operation.index) }
            if operation.kind == .sync { images.withLock { $0.append(fs.snapshot()) } }
        }
        fs.injectFault(FaultRule(kinds: [.write], errno: EIO))
        let first = fs.operationCount
        expectError(.io) { try handle.write([3], at: 0) }  // hooked, then failed
        try handle.sync()
        #expect(indices.withLock { $0 } == [first, first + 1])
        let image = try #require(images.withLock { $0.first })
        #expect(image.operationCount == first + 2)  // the sync (index first + 1) was counted
        // The image was taken before the sync ran: the write of [2] is still pending in it.
        let restored = SimulatedFileSystem.restore(image, crash: .dropAllUnsynced, seed: 0)
        #expect(restored.currentContents("/d/f") == [1])
        #expect(fs.crash(mode: .dropAllUnsynced, seed: 0).currentContents("/d/f") == [1, 2])
        try handle.close()
    }

    @Test func syncDelaySleepsOutsideTheLock() throws {
        let fs = SimulatedFileSystem()
        fs.syncDelayMicroseconds = 100_000
        #expect(fs.syncDelayMicroseconds == 100_000)
        let handles = try (0..<4).map { try fs.openFile("/f\($0)", mode: .createNew) }
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            onThreads(4) { index in
                try? handles[index].sync()
            }
        }
        #expect(elapsed >= .milliseconds(100))
        #expect(elapsed < .milliseconds(350), "four 100 ms syncs on four threads ran one after another")
        #expect(fs.syncCount == 4)
        for handle in handles { try handle.close() }
    }

    // MARK: Concurrency and scale

    @Test func concurrentWritersOnDifferentFiles() throws {
        let fs = SimulatedFileSystem()
        try fs.createDirectory("/q", intermediate: false)
        try fs.syncDirectory("/")
        let snapshots = Mutex(0)
        fs.setOperationHook { [fs] operation in
            if operation.index % 97 == 0 {
                _ = fs.snapshot()
                snapshots.withLock { $0 += 1 }
            }
        }
        let failures = Mutex<[String]>([])
        let threads = 8, records = 400, recordSize = 100
        onThreads(threads) { thread in
            do {
                let handle = try fs.openFile("/q/f\(thread)", mode: .createNew)
                for record in 0..<records {
                    let byte = UInt8(truncatingIfNeeded: thread * 31 + record)
                    try handle.write(fill(byte, recordSize), at: record * recordSize)
                    if record % 50 == 49 { try handle.sync() }
                    _ = try handle.read(at: 0, count: recordSize)
                }
                try handle.close()
            } catch {
                failures.withLock { $0.append("\(thread): \(error)") }
            }
        }
        #expect(failures.withLock { $0 } == [])
        try fs.syncDirectory("/q")
        #expect(try fs.listDirectory("/q") == (0..<threads).map { "f\($0)" }.sorted())
        for thread in 0..<threads {
            var expected: [UInt8] = []
            for record in 0..<records {
                expected += fill(UInt8(truncatingIfNeeded: thread * 31 + record), recordSize)
            }
            // Compared outside #expect so a failure does not print 40 KB of bytes.
            let current = fs.currentContents("/q/f\(thread)") == expected
            let durable = fs.durableContents("/q/f\(thread)") == expected
            #expect(current && durable, "file \(thread): current \(current), durable \(durable)")
        }
        // createDirectory, syncDirectory; per thread: create, writes, syncs; syncDirectory.
        #expect(fs.operationCount == 2 + threads * (1 + records + records / 50) + 1)
        #expect(snapshots.withLock { $0 } > 0)
    }

    @Test func manySnapshotsDuringALargeWorkload() throws {
        // ~10 MB of small writes with a snapshot before every sync, as a crash test does.
        let fs = try fileSystemWithDirectory()
        let images = Mutex<[SimulatedImage]>([])
        fs.setOperationHook { [fs] operation in
            if operation.kind == .sync { images.withLock { $0.append(fs.snapshot()) } }
        }
        let handle = try fs.openFile("/d/log", mode: .createNew)
        try fs.syncDirectory("/d")
        let record = fill(0x5A, 500)
        let count = 20_000
        for index in 0..<count {
            try handle.write(record, at: index * record.count)
            if index % 10 == 9 { try handle.sync() }
        }
        try handle.close()
        let taken = images.withLock { $0 }
        #expect(taken.count == count / 10)
        // Crashing at the 1000th sync point loses nothing synced before it.
        let middle = SimulatedFileSystem.restore(taken[1000], crash: .tear, seed: 1)
        let contents = try #require(middle.currentContents("/d/log"))
        #expect(contents.count >= 1000 * 10 * record.count)
        #expect(contents.prefix(1000 * 10 * record.count).allSatisfy { $0 == 0x5A })
        #expect(fs.durableContents("/d/log")?.count == count * record.count)
    }
}
