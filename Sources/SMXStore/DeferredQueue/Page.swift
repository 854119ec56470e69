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
///
/// A page is a reference to bytes it owns, allocated with the object (its first bytes
/// share a cache line with the reference count). A page of the cache (committed,
/// verified) is never changed again; a transaction's own pages are changed only by that
/// transaction (``WriteTransaction/writable(_:)`` copies a committed page before the
/// first change). The accessors read the bytes without bounds checks (checked by `assert`
/// in debug builds): a page from disk is used only after ``structuralProblem()`` found it
/// sound.
public final class Page: ManagedBuffer<PageIdentity, UInt8> {
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

    /// A page of `size` bytes, uninitialized.
    private static func allocate(number: UInt64, size: Int) -> Page {
        unsafeDowncast(create(minimumCapacity: size) { _ in PageIdentity(number: number, size: size) }, to: Page.self)
    }

    /// A page of `size` zero bytes.
    static func make(number: UInt64, size: Int) -> Page {
        let page = allocate(number: number, size: size)
        page.base.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        return page
    }

    /// A page holding a copy of `bytes`.
    public static func make(number: UInt64, bytes: [UInt8]) -> Page {
        let page = allocate(number: number, size: bytes.count)
        bytes.withUnsafeBytes { if let source = $0.baseAddress { page.base.copyMemory(from: source, byteCount: $0.count) } }
        return page
    }

    /// A copy of `page`'s bytes as page `number`.
    static func make(number: UInt64, copying page: Page) -> Page {
        let copy = allocate(number: number, size: page.size)
        copy.base.copyMemory(from: page.base, byteCount: page.size)
        return copy
    }

    /// An empty page of `kind`.
    public static func make(number: UInt64, kind: Kind, size: Int, txid: UInt64) -> Page {
        let page = make(number: number, size: size)
        page.base.storeBytes(of: kind.rawValue, toByteOffset: 8, as: UInt8.self)
        page.setU16(12, UInt16(Self.headerSize))
        page.setU16(14, UInt16(truncatingIfNeeded: size == 65536 ? 0 : size))
        page.setU64(16, txid)
        return page
    }

    public var number: UInt64 { withUnsafeMutablePointerToHeader { $0.pointee.number } }
    public var size: Int { withUnsafeMutablePointerToHeader { $0.pointee.size } }

    /// The bytes (valid while the page is: only inside its own methods).
    @inline(__always) private var base: UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(withUnsafeMutablePointerToElements { $0 })
    }

    /// A copy of the page's bytes.
    public var bytes: [UInt8] { Array(UnsafeRawBufferPointer(start: base, count: size)) }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: size))
    }

    func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeMutableRawBufferPointer(start: base, count: size))
    }

    /// A copy of the bytes in `range`.
    func bytes(in range: Range<Int>) -> [UInt8] {
        assert(range.lowerBound >= 0 && range.upperBound <= size)
        return Array(UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count))
    }

    /// Copies `source` into the page at `offset`.
    func write(_ source: UnsafeRawBufferPointer, at offset: Int) {
        assert(offset >= 0 && offset + source.count <= size)
        if let address = source.baseAddress { (base + offset).copyMemory(from: address, byteCount: source.count) }
    }

    public var kindByte: UInt8 { u8(8) }
    public var kind: Kind? { Kind(rawValue: u8(8)) }
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

    private var computedChecksum: UInt64 {
        Checksum.xxh3(UnsafeRawBufferPointer(start: base + 8, count: size - 8), seed: number)
    }

    /// Writes the checksum; call after the last change, before the page goes to disk.
    public func seal() {
        setU64(0, computedChecksum)
    }

    public var checksumVerifies: Bool {
        size > 8 && u64(0) == computedChecksum
    }

    /// Checks the checksum and that the header describes a well-formed page of a known
    /// kind whose slots all point at cells inside the page; returns why not, or nil.
    public func structuralProblem() -> String? {
        guard checksumVerifies else { return "checksum mismatch" }
        guard size >= Self.headerSize else { return "page shorter than its header" }
        guard let kind else { return "unknown page type \(kindByte)" }
        switch kind {
        case .overflow, .freelist:
            return nil
        case .branch, .leaf:
            let count = self.count
            if kind == .branch, count == 0 { return "branch without separators" }
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

    @inline(__always) private var cellHeader: Int {
        u8(8) == Kind.leaf.rawValue ? Self.leafCellHeader : Self.branchCellHeader
    }

    /// Key bytes of slot `i` (leaf or branch).
    @inline(__always)
    private func keyRange(_ i: Int, cellHeader: Int) -> Range<Int> {
        let offset = slotOffset(i)
        let start = offset + cellHeader
        return start..<(start + Int(u16(offset)))
    }

    public func key(_ i: Int) -> [UInt8] { bytes(in: keyRange(i, cellHeader: cellHeader)) }

    /// The order of slot `i`'s key and `key` (negative: slot `i`'s key is smaller).
    func compareKey(_ i: Int, _ key: UnsafeRawBufferPointer) -> Int {
        let range = keyRange(i, cellHeader: cellHeader)
        return compareBytes(UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count), key)
    }

    /// Branch or leaf: the first slot whose key is ≥ `key`, and whether it is equal (the
    /// page must have passed ``structuralProblem()``).
    public func search(_ key: UnsafeRawBufferPointer) -> (index: Int, found: Bool) {
        let header = cellHeader
        var low = 0
        var high = count
        while low < high {
            let mid = (low + high) &>> 1
            let range = keyRange(mid, cellHeader: header)
            assert(range.upperBound <= size)
            let c = compareBytes(UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count), key)
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

    func setChild(_ i: Int, _ page: UInt64) {
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
    func insertLeafCell(at i: Int, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, overflow: (page: UInt64, length: Int)?) {
        let stored = overflow == nil ? value.count : 8
        let cellSize = Self.leafCellHeader + key.count + stored
        let offset = allocateCell(cellSize, slot: i)
        setU16(offset, UInt16(key.count))
        let keyStart = offset + Self.leafCellHeader
        write(key, at: keyStart)
        if let overflow {
            setU32(offset + 2, UInt32(overflow.length) | Self.overflowFlag)
            setU64(keyStart + key.count, overflow.page)
        } else {
            setU32(offset + 2, UInt32(value.count))
            write(value, at: keyStart + key.count)
        }
    }

    /// Inserts a branch cell (key, child holding keys ≥ key) at slot `i`.
    func insertBranchCell(at i: Int, key: UnsafeRawBufferPointer, child: UInt64) {
        let offset = allocateCell(Self.branchCellHeader + key.count, slot: i)
        setU16(offset, UInt16(key.count))
        setU64(offset + 2, child)
        write(key, at: offset + Self.branchCellHeader)
    }

    /// Appends a copy of `source`'s cell at slot `i` (a page of the same kind) as the last
    /// slot; the caller checked that it fits.
    func appendCell(copying i: Int, of source: Page) {
        let from = source.slotOffset(i)
        let length = source.cellBytes(i)
        let offset = allocateCell(length, slot: count)
        (base + offset).copyMemory(from: source.base + from, byteCount: length)
    }

    /// Removes slot `i` (its cell's bytes become garbage until the page is compacted).
    func removeSlot(_ i: Int) {
        let count = self.count
        let start = Self.headerSize + i * Self.slotSize
        let end = Self.headerSize + count * Self.slotSize
        if end - start > Self.slotSize {
            memmoveBytes(base + start, base + start + Self.slotSize, end - start - Self.slotSize)
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
        Self.cellLength(base, at: slotOffset(i), leaf: u8(8) == Kind.leaf.rawValue)
    }

    /// Length of the cell at `offset` of the page bytes at `page`.
    private static func cellLength(_ page: UnsafeRawPointer, at offset: Int, leaf: Bool) -> Int {
        let keyLength = Int(UInt16(littleEndian: page.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
        guard leaf else { return branchCellHeader + keyLength }
        let raw = UInt32(littleEndian: page.loadUnaligned(fromByteOffset: offset + 2, as: UInt32.self))
        return leafCellHeader + keyLength + (raw & overflowFlag != 0 ? 8 : Int(raw))
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
    private func allocateCell(_ cellSize: Int, slot i: Int) -> Int {
        if freeSpace < cellSize + Self.slotSize { compact() }
        precondition(freeSpace >= cellSize + Self.slotSize, "cell does not fit")
        let offset = upper - cellSize
        setU16(14, UInt16(truncatingIfNeeded: offset))
        let count = self.count
        let start = Self.headerSize + i * Self.slotSize
        let end = Self.headerSize + count * Self.slotSize
        if end > start {
            memmoveBytes(base + start + Self.slotSize, base + start, end - start)
        }
        setU16(start, UInt16(offset))
        setU16(10, UInt16(count + 1))
        setU16(12, UInt16(end + Self.slotSize))
        return offset
    }

    /// Rewrites the cells back to back at the end of the page, dropping garbage.
    func compact() {
        let count = self.count
        let leaf = u8(8) == Kind.leaf.rawValue
        withUnsafeTemporaryAllocation(byteCount: size, alignment: 16) { buffer in
            let old = buffer.baseAddress!
            old.copyMemory(from: base, byteCount: size)
            var upper = size
            for i in 0..<count {
                let slot = Self.headerSize + i * Self.slotSize
                let offset = Int(UInt16(littleEndian: old.loadUnaligned(fromByteOffset: slot, as: UInt16.self)))
                let length = Self.cellLength(old, at: offset, leaf: leaf)
                upper -= length
                (base + upper).copyMemory(from: old + offset, byteCount: length)
                setU16(slot, UInt16(upper))
            }
            let lower = Self.headerSize + count * Self.slotSize
            if upper > lower {
                (base + lower).initializeMemory(as: UInt8.self, repeating: 0, count: upper - lower)
            }
            setU16(14, UInt16(truncatingIfNeeded: upper))
        }
    }

    // MARK: - Little-endian fields

    @inline(__always) func u8(_ o: Int) -> UInt8 {
        assert(o >= 0 && o < size)
        return base.load(fromByteOffset: o, as: UInt8.self)
    }
    @inline(__always) func u16(_ o: Int) -> UInt16 {
        assert(o >= 0 && o + 2 <= size)
        return UInt16(littleEndian: base.loadUnaligned(fromByteOffset: o, as: UInt16.self))
    }
    @inline(__always) func u32(_ o: Int) -> UInt32 {
        assert(o >= 0 && o + 4 <= size)
        return UInt32(littleEndian: base.loadUnaligned(fromByteOffset: o, as: UInt32.self))
    }
    @inline(__always) func u64(_ o: Int) -> UInt64 {
        assert(o >= 0 && o + 8 <= size)
        return UInt64(littleEndian: base.loadUnaligned(fromByteOffset: o, as: UInt64.self))
    }
    @inline(__always) func setU16(_ o: Int, _ v: UInt16) {
        assert(o >= 0 && o + 2 <= size)
        base.storeBytes(of: v.littleEndian, toByteOffset: o, as: UInt16.self)
    }
    @inline(__always) func setU32(_ o: Int, _ v: UInt32) {
        assert(o >= 0 && o + 4 <= size)
        base.storeBytes(of: v.littleEndian, toByteOffset: o, as: UInt32.self)
    }
    @inline(__always) func setU64(_ o: Int, _ v: UInt64) {
        assert(o >= 0 && o + 8 <= size)
        base.storeBytes(of: v.littleEndian, toByteOffset: o, as: UInt64.self)
    }
}

/// What a ``Page`` object holds besides its bytes.
public struct PageIdentity: Sendable {
    public let number: UInt64
    public let size: Int
}

/// Lexicographic comparison of byte strings: negative, zero or positive. Compares eight
/// bytes at a time (as big-endian words) before the tail.
@inline(__always)
func compareBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let n = min(a.count, b.count)
    if n > 0 {
        let p = a.baseAddress!
        let q = b.baseAddress!
        var i = 0
        while i + 8 <= n {
            let x = UInt64(bigEndian: p.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            let y = UInt64(bigEndian: q.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            if x != y { return x < y ? -1 : 1 }
            i += 8
        }
        while i < n {
            let x = p.load(fromByteOffset: i, as: UInt8.self)
            let y = q.load(fromByteOffset: i, as: UInt8.self)
            if x != y { return x < y ? -1 : 1 }
            i += 1
        }
    }
    return a.count - b.count
}
