/// Reads what ``ByteWriter`` wrote, with every read bounds-checked: running past the end,
/// an over-long varint or an absurd length is a ``StoreError/Code/corrupted`` error, never
/// a trap. Bytes on disk are hostile input (ARCHITECTURE.md rule 7).
public struct ByteReader {
    public let bytes: ArraySlice<UInt8>
    public private(set) var position: Int
    /// What is being decoded, for error messages ("ibdb transaction record").
    public let context: String

    public init(_ bytes: [UInt8], context: String) {
        self.init(bytes[...], context: context)
    }

    public init(_ bytes: ArraySlice<UInt8>, context: String) {
        self.bytes = bytes
        self.position = bytes.startIndex
        self.context = context
    }

    public var remaining: Int { bytes.endIndex - position }
    public var isAtEnd: Bool { position >= bytes.endIndex }

    public func corrupted(_ what: @autoclosure () -> String) -> StoreError {
        StoreError(.corrupted, "\(context): \(what()) at byte \(position - bytes.startIndex)")
    }

    private mutating func need(_ count: Int, _ what: @autoclosure () -> String) throws {
        guard count >= 0, remaining >= count else {
            throw corrupted("truncated \(what()) (need \(count), have \(remaining))")
        }
    }

    public mutating func u8(_ what: @autoclosure () -> String = "u8") throws -> UInt8 {
        try need(1, what())
        defer { position += 1 }
        return bytes[position]
    }

    /// A little-endian unsigned integer of `T`'s width.
    private mutating func littleEndian<T: FixedWidthInteger & UnsignedInteger>(
        _ type: T.Type, _ what: @autoclosure () -> String
    ) throws -> T {
        let width = T.bitWidth / 8
        try need(width, what())
        var value: T = 0
        for i in 0..<width { value |= T(bytes[position + i]) << (i * 8) }
        position += width
        return value
    }

    public mutating func u16(_ what: @autoclosure () -> String = "u16") throws -> UInt16 {
        try littleEndian(UInt16.self, what())
    }

    public mutating func u32(_ what: @autoclosure () -> String = "u32") throws -> UInt32 {
        try littleEndian(UInt32.self, what())
    }

    public mutating func u64(_ what: @autoclosure () -> String = "u64") throws -> UInt64 {
        try littleEndian(UInt64.self, what())
    }

    public mutating func varint(_ what: @autoclosure () -> String = "varint") throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < bytes.endIndex else { throw corrupted("truncated \(what())") }
            let byte = bytes[position]
            position += 1
            if shift == 63 && byte > 1 { throw corrupted("\(what()) overflows 64 bits") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw corrupted("\(what()) is longer than 10 bytes") }
        }
    }

    /// A varint that must fit in `Int` and be at most `limit`.
    public mutating func count(_ what: @autoclosure () -> String, limit: Int) throws -> Int {
        let value = try varint(what())
        guard value <= UInt64(limit) else { throw corrupted("\(what()) \(value) exceeds \(limit)") }
        return Int(value)
    }

    public mutating func raw(_ count: Int, _ what: @autoclosure () -> String = "bytes") throws -> [UInt8] {
        try need(count, what())
        defer { position += count }
        return Array(bytes[position..<position + count])
    }

    /// A varint length (at most `limit` and at most what is left) followed by the bytes.
    public mutating func lengthPrefixed(_ what: @autoclosure () -> String, limit: Int = Int.max) throws -> [UInt8] {
        let length = try count("\(what()) length", limit: min(limit, remaining))
        return try raw(length, what())
    }

    public mutating func expectEnd() throws {
        guard isAtEnd else { throw corrupted("\(remaining) trailing bytes") }
    }
}
