/// Hand-made zstd frames (RFC 8878) for tests and fuzz seeds: raw and RLE blocks, any
/// announced content size, skippable frames, and deliberately wrong ones. The test support
/// target does not link libzstd, so these are written byte by byte; real compressed frames
/// come from ``BlobEncoder`` (see ``BlobAssembler/zstdPayloads(of:chunkSize:)``).
public enum ZstdFrame {
    public static let magic: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]

    /// One block of a frame.
    public enum Block {
        /// Bytes stored as they are.
        case raw([UInt8])
        /// `count` copies of `byte`.
        case rle(UInt8, count: Int)
        /// A block of type 2 (compressed) or 3 (reserved) with arbitrary contents.
        case typed(UInt8, [UInt8])
    }

    /// A single-segment frame: header announcing `contentSize` (nil: no content size
    /// field, which also drops the single-segment flag and adds a window descriptor),
    /// then `blocks`, the last one flagged last unless `lastFlag` is false.
    /// `checksumFlag` sets the content-checksum flag and appends `checksum` (4 bytes,
    /// which this builder cannot compute: use it for frames that must fail).
    public static func frame(
        contentSize: UInt64?,
        blocks: [Block],
        lastFlag: Bool = true,
        checksumFlag: Bool = false,
        checksum: UInt32 = 0
    ) -> [UInt8] {
        var bytes = magic
        var descriptor: UInt8 = checksumFlag ? 0x04 : 0
        var sizeField: [UInt8] = []
        if let size = contentSize {
            descriptor |= 0x20  // single segment: no window descriptor
            if size < 256 {
                sizeField = [UInt8(size)]
            } else if size < 65536 + 256 {
                descriptor |= 0x40
                sizeField = littleEndian(size - 256, width: 2)
            } else if size <= UInt64(UInt32.max) {
                descriptor |= 0x80
                sizeField = littleEndian(size, width: 4)
            } else {
                descriptor |= 0xC0
                sizeField = littleEndian(size, width: 8)
            }
            bytes.append(descriptor)
        } else {
            bytes.append(descriptor)
            bytes.append(0x50)  // window descriptor: 2^(10 + 10) = 1 MiB
        }
        bytes += sizeField
        for (i, block) in blocks.enumerated() {
            let last: UInt32 = lastFlag && i == blocks.count - 1 ? 1 : 0
            switch block {
            case .raw(let data):
                bytes += littleEndian(UInt64(last | 0 << 1 | UInt32(data.count) << 3), width: 3)
                bytes += data
            case .rle(let byte, let count):
                bytes += littleEndian(UInt64(last | 1 << 1 | UInt32(count) << 3), width: 3)
                bytes.append(byte)
            case .typed(let type, let data):
                bytes += littleEndian(UInt64(last | UInt32(type & 3) << 1 | UInt32(data.count) << 3), width: 3)
                bytes += data
            }
        }
        if checksumFlag { bytes += littleEndian(UInt64(checksum), width: 4) }
        return bytes
    }

    /// A skippable frame (magic 0x184D2A5n) carrying `data`.
    public static func skippable(_ data: [UInt8], variant: UInt8 = 0) -> [UInt8] {
        [0x50 | (variant & 0x0F), 0x2A, 0x4D, 0x18] + littleEndian(UInt64(data.count), width: 4) + data
    }

    static func littleEndian(_ value: UInt64, width: Int) -> [UInt8] {
        (0..<width).map { UInt8(truncatingIfNeeded: value >> UInt64(8 * $0)) }
    }
}
