/// One page of the deferred queue's B+tree file, held as its raw bytes and edited in
/// place (a slotted page, as in SQLite and LMDB): no per-key objects.
///
/// ```
/// offset size field
///      0    8 checksum     XXH3-64 of bytes 8..<pageSize, seeded with the page number
///                          (a page written to the wrong place never verifies)
///      8    1 type         1 branch, 2 leaf, 3 overflow, 4 freelist
///      9    1 flags        0
///     10    2 count        slots (branch, leaf), entries (freelist), 0 (overflow)
///     12    2 lower        end of the slot array
///     14    2 upper        start of the cell area (cells grow down from the page end)
///     16    8 txid         the write transaction that wrote the page
///     24    8 link         branch: leftmost child; overflow and freelist: next page (0 = none)
///     32    . slots        count × u16 LE, offsets of the cells, in key order
///      .    . free space
///  upper    . cells        leaf: u16 key length, u32 value length, key, value
///                          (value length with bit 31 set: the value is in overflow pages,
///                          the 8 bytes stored are its first page; bits 0..30 its length)
///                          branch: u16 key length, u64 child, key — the child holds keys
///                          at or above this key (and below the next one)
/// ```
public struct Page: Sendable {
    public static let headerSize = 32
    public static let slotSize = 2
    public static let leafCellHeader = 6
    public static let branchCellHeader = 10
    public static let overflowFlag: UInt32 = 1 << 31

    public enum Kind: UInt8, Sendable {
        case branch = 1
        case leaf = 2
        case overflow = 3
        case freelist = 4
    }

    public var number: UInt64
    public var bytes: [UInt8]

    public init(number: UInt64, bytes: [UInt8]) {
        self.number = number
        self.bytes = bytes
    }

    /// An empty page of `kind`.
    public init(number: UInt64, kind: Kind, size: Int, txid: UInt64) {
        self.number = number
        self.bytes = [UInt8](repeating: 0, count: size)
        bytes[8] = kind.rawValue
        setU16(12, UInt16(Self.headerSize))
        setU16(14, UInt16(truncatingIfNeeded: size == 65536 ? 0 : size))
        setU64(16, txid)
    }

    public var size: Int { bytes.count }
    public var kindByte: UInt8 { bytes[8] }
    public var kind: Kind? { Kind(rawValue: bytes[8]) }
    public var count: Int { Int(u16(10)) }
    var lower: Int { Int(u16(12)) }
    /// 0 stands for 65536 (the largest page size).
    var upper: Int { let u = Int(u16(14)); return u == 0 ? 65536 : u }
    public var txid: UInt64 {
        get { u64(16) }
        set { setU64(16, newValue) }
    }
    public var link: UInt64 {
        get { u64(24) }
        set { setU64(24, newValue) }
    }
    public var freeSpace: Int { upper - lower }

    // MARK: - Checksum

    /// Writes the checksum; call after the last change, before the page goes to disk.
    public mutating func seal() {
        let sum = bytes.withUnsafeBytes { Checksum.xxh3(UnsafeRawBufferPointer(rebasing: $0[8...]), seed: number) }
        setU64(0, sum)
    }

    public var checksumVerifies: Bool {
        bytes.count > 8 && u64(0) == bytes.withUnsafeBytes { Checksum.xxh3(UnsafeRawBufferPointer(rebasing: $0[8...]), seed: number) }
    }

    /// Checks the checksum and that the header describes a well-formed page of a known
    /// kind whose slots all point at cells inside the page; returns why not, or nil.
    public func structuralProblem() -> String? {
        guard checksumVerifies else { return "checksum mismatch" }
        guard let kind else { return "unknown page type \(kindByte)" }
        switch kind {
        case .overflow, .freelist:
            return nil
        case .branch, .leaf:
            let count = self.count
            guard lower == Self.headerSize + count * Self.slotSize, lower <= upper, upper <= size else {
                return "slot array and cell area overlap (count \(count), lower \(lower), upper \(self.upper))"
            }
            for i in 0..<count {
                let offset = slotOffset(i)
                let header = kind == .leaf ? Self.leafCellHeader : Self.branchCellHeader
                guard offset >= upper, offset + header <= size else { return "slot \(i) points outside the cell area" }
                let keyLength = Int(u16(offset))
                var end = offset + header + keyLength
                if kind == .leaf {
                    let raw = u32(offset + 2)
                    end += raw & Self.overflowFlag != 0 ? 8 : Int(raw)
                }
                guard end <= size else { return "cell \(i) runs past the page" }
            }
            return nil
        }
    }

    // MARK: - Slots and cells

    @inline(__always) func slotOffset(_ i: Int) -> Int { Int(u16(Self.headerSize + i * Self.slotSize)) }

    /// Key bytes of slot `i` (leaf or branch).
    @inline(__always)
    func keyRange(_ i: Int) -> Range<Int> {
        let offset = slotOffset(i)
        let header = kind == .leaf ? Self.leafCellHeader : Self.branchCellHeader
        let start = offset + header
        return start..<(start + Int(u16(offset)))
    }

    public func key(_ i: Int) -> [UInt8] { Array(bytes[keyRange(i)]) }

    /// Compares slot `i`'s key with `key` (lexicographic bytes).
    @inline(__always)
    func compareKey(_ i: Int, _ key: UnsafeRawBufferPointer) -> Int {
        let range = keyRange(i)
        return bytes.withUnsafeBytes { p in
            compareBytes(UnsafeRawBufferPointer(rebasing: p[range]), key)
        }
    }

    /// Branch or leaf: the first slot whose key is ≥ `key`, and whether it is equal (the
    /// page must have passed ``structuralProblem()``).
    public func search(_ key: UnsafeRawBufferPointer) -> (index: Int, found: Bool) {
        var low = 0
        var high = count
        while low < high {
            let mid = (low + high) / 2
            let c = compareKey(mid, key)
            if c == 0 { return (mid, true) }
            if c < 0 { low = mid + 1 } else { high = mid }
        }
        return (low, false)
    }

    /// Branch: the child to descend into for `key`.
    func childIndex(for key: UnsafeRawBufferPointer) -> Int {
        let (index, found) = search(key)
        // Slot i's child holds keys ≥ key(i); the leftmost child (link) those below key(0).
        return found ? index + 1 : index
    }

    /// Branch: child number `i` (0 = leftmost, i ≥ 1 = slot i-1's child).
    func child(_ i: Int) -> UInt64 {
        i == 0 ? link : u64(slotOffset(i - 1) + 2)
    }

    mutating func setChild(_ i: Int, _ page: UInt64) {
        if i == 0 { link = page } else { setU64(slotOffset(i - 1) + 2, page) }
    }

    var childCount: Int { count + 1 }

    /// Leaf: the stored value field of slot `i`: inline bytes, or an overflow reference.
    enum StoredValue: Equatable {
        case inline(Range<Int>)
        case overflow(page: UInt64, length: Int)
    }

    func storedValue(_ i: Int) -> StoredValue {
        let offset = slotOffset(i)
        let raw = u32(offset + 2)
        let start = offset + Self.leafCellHeader + Int(u16(offset))
        if raw & Self.overflowFlag != 0 {
            return .overflow(page: u64(start), length: Int(raw & ~Self.overflowFlag))
        }
        return .inline(start..<(start + Int(raw)))
    }

    /// Bytes a leaf cell takes (slot included).
    static func leafCellSize(keyCount: Int, storedValueCount: Int) -> Int {
        slotSize + leafCellHeader + keyCount + storedValueCount
    }

    static func branchCellSize(keyCount: Int) -> Int {
        slotSize + branchCellHeader + keyCount
    }

    /// Inserts a leaf cell at slot `i`; the caller checked that it fits.
    mutating func insertLeafCell(at i: Int, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, overflow: (page: UInt64, length: Int)?) {
        let stored = overflow == nil ? value.count : 8
        let cellSize = Self.leafCellHeader + key.count + stored
        let offset = allocateCell(cellSize, slot: i)
        setU16(offset, UInt16(key.count))
        if let overflow {
            setU32(offset + 2, UInt32(overflow.length) | Self.overflowFlag)
        } else {
            setU32(offset + 2, UInt32(value.count))
        }
        bytes.withUnsafeMutableBytes { p in
            let keyStart = offset + Self.leafCellHeader
            if key.count > 0 { UnsafeMutableRawBufferPointer(rebasing: p[keyStart..<(keyStart + key.count)]).copyMemory(from: key) }
            let valueStart = keyStart + key.count
            if let overflow {
                LittleEndian.store(overflow.page, p, valueStart)
            } else if value.count > 0 {
                UnsafeMutableRawBufferPointer(rebasing: p[valueStart..<(valueStart + value.count)]).copyMemory(from: value)
            }
        }
    }

    /// Inserts a branch cell (key, child holding keys ≥ key) at slot `i`.
    mutating func insertBranchCell(at i: Int, key: UnsafeRawBufferPointer, child: UInt64) {
        let offset = allocateCell(Self.branchCellHeader + key.count, slot: i)
        setU16(offset, UInt16(key.count))
        setU64(offset + 2, child)
        bytes.withUnsafeMutableBytes { p in
            let keyStart = offset + Self.branchCellHeader
            if key.count > 0 { UnsafeMutableRawBufferPointer(rebasing: p[keyStart..<(keyStart + key.count)]).copyMemory(from: key) }
        }
    }

    /// Removes slot `i` (its cell's bytes become garbage until the page is compacted).
    mutating func removeSlot(_ i: Int) {
        let count = self.count
        let start = Self.headerSize + i * Self.slotSize
        let end = Self.headerSize + count * Self.slotSize
        if end - start > Self.slotSize {
            bytes.withUnsafeMutableBytes { p in
                let base = p.baseAddress!
                memmoveBytes(base + start, base + start + Self.slotSize, end - start - Self.slotSize)
            }
        }
        setU16(10, UInt16(count - 1))
        setU16(12, UInt16(lower - Self.slotSize))
    }

    /// Bytes of cells in use plus slots: what a compacted page holds.
    var usedBytes: Int {
        var total = 0
        for i in 0..<count { total += cellBytes(i) + Self.slotSize }
        return total
    }

    func cellBytes(_ i: Int) -> Int {
        let offset = slotOffset(i)
        guard kind == .leaf else { return Self.branchCellHeader + Int(u16(offset)) }
        let raw = u32(offset + 2)
        return Self.leafCellHeader + Int(u16(offset)) + (raw & Self.overflowFlag != 0 ? 8 : Int(raw))
    }

    /// Space available after compaction.
    var reclaimableSpace: Int { size - Self.headerSize - usedBytes }

    /// Whether `bytes` more (a cell and its slot) fit, compacting if need be: the
    /// contiguous free space answers most calls without walking the cells.
    func canHold(_ bytes: Int) -> Bool {
        freeSpace >= bytes || reclaimableSpace >= bytes
    }

    /// Reserves `cellSize` bytes of cell area and a slot at `i`, compacting first if the
    /// contiguous free space is short. The caller checked `reclaimableSpace`.
    private mutating func allocateCell(_ cellSize: Int, slot i: Int) -> Int {
        if freeSpace < cellSize + Self.slotSize { compact() }
        precondition(freeSpace >= cellSize + Self.slotSize, "cell does not fit")
        let offset = upper - cellSize
        setU16(14, UInt16(truncatingIfNeeded: offset))
        let count = self.count
        let start = Self.headerSize + i * Self.slotSize
        let end = Self.headerSize + count * Self.slotSize
        if end > start {
            bytes.withUnsafeMutableBytes { p in
                let base = p.baseAddress!
                memmoveBytes(base + start + Self.slotSize, base + start, end - start)
            }
        }
        setU16(start, UInt16(offset))
        setU16(10, UInt16(count + 1))
        setU16(12, UInt16(end + Self.slotSize))
        return offset
    }

    /// Rewrites the cells back to back at the end of the page, dropping garbage.
    mutating func compact() {
        let old = self
        let count = self.count
        let lengths = (0..<count).map { old.cellBytes($0) }
        var upper = size
        old.bytes.withUnsafeBytes { src in
            bytes.withUnsafeMutableBytes { dst in
                for i in 0..<count {
                    let offset = Int(LittleEndian.u16(src, Self.headerSize + i * Self.slotSize))
                    let length = lengths[i]
                    upper -= length
                    UnsafeMutableRawBufferPointer(rebasing: dst[upper..<(upper + length)])
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: src[offset..<(offset + length)]))
                    LittleEndian.store(UInt16(upper), dst, Self.headerSize + i * Self.slotSize)
                }
                let lower = Self.headerSize + count * Self.slotSize
                if upper > lower {
                    UnsafeMutableRawBufferPointer(rebasing: dst[lower..<upper]).initializeMemory(as: UInt8.self, repeating: 0)
                }
            }
        }
        setU16(14, UInt16(truncatingIfNeeded: upper))
    }

    // MARK: - Little-endian fields

    @inline(__always) func u16(_ o: Int) -> UInt16 { UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8 }
    @inline(__always) func u32(_ o: Int) -> UInt32 { bytes.withUnsafeBytes { LittleEndian.u32($0, o) } }
    @inline(__always) func u64(_ o: Int) -> UInt64 { bytes.withUnsafeBytes { LittleEndian.u64($0, o) } }
    @inline(__always) mutating func setU16(_ o: Int, _ v: UInt16) {
        bytes[o] = UInt8(truncatingIfNeeded: v)
        bytes[o + 1] = UInt8(truncatingIfNeeded: v >> 8)
    }
    @inline(__always) mutating func setU32(_ o: Int, _ v: UInt32) { bytes.withUnsafeMutableBytes { LittleEndian.store(v, $0, o) } }
    @inline(__always) mutating func setU64(_ o: Int, _ v: UInt64) { bytes.withUnsafeMutableBytes { LittleEndian.store(v, $0, o) } }
}

/// Lexicographic comparison of byte strings: negative, zero or positive.
@inline(__always)
func compareBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let n = min(a.count, b.count)
    if n > 0 {
        let c = memcmpBytes(a.baseAddress!, b.baseAddress!, n)
        if c != 0 { return Int(c) }
    }
    return a.count - b.count
}
