#if canImport(Glibc)
import Glibc
#endif
import SMXStore

/// A fresh directory (mkdtemp) under `parent`, removed with everything in it by
/// ``remove()``.
struct TemporaryDirectory {
    let path: String

    init(under parent: String, prefix: String = "smx-bench-") throws {
        var template = Array(Path.join(parent, prefix + "XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else {
            throw StoreError.syscall("mkdtemp", errno: errno, path: parent)
        }
        path = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
    }

    func remove() {
        TemporaryDirectory.removeTree(path)
    }

    /// Removes `path` recursively (files, directories; symlinks are unlinked, not followed).
    static func removeTree(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if info.st_mode & S_IFMT == S_IFDIR {
            for name in (try? fileSystem.listDirectory(path)) ?? [] { removeTree(Path.join(path, name)) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}
