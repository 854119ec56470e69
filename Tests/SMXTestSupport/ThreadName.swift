#if canImport(Glibc)
import Glibc
#endif

/// The calling thread's name, read from `/proc/thread-self/comm` (Glibc's module does not
/// export `pthread_getname_np`): the engine names its threads (`smx-ibdb-0`,
/// `smx-ibdb-prep-0`, `smx-cdb-sync`, `smx-cdb-prep`, ...). An operation hook runs on the
/// thread that makes the operation, so a test can tell a call's own I/O from the stores'
/// background work with it. Empty if the name cannot be read.
public func currentThreadName() -> String {
    let fd = open("/proc/thread-self/comm", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 32)
    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    guard count > 0 else { return "" }
    var name = String(decoding: buffer[..<count], as: UTF8.self)
    if name.hasSuffix("\n") { name.removeLast() }
    return name
}
