/// Appends little-endian fixed-width integers, LEB128 varints and length-prefixed byte
/// strings to a growing buffer. The encoding side of every on-disk record.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public var count: Int { bytes.count }

    /// Empties the buffer, keeping its storage for the next use.
    public mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    public mutating func u8(_ value: UInt8) { bytes.append(value) }

    public mutating func u16(_ value: UInt16) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func u32(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func u64(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Unsigned LEB128: 7 bits per byte, low groups first, high bit set on all but the last.
    public mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    public mutating func varint(_ value: Int) {
        precondition(value >= 0, "varint takes non-negative values")
        varint(UInt64(value))
    }

    /// A varint length followed by the bytes.
    public mutating func lengthPrefixed(_ value: [UInt8]) {
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    public mutating func lengthPrefixed(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            varint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    public mutating func raw(_ value: [UInt8]) { bytes.append(contentsOf: value) }

    public mutating func raw(_ value: UnsafeRawBufferPointer) { bytes.append(contentsOf: value) }

    public mutating func zeros(_ count: Int) {
        bytes.append(contentsOf: repeatElement(0, count: count))
    }

    /// Overwrites 8 bytes at `offset` with `value`, little-endian (for checksums written
    /// after the bytes they cover).
    public mutating func patchU64(_ value: UInt64, at offset: Int) {
        for i in 0..<8 {
            bytes[offset + i] = UInt8(truncatingIfNeeded: value >> UInt64(i * 8))
        }
    }

    public mutating func patchU32(_ value: UInt32, at offset: Int) {
        for i in 0..<4 {
            bytes[offset + i] = UInt8(truncatingIfNeeded: value >> UInt32(i * 8))
        }
    }
}

/// Little-endian helpers over raw memory, for the hot decoding paths.
public enum LittleEndian {
    @inline(__always)
    public static func u16(_ p: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 {
        UInt16(p[offset]) | UInt16(p[offset + 1]) << 8
    }

    @inline(__always)
    public static func u32(_ p: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
        p.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian
    }

    @inline(__always)
    public static func u64(_ p: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
        p.loadUnaligned(fromByteOffset: offset, as: UInt64.self).littleEndian
    }

    @inline(__always)
    public static func store(_ value: UInt64, _ p: UnsafeMutableRawBufferPointer, _ offset: Int) {
        p.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt64.self)
    }

    @inline(__always)
    public static func store(_ value: UInt32, _ p: UnsafeMutableRawBufferPointer, _ offset: Int) {
        p.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self)
    }

    @inline(__always)
    public static func store(_ value: UInt16, _ p: UnsafeMutableRawBufferPointer, _ offset: Int) {
        p.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt16.self)
    }
}
