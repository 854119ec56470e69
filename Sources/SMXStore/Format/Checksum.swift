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

/// A streaming XXH3-64 for data that arrives in pieces: a body's checksum while SMTP DATA
/// is received, or while a reader streams it back. Equal to ``Checksum/xxh3(_:seed:)`` of
/// the concatenated pieces.
public final class StreamingChecksum {
    private let state: OpaquePointer

    public init(seed: UInt64 = 0) {
        guard let state = XXH3_createState() else {
            fatalError("XXH3_createState: out of memory")
        }
        XXH3_64bits_reset_withSeed(state, seed)
        self.state = state
    }

    deinit { XXH3_freeState(state) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        _ = XXH3_64bits_update(state, bytes.baseAddress, bytes.count)
    }

    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public func digest() -> UInt64 {
        XXH3_64bits_digest(state)
    }
}
