import Dispatch
import Foundation
import Glibc
import SMXStore
import Synchronization
import Testing

/// The real file layer against a fresh directory under /tmp per test.
@Suite struct POSIXFileSystemTests {
    let fs = POSIXFileSystem()

    // MARK: Opening

    @Test func openModesCreateOrRequireTheFile() throws {
        try withTemporaryDirectory { dir in
            let path = Path.join(dir, "f")
            expectError(.notFound) { _ = try fs.openFile(path, mode: .existing) }
            expectError(.notFound) { _ = try fs.openFile(path, mode: .readOnly) }

            let created = try fs.openFile(path, mode: .createNew)
            #expect(created.path == path)
            try created.write([1, 2, 3], at: 0)
            try created.close()
            expectError(.alreadyExists) { _ = try fs.openFile(path, mode: .createNew) }

            let reopened = try fs.openFile(path, mode: .createIfMissing)
            #expect(try reopened.readAll() == [1, 2, 3])
            try reopened.close()

            let fresh = try fs.openFile(Path.join(dir, "g"), mode: .createIfMissing)
            #expect(try fresh.size() == 0)
            try fresh.close()

            let existing = try fs.openFile(path, mode: .existing)
            try existing.write([9], at: 3)
            try existing.close()
            #expect(try permissions(path) & ~0o640 == 0)
        }
    }

    @Test func readOnlyHandlesReadButRefuseWrites() throws {
        try withTemporaryDirectory { dir in
            let path = Path.join(dir, "f")
            let writer = try fs.openFile(path, mode: .createNew)
            try writer.write([1, 2, 3, 4], at: 0)
            try writer.close()

            let reader = try fs.openFile(path, mode: .readOnly)
            #expect(try reader.readAll() == [1, 2, 3, 4])
            let error = expectError(.io) { try reader.write([0], at: 0) }
            #expect(error?.errno == EBADF)
            expectError(.io) { try reader.truncate(to: 0) }
            expectError(.io) { try reader.allocate(offset: 0, length: 4096) }
            #expect(try reader.readAll() == [1, 2, 3, 4])
            try reader.close()
        }
    }

    @Test func symlinksAreNeverOpened() throws {
        try withTemporaryDirectory { dir in
            let target = Path.join(dir, "target")
            let link = Path.join(dir, "link")
            let file = try fs.openFile(target, mode: .createNew)
            try file.write([7], at: 0)
            try file.close()
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)

            for mode in [OpenMode.existing, .readOnly, .createIfMissing] {
                let error = expectError(.io) { _ = try fs.openFile(link, mode: mode) }
                #expect(error?.errno == ELOOP)
            }
            expectError(.alreadyExists) { _ = try fs.openFile(link, mode: .createNew) }
            let lockError = expectError(.io) { _ = try fs.lockFile(link) }
            #expect(lockError?.errno == ELOOP)
            #expect(try fs.itemType(link) == .other)
            let unchanged = try fs.openFile(target, mode: .readOnly)
            #expect(try unchanged.readAll() == [7])
            try unchanged.close()
        }
    }

    @Test func directoriesAndBadPathsAreNotOpenedAsFiles() throws {
        try withTemporaryDirectory { dir in
            for mode in [OpenMode.existing, .readOnly, .createIfMissing] {
                let error = expectError(.io) { _ = try fs.openFile(dir, mode: mode) }
                #expect(error?.errno == EISDIR)
            }
            expectError(.invalidArgument) {
                _ = try fs.openFile(Path.join(dir, "a\u{0}b"), mode: .createNew)
            }
            let names = try fs.listDirectory(dir)
            #expect(names == [])
        }
    }

    // MARK: Data

    @Test func writesAllAndReadsBackOneMebibyteAtOddOffsets() throws {
        try withTemporaryDirectory { dir in
            let path = Path.join(dir, "data")
            let count = 1 << 20
            let start = 12_345
            let pattern = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }

            let file = try fs.openFile(path, mode: .createNew)
            try file.write(pattern, at: start)
            #expect(try file.size() == start + count)
            try file.sync()
            try file.close()

            let reader = try fs.openFile(path, mode: .readOnly)
            let whole = try reader.readAll()
            #expect(whole.count == start + count)
            #expect(whole[..<start].allSatisfy { $0 == 0 })
            #expect(Array(whole[start...]) == pattern)
            for (offset, length) in [(1, 77_777), (start + 999, 300_001), (start + 524_287, 3)] {
                let expected = Array(whole[offset..<(offset + length)])
                #expect(try reader.read(at: offset, count: length) == expected)
            }
            #expect(try reader.read(at: start + count - 7, count: 100) == Array(pattern.suffix(7)))
            #expect(try reader.read(at: start + count, count: 100) == [])
            #expect(try reader.read(at: start + count + 5_000, count: 1) == [])
            try reader.close()
        }
    }

    @Test func overwritesInPlace() throws {
        try withTemporaryDirectory { dir in
            let file = try fs.openFile(Path.join(dir, "f"), mode: .createNew)
            try file.write([UInt8](repeating: 1, count: 10), at: 0)
            try file.write([2, 2, 2], at: 3)
            #expect(try file.readAll() == [1, 1, 1, 2, 2, 2, 1, 1, 1, 1])
            try file.write([], at: 100)
            #expect(try file.size() == 10)
            try file.close()
        }
    }

    @Test func badRangesAreRefused() throws {
        try withTemporaryDirectory { dir in
            let file = try fs.openFile(Path.join(dir, "f"), mode: .createNew)
            expectError(.invalidArgument) { try file.write([1], at: -1) }
            expectError(.invalidArgument) { _ = try file.read(at: Int.max, count: 2) }
            expectError(.invalidArgument) { try file.allocate(offset: 0, length: -1) }
            expectError(.invalidArgument) { try file.allocate(offset: Int.max, length: 1) }
            expectError(.invalidArgument) { try file.truncate(to: -1) }
            #expect(try file.size() == 0)
            try file.close()
        }
    }

    @Test func truncateAndAllocateSetTheSize() throws {
        try withTemporaryDirectory { dir in
            let file = try fs.openFile(Path.join(dir, "f"), mode: .createNew)
            #expect(try file.size() == 0)
            let bytes = (0..<100).map { UInt8($0 + 1) }
            try file.write(bytes, at: 0)
            #expect(try file.size() == 100)

            try file.truncate(to: 10)
            #expect(try file.readAll() == Array(bytes[..<10]))
            try file.truncate(to: 50)
            #expect(try file.readAll() == Array(bytes[..<10]) + [UInt8](repeating: 0, count: 40))

            try file.allocate(offset: 40, length: 3 * 4096 + 1)
            let allocatedEnd = 40 + 3 * 4096 + 1
            #expect(try file.size() == allocatedEnd)
            let content = try file.readAll()
            #expect(Array(content[..<10]) == Array(bytes[..<10]))
            #expect(content[10...].allSatisfy { $0 == 0 })

            try file.allocate(offset: 0, length: 5)
            try file.allocate(offset: 7, length: 0)
            #expect(try file.size() == allocatedEnd)
            #expect(try file.read(at: 0, count: 10) == Array(bytes[..<10]))

            try file.write([0xAB], at: allocatedEnd - 1)
            #expect(try file.size() == allocatedEnd)
            try file.truncate(to: 0)
            #expect(try file.size() == 0)
            try file.close()
        }
    }

    @Test func syncsSucceed() throws {
        try withTemporaryDirectory { dir in
            let file = try fs.openFile(Path.join(dir, "f"), mode: .createNew)
            try file.write([1, 2, 3], at: 0)
            try file.sync()
            try file.allocate(offset: 0, length: 8192)
            try file.fullSync()
            try file.close()
            try fs.syncDirectory(dir)
            try fs.syncDirectory(dir + "/")
            expectError(.notFound) { try fs.syncDirectory(Path.join(dir, "missing")) }
            let error = expectError(.io) { try fs.syncDirectory(Path.join(dir, "f")) }
            #expect(error?.errno == ENOTDIR)
        }
    }

    // MARK: Names

    @Test func renameReplacesTheDestination() throws {
        try withTemporaryDirectory { dir in
            let from = Path.join(dir, "from")
            let to = Path.join(dir, "to")
            try write([1], to: from)
            try write([2, 2], to: to)
            try fs.rename(from, to: to)
            #expect(try fs.itemType(from) == nil)
            #expect(try contents(of: to) == [1])
            #expect(try fs.listDirectory(dir) == ["to"])

            let error = expectError(.notFound) { try fs.rename(from, to: to) }
            #expect(error?.path == from)
            #expect(error?.message.contains(to) == true)
        }
    }

    @Test func removeFileUnlinks() throws {
        try withTemporaryDirectory { dir in
            let path = Path.join(dir, "f")
            try write([1], to: path)
            try fs.removeFile(path)
            #expect(try fs.itemType(path) == nil)
            expectError(.notFound) { try fs.removeFile(path) }
            try fs.createDirectory(Path.join(dir, "d"), intermediate: false)
            expectError(.io) { try fs.removeFile(Path.join(dir, "d")) }
        }
    }

    @Test func listDirectoryIsSortedWithoutDotEntries() throws {
        try withTemporaryDirectory { dir in
            #expect(try fs.listDirectory(dir) == [])
            for name in ["b", "a10", "C", "a", "a2", "é"] {
                try write([], to: Path.join(dir, name))
            }
            try fs.createDirectory(Path.join(dir, "sub"), intermediate: false)
            #expect(try fs.listDirectory(dir) == ["C", "a", "a10", "a2", "b", "sub", "é"])
            expectError(.notFound) { _ = try fs.listDirectory(Path.join(dir, "missing")) }
        }
    }

    @Test func itemTypeUsesLstat() throws {
        try withTemporaryDirectory { dir in
            let file = Path.join(dir, "file")
            let sub = Path.join(dir, "sub")
            try write([1], to: file)
            try fs.createDirectory(sub, intermediate: false)
            let fileLink = Path.join(dir, "fileLink")
            let dirLink = Path.join(dir, "dirLink")
            let dangling = Path.join(dir, "dangling")
            try FileManager.default.createSymbolicLink(atPath: fileLink, withDestinationPath: file)
            try FileManager.default.createSymbolicLink(atPath: dirLink, withDestinationPath: sub)
            try FileManager.default.createSymbolicLink(
                atPath: dangling, withDestinationPath: Path.join(dir, "nowhere"))

            #expect(try fs.itemType(file) == .file)
            #expect(try fs.itemType(sub) == .directory)
            #expect(try fs.itemType(dir + "/") == .directory)
            #expect(try fs.itemType(fileLink) == .other)
            #expect(try fs.itemType(dirLink) == .other)
            #expect(try fs.itemType(dangling) == .other)
            #expect(try fs.itemType(Path.join(dir, "missing")) == nil)
            #expect(try fs.itemType(Path.join(dir, "missing", "child")) == nil)
            #expect(try fs.itemType(Path.join(file, "child")) == nil)
        }
    }

    @Test func createDirectoryMakesParentsAndToleratesExisting() throws {
        try withTemporaryDirectory { dir in
            let nested = Path.join(dir, "a", "b", "c")
            expectError(.notFound) { try fs.createDirectory(nested, intermediate: false) }
            try fs.createDirectory(nested, intermediate: true)
            #expect(try fs.itemType(nested) == .directory)
            #expect(try permissions(nested) & ~0o750 == 0)
            try fs.createDirectory(nested, intermediate: true)
            try fs.createDirectory(nested, intermediate: false)
            try fs.createDirectory(Path.join(dir, "a", "b") + "/", intermediate: false)
            try fs.createDirectory(Path.join(dir, "x", "y") + "//", intermediate: true)
            #expect(try fs.itemType(Path.join(dir, "x", "y")) == .directory)

            let file = Path.join(dir, "file")
            try write([1], to: file)
            expectError(.alreadyExists) { try fs.createDirectory(file, intermediate: false) }
            expectError(.alreadyExists) { try fs.createDirectory(file, intermediate: true) }
            let error = expectError(.io) {
                try fs.createDirectory(Path.join(file, "child"), intermediate: true)
            }
            #expect(error?.errno == ENOTDIR)

            let link = Path.join(dir, "link")
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: nested)
            try fs.createDirectory(link, intermediate: false)
            #expect(try fs.listDirectory(dir) == ["a", "file", "link", "x"])
        }
    }

    // MARK: Locks

    @Test func lockFileIsExclusiveUntilUnlocked() throws {
        try withTemporaryDirectory { dir in
            let path = Path.join(dir, "lock")
            let lock = try fs.lockFile(path)
            #expect(try fs.itemType(path) == .file)
            let error = expectError(.locked) { _ = try fs.lockFile(path) }
            #expect(error?.message.contains(path) == true)
            #expect(error?.path == path)
            #expect(error?.errno == EWOULDBLOCK)

            lock.unlock()
            lock.unlock()
            let again = try fs.lockFile(path)
            expectError(.locked) { _ = try fs.lockFile(path) }
            again.unlock()

            // A dropped lock is released by deinit.
            _ = try fs.lockFile(path)
            try fs.lockFile(path).unlock()
        }
    }

    // MARK: Lifetime

    @Test func operationsAfterCloseThrowClosed() throws {
        try withTemporaryDirectory { dir in
            let path = Path.join(dir, "f")
            let file = try fs.openFile(path, mode: .createNew)
            try file.write([1, 2, 3], at: 0)
            try file.close()

            var buffer = [UInt8](repeating: 0, count: 4)
            let operations: [(String, () throws -> Void)] = [
                ("size", { _ = try file.size() }),
                ("read", { _ = try buffer.withUnsafeMutableBytes { try file.read(into: $0, at: 0) } }),
                ("write", { try file.write([1], at: 0) }),
                ("empty write", { try file.write([], at: 0) }),
                ("sync", { try file.sync() }),
                ("fullSync", { try file.fullSync() }),
                ("allocate", { try file.allocate(offset: 0, length: 1) }),
                ("truncate", { try file.truncate(to: 0) }),
                ("close", { try file.close() }),
                ("close again", { try file.close() }),
            ]
            for (name, operation) in operations {
                let error = expectError(.closed, Comment(rawValue: name), operation)
                #expect(error?.path == path)
                #expect(error?.errno == EBADF)
            }
            #expect(try contents(of: path) == [1, 2, 3])
        }
    }

    @Test func closeWhileOtherThreadsUseTheHandle() throws {
        final class Counters: Sendable {
            let operations = Atomic<Int>(0)
            let unexpected = Atomic<Int>(0)
        }
        try withTemporaryDirectory { dir in
            let file = try fs.openFile(Path.join(dir, "f"), mode: .createNew)
            try file.write([UInt8](repeating: 5, count: 4096), at: 0)
            let counters = Counters()
            let finished = DispatchSemaphore(value: 0)
            let threads = 4
            for index in 0..<threads {
                Thread.detachNewThread {
                    defer { finished.signal() }
                    // Bounded so that a close that never takes effect fails instead of hanging.
                    for _ in 0..<1_000_000 {
                        do {
                            let bytes = try file.read(at: 0, count: 4096)
                            try file.write([5], at: index)
                            if bytes.count != 4096 || bytes.contains(where: { $0 != 5 }) {
                                counters.unexpected.add(1, ordering: .relaxed)
                            }
                            counters.operations.add(1, ordering: .relaxed)
                        } catch let error as StoreError where error.code == .closed {
                            return
                        } catch {
                            counters.unexpected.add(1, ordering: .relaxed)
                            return
                        }
                    }
                    counters.unexpected.add(1, ordering: .relaxed)
                }
            }
            while counters.operations.load(ordering: .relaxed) < 1_000 { sched_yield() }
            try file.close()
            for _ in 0..<threads { finished.wait() }
            #expect(counters.unexpected.load(ordering: .relaxed) == 0)
            expectError(.closed) { _ = try file.size() }
        }
    }

    @Test func concurrentPositionalWritesAndReads() throws {
        try withTemporaryDirectory { dir in
            let file = try fs.openFile(Path.join(dir, "f"), mode: .createNew)
            let threads = 8
            let blocksPerThread = 32
            let block = 4096
            let failures = Atomic<Int>(0)
            let offset: @Sendable (Int, Int) -> Int = { thread, index in (index * threads + thread) * block + 1 }
            DispatchQueue.concurrentPerform(iterations: threads) { thread in
                let bytes = [UInt8](repeating: UInt8(thread + 1), count: block)
                for index in 0..<blocksPerThread {
                    do { try file.write(bytes, at: offset(thread, index)) } catch {
                        failures.add(1, ordering: .relaxed)
                    }
                }
            }
            try file.sync()
            #expect(try file.size() == threads * blocksPerThread * block + 1)
            DispatchQueue.concurrentPerform(iterations: threads) { thread in
                for index in 0..<blocksPerThread {
                    let bytes = try? file.read(at: offset(thread, index), count: block)
                    if bytes != [UInt8](repeating: UInt8(thread + 1), count: block) {
                        failures.add(1, ordering: .relaxed)
                    }
                }
            }
            #expect(failures.load(ordering: .relaxed) == 0)
            try file.close()
        }
    }

    // MARK: Errors

    @Test func errorsNameThePathAndErrno() throws {
        try withTemporaryDirectory { dir in
            let path = Path.join(dir, "missing")
            let error = expectError(.notFound) { _ = try fs.openFile(path, mode: .existing) }
            #expect(error?.path == path)
            #expect(error?.errno == ENOENT)
            let description = error.map(String.init(describing:)) ?? ""
            #expect(description.contains(path))
            #expect(description.contains("errno \(ENOENT)"))
            #expect(description.contains("open"))
        }
    }

    // MARK: Helpers

    private func write(_ bytes: [UInt8], to path: String) throws {
        let file = try fs.openFile(path, mode: .createNew)
        try file.write(bytes, at: 0)
        try file.close()
    }

    private func contents(of path: String) throws -> [UInt8] {
        let file = try fs.openFile(path, mode: .readOnly)
        defer { try? file.close() }
        return try file.readAll()
    }
}

/// The permission bits of `path` (lstat).
private func permissions(_ path: String) throws -> Int {
    var status = stat()
    try #require(lstat(path, &status) == 0)
    return Int(status.st_mode) & 0o7777
}

/// Runs `body` with a new directory under /tmp and removes the directory afterwards.
private func withTemporaryDirectory(_ body: (String) throws -> Void) throws {
    var template = Array("/tmp/smx-posix-test-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    let dir = String(cString: try #require(made))
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try body(dir)
}

/// Expects `body` to throw a ``StoreError`` with `code`, and returns that error.
@discardableResult
private func expectError(
    _ code: StoreError.Code,
    _ comment: Comment? = nil,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) -> StoreError? {
    let error = #expect(throws: StoreError.self, comment, sourceLocation: sourceLocation) {
        try body()
    }
    #expect(error?.code == code, comment, sourceLocation: sourceLocation)
    return error
}
