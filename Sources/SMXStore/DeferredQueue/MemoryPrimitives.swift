#if canImport(Glibc)
import Glibc
#endif

/// `memmove` and `memcmp` for the page code (which does not import Glibc itself).
@inline(__always)
func memmoveBytes(_ destination: UnsafeMutableRawPointer, _ source: UnsafeRawPointer, _ count: Int) {
    memmove(destination, source, count)
}

@inline(__always)
func memcmpBytes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Int32 {
    memcmp(a, b, count)
}
