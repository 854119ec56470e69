import CXXHash

/// XXH3-64, the checksum on every header, record, page and chunk (ARCHITECTURE.md rule 7).
///
/// The seed lets a checksum bind bytes to a context: the incoming log seeds record
/// checksums with the segment number, so a record left over from a recycled segment's
/// earlier life never verifies in its new one.
public enum Checksum {
    public static func xxh3(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        XXH3_64bits_withSeed(bytes.baseAddress, bytes.count, seed)
    }

    public static func xxh3(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 {
        bytes.withUnsafeBytes { xxh3($0, seed: seed) }
    }

    public static func xxh3<C: ContiguousBytes>(_ bytes: C, seed: UInt64 = 0) -> UInt64 {
        bytes.withUnsafeBytes { xxh3($0, seed: seed) }
    }
}

/// Byte containers whose storage can be borrowed as raw bytes. Stands in for Foundation's
/// protocol of the same name so the engine does not depend on Foundation for it.
public protocol ContiguousBytes {
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension Array: ContiguousBytes where Element == UInt8 {}
extension ArraySlice: ContiguousBytes where Element == UInt8 {}
