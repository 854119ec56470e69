import Foundation
import Glibc
import SMXStore
import SMXTestSupport
import Testing

/// Byte-range locks (`FileHandle.tryLockRange`), the same checks against the kernel's
/// open-file-description locks and against the simulator, so the simulator stays true to
/// what it stands for.
@Suite struct RangeLockTests {
    enum Kind: String, CaseIterable, Sendable { case posix, simulated }

    /// A file system and a directory in it, removed afterwards.
    static func withFileSystem(_ kind: Kind, _ body: (any FileSystem, String) throws -> Void) throws {
        switch kind {
        case .simulated:
            let fs = SimulatedFileSystem()
            try fs.createDirectory("/d", intermediate: false)
            try body(fs, "/d")
        case .posix:
            var template = Array("/tmp/readers-rangelock-XXXXXX".utf8CString)
            let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
            let dir = String(cString: try #require(made))
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try body(POSIXFileSystem(), dir)
        }
    }

    @Test(arguments: Kind.allCases)
    func twoHandlesConflictAndOwnLocksDoNot(kind: Kind) throws {
        try Self.withFileSystem(kind) { fs, dir in
            let path = Path.join(dir, "table")
            let a = try fs.openFile(path, mode: .createIfMissing)
            let b = try fs.openFile(path, mode: .existing)
            defer { try? a.close(); try? b.close() }

            // Ranges past the end of an empty file lock like any other.
            #expect(try a.tryLockRange(offset: 64, length: 32, kind: .exclusive))
            #expect(try a.tryLockRange(offset: 64, length: 32, kind: .exclusive), "own lock: taking it again succeeds")
            #expect(try !a.isRangeLockedByOthers(offset: 0, length: 0, kind: .exclusive), "own locks never count")
            #expect(try b.isRangeLockedByOthers(offset: 90, length: 10, kind: .shared))
            #expect(try !b.isRangeLockedByOthers(offset: 96, length: 32, kind: .exclusive), "adjacent ranges do not overlap")
            #expect(try !b.tryLockRange(offset: 95, length: 2, kind: .shared))
            #expect(try b.tryLockRange(offset: 96, length: 32, kind: .exclusive))
            #expect(try !a.tryLockRange(offset: 0, length: 0, kind: .exclusive), "to-the-end range overlaps b's lock")

            // Shared locks share; an exclusive one conflicts with them.
            #expect(try a.tryLockRange(offset: 0, length: 8, kind: .shared))
            #expect(try b.tryLockRange(offset: 4, length: 8, kind: .shared))
            #expect(try !b.isRangeLockedByOthers(offset: 0, length: 8, kind: .shared))
            #expect(try b.isRangeLockedByOthers(offset: 0, length: 8, kind: .exclusive))
            #expect(try !b.tryLockRange(offset: 0, length: 8, kind: .exclusive))

            // Unlocking part of a lock keeps the rest.
            try a.unlockRange(offset: 64, length: 16)
            #expect(try !b.isRangeLockedByOthers(offset: 64, length: 16, kind: .exclusive))
            #expect(try b.isRangeLockedByOthers(offset: 80, length: 16, kind: .exclusive))
            try a.unlockRange(offset: 0, length: 0)
            #expect(try !b.isRangeLockedByOthers(offset: 0, length: 0, kind: .exclusive))
            try a.unlockRange(offset: 0, length: 0)  // nothing held: nothing happens
        }
    }

    @Test(arguments: Kind.allCases)
    func closingAHandleReleasesItsLocks(kind: Kind) throws {
        try Self.withFileSystem(kind) { fs, dir in
            let path = Path.join(dir, "table")
            let a = try fs.openFile(path, mode: .createIfMissing)
            let b = try fs.openFile(path, mode: .existing)
            defer { try? b.close() }
            #expect(try a.tryLockRange(offset: 0, length: 32, kind: .exclusive))
            #expect(try a.tryLockRange(offset: 100, length: 0, kind: .shared))
            #expect(try b.isRangeLockedByOthers(offset: 0, length: 0, kind: .shared))
            try a.close()  // what the kernel does when a process dies
            #expect(try !b.isRangeLockedByOthers(offset: 0, length: 0, kind: .exclusive))
            #expect(try b.tryLockRange(offset: 0, length: 0, kind: .exclusive))
            #expect(throws: StoreError.self) { _ = try a.tryLockRange(offset: 0, length: 1, kind: .shared) }
        }
    }

    @Test(arguments: Kind.allCases)
    func exclusiveLocksNeedWriteAccessAndRangesMustBeValid(kind: Kind) throws {
        try Self.withFileSystem(kind) { fs, dir in
            let path = Path.join(dir, "table")
            try fs.openFile(path, mode: .createIfMissing).close()
            let reader = try fs.openFile(path, mode: .readOnly)
            defer { try? reader.close() }
            let error = #expect(throws: StoreError.self) { _ = try reader.tryLockRange(offset: 0, length: 1, kind: .exclusive) }
            #expect(error?.errno == EBADF)
            #expect(try reader.tryLockRange(offset: 0, length: 1, kind: .shared))
            let bad = #expect(throws: StoreError.self) { _ = try reader.tryLockRange(offset: -1, length: 1, kind: .shared) }
            #expect(bad?.code == .invalidArgument)
        }
    }

    @Test func simulatedLocksAreGoneAfterACrashAndReleasableAfterPowerOff() throws {
        let fs = SimulatedFileSystem()
        let handle = try fs.openFile("/table", mode: .createIfMissing)
        try fs.syncDirectory("/")
        #expect(try handle.tryLockRange(offset: 0, length: 0, kind: .exclusive))
        let crashed = fs.crash(mode: .dropAllUnsynced, seed: 1)
        let other = try crashed.openFile("/table", mode: .existing)
        #expect(try !other.isRangeLockedByOthers(offset: 0, length: 0, kind: .exclusive))
        fs.powerOff()
        #expect(throws: StoreError.self) { _ = try handle.tryLockRange(offset: 0, length: 1, kind: .shared) }
        try handle.unlockRange(offset: 0, length: 0)
    }
}
