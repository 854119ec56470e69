#if canImport(Glibc)
import Glibc
#endif

/// `memmove` for the page code (which does not import Glibc itself).
@inline(__always)
func memmoveBytes(_ destination: UnsafeMutableRawPointer, _ source: UnsafeRawPointer, _ count: Int) {
    memmove(destination, source, count)
}
