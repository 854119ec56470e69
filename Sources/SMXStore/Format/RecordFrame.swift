/// The framing every log-structured smx file uses around a record payload.
///
/// ```
/// offset size field
///      0    8 checksum   XXH3-64 over bytes 8..<(24 + length), seeded with the file's
///                        segment number
///      8    4 length     u32 LE, payload bytes
///     12    1 type       record type (meaning is the store's; 0 is never used)
///     13    1 flags      bit 0: last record of a write batch; other bits 0
///     14    2 reserved   0
///     16    8 sequence   u64 LE, strictly increasing in commit order
///     24    n payload
///   24+n    p padding    zero bytes up to the next multiple of 8
/// ```
///
/// Twenty-four zero bytes where a header should be mark the end of written data in a
/// preallocated file.
public enum RecordFrame {
    public static let flagBatchEnd: UInt8 = 1

    /// Appends a framed record to `buffer`.
    public static func append(
        to buffer: inout [UInt8],
        type: UInt8,
        flags: UInt8,
        sequence: UInt64,
        payload: UnsafeRawBufferPointer,
        seed: UInt64
    ) {
        precondition(type != 0, "record type 0 is reserved")
        let start = buffer.count
        let total = FormatConstants.aligned(FormatConstants.recordHeaderSize + payload.count)
        buffer.append(contentsOf: repeatElement(0, count: total))
        buffer.withUnsafeMutableBytes { all in
            let p = UnsafeMutableRawBufferPointer(rebasing: all[start..<(start + total)])
            LittleEndian.store(UInt32(payload.count), p, 8)
            p[12] = type
            p[13] = flags
            LittleEndian.store(sequence, p, 16)
            if payload.count > 0 {
                UnsafeMutableRawBufferPointer(rebasing: p[24..<(24 + payload.count)])
                    .copyMemory(from: payload)
            }
            let covered = UnsafeRawBufferPointer(rebasing: p[8..<(24 + payload.count)])
            LittleEndian.store(Checksum.xxh3(covered, seed: seed), p, 0)
        }
    }

    public static func append(
        to buffer: inout [UInt8],
        type: UInt8,
        flags: UInt8,
        sequence: UInt64,
        payload: [UInt8],
        seed: UInt64
    ) {
        payload.withUnsafeBytes {
            append(to: &buffer, type: type, flags: flags, sequence: sequence, payload: $0, seed: seed)
        }
    }

    /// Bytes a record with `payloadCount` payload bytes occupies, padding included.
    @inline(__always)
    public static func size(payloadCount: Int) -> Int {
        FormatConstants.aligned(FormatConstants.recordHeaderSize + payloadCount)
    }

    /// A decoded frame header; the payload is `bytes[payloadStart ..< payloadStart + length]`.
    public struct Header: Equatable, Sendable {
        public var type: UInt8
        public var flags: UInt8
        public var sequence: UInt64
        public var length: Int
        public var checksum: UInt64
        public var payloadOffset: Int
        /// Offset of the next record (after padding).
        public var nextOffset: Int

        public var isBatchEnd: Bool { flags & RecordFrame.flagBatchEnd != 0 }
    }

    /// Why a frame did not decode.
    public enum Problem: Equatable, Sendable, CustomStringConvertible {
        /// Fewer bytes remain than the header or the payload needs.
        case truncated
        /// The length field exceeds the limit or the remaining bytes of the file.
        case badLength(UInt32)
        /// Reserved bits or fields are not zero, or the type is 0.
        case badHeader
        /// The checksum does not match (torn write, bit rot, stale record of a recycled file).
        case checksumMismatch

        public var description: String {
            switch self {
            case .truncated: "truncated record"
            case .badLength(let n): "implausible record length \(n)"
            case .badHeader: "malformed record header"
            case .checksumMismatch: "record checksum mismatch"
            }
        }
    }

    public enum Decoded: Equatable, Sendable {
        case record(Header)
        /// An all-zero header: the end of written data in a preallocated file.
        case zeros
        case damaged(Problem)
    }

    /// Decodes the frame at `offset` of `bytes` (which may be a whole segment or a window of
    /// it), never reading outside `bytes`. `maxPayload` bounds the length field.
    public static func decode(
        _ bytes: UnsafeRawBufferPointer,
        at offset: Int,
        seed: UInt64,
        maxPayload: Int = FormatConstants.maxRecordPayload
    ) -> Decoded {
        let headerSize = FormatConstants.recordHeaderSize
        guard offset >= 0, offset <= bytes.count, bytes.count - offset >= headerSize else {
            return .damaged(.truncated)
        }
        let checksum = LittleEndian.u64(bytes, offset)
        let length = LittleEndian.u32(bytes, offset + 8)
        let type = bytes[offset + 12]
        let flags = bytes[offset + 13]
        let reserved = LittleEndian.u16(bytes, offset + 14)
        let sequence = LittleEndian.u64(bytes, offset + 16)
        if checksum == 0 && length == 0 && type == 0 && flags == 0 && reserved == 0 && sequence == 0 {
            return .zeros
        }
        guard type != 0, reserved == 0, flags & ~RecordFrame.flagBatchEnd == 0 else {
            return .damaged(.badHeader)
        }
        guard Int(length) <= maxPayload else { return .damaged(.badLength(length)) }
        let payloadEnd = offset + headerSize + Int(length)
        guard payloadEnd <= bytes.count else {
            return .damaged(.truncated)
        }
        let covered = UnsafeRawBufferPointer(rebasing: bytes[(offset + 8)..<payloadEnd])
        guard Checksum.xxh3(covered, seed: seed) == checksum else {
            return .damaged(.checksumMismatch)
        }
        return .record(Header(
            type: type,
            flags: flags,
            sequence: sequence,
            length: Int(length),
            checksum: checksum,
            payloadOffset: offset + headerSize,
            nextOffset: offset + FormatConstants.aligned(headerSize + Int(length))
        ))
    }
}
