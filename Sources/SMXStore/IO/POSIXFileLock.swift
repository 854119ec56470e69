import Glibc
import Synchronization

/// An exclusive `flock` held by ``POSIXFileSystem/lockFile(_:)``.
///
/// The lock belongs to the open file description, so it lasts while this object keeps its
/// descriptor open: until ``unlock()``, until the object is deallocated, or until the
/// process ends. Descriptors are opened with `O_CLOEXEC`, so child processes do not
/// inherit it.
final class POSIXFileLock: FileLock, Sendable {
    let path: String
    /// The locked descriptor, or -1 once unlocked.
    private let descriptor: Atomic<Int32>

    /// Takes ownership of `descriptor`, which already holds the lock.
    init(descriptor: Int32, path: String) {
        self.descriptor = Atomic(descriptor)
        self.path = path
    }

    deinit {
        unlock()
    }

    /// Releases the lock and closes the descriptor. Calling it again does nothing. Errors
    /// are ignored: closing the descriptor releases the lock whatever `flock` answered.
    func unlock() {
        let fd = descriptor.exchange(-1, ordering: .acquiringAndReleasing)
        guard fd >= 0 else { return }
        try? Syscalls.flock(fd, LOCK_UN, path: path)
        try? Syscalls.close(fd, path: path)
    }
}
