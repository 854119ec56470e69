/// A leaf of ``PackedKeyTree``: up to ``maxCount`` keys, sorted, packed at 20 bytes each in
/// one buffer that is sized to its contents.
///
/// The buffer grows and shrinks in steps of ``granule`` keys instead of being allocated at
/// ``maxCount``: a B-tree's leaves are about 70 % full under random inserts, which would
/// cost 29 bytes per 20-byte key; here the unused tail of a leaf is always under
/// `2 * granule` keys, whatever the insert order. The price is one copy of the leaf every
/// `granule` inserts or removals, cheaper than the shifting an insert does anyway.
final class PackedKeyLeaf {
    /// Most keys a leaf holds (10 KiB of keys).
    static let maxCount = 512
    /// Fewest keys a leaf other than the root or the rightmost leaf holds.
    static let minCount = 128
    /// The step, in keys, in which the buffer grows and shrinks.
    static let granule = 16
    /// Bytes of the object itself: 16 of header, three words of fields, rounded up to
    /// malloc's 16-byte steps plus its 8-byte chunk header.
    static let objectBytes = 48

    /// The keys; `keys[0..<count]` are initialized.
    private(set) var keys: UnsafeMutablePointer<PackedKey>
    private(set) var count = 0
    private(set) var capacity: Int

    init(capacity: Int = PackedKeyLeaf.granule) {
        keys = .allocate(capacity: capacity)
        self.capacity = capacity
    }

    deinit {
        keys.deallocate()
    }

    subscript(index: Int) -> PackedKey { keys[index] }

    /// The index of the first key `>= key` (`count` if none).
    func lowerBound(_ key: PackedKey) -> Int {
        let keys = keys
        var low = 0
        var high = count
        while low < high {
            let mid = (low &+ high) >> 1
            if keys[mid] < key { low = mid &+ 1 } else { high = mid }
        }
        return low
    }

    /// How many of the first keys are due at `now` (`nextTry <= now`), at most `limit`.
    func duePrefixCount(now: UInt64, limit: Int) -> Int {
        let keys = keys
        var low = 0
        var high = Swift.min(count, limit)
        while low < high {
            let mid = (low &+ high) >> 1
            if keys[mid].nextTry <= now { low = mid &+ 1 } else { high = mid }
        }
        return low
    }

    func insert(_ key: PackedKey, at index: Int) {
        reserve(count + 1)
        (keys + index + 1).moveInitialize(from: keys + index, count: count - index)
        (keys + index).initialize(to: key)
        count += 1
    }

    func remove(at index: Int) {
        (keys + index).moveInitialize(from: keys + index + 1, count: count - index - 1)
        count -= 1
        trim()
    }

    func removeFirst(_ n: Int) {
        keys.moveInitialize(from: keys + n, count: count - n)
        count -= n
        trim()
    }

    func removeLast(_ n: Int) {
        count -= n
        trim()
    }

    /// Appends `other[range]`, which must sort after every key here.
    func append(from other: PackedKeyLeaf, _ range: Range<Int>) {
        reserve(count + range.count)
        (keys + count).initialize(from: other.keys + range.lowerBound, count: range.count)
        count += range.count
    }

    /// Puts `other[range]`, which must sort before every key here, in front.
    func prepend(from other: PackedKeyLeaf, _ range: Range<Int>) {
        reserve(count + range.count)
        (keys + range.count).moveInitialize(from: keys, count: count)
        keys.initialize(from: other.keys + range.lowerBound, count: range.count)
        count += range.count
    }

    /// Moves the upper half of the keys into a new leaf and returns it.
    func splitOffUpperHalf() -> PackedKeyLeaf {
        let mid = count / 2
        let right = PackedKeyLeaf(capacity: Self.roundedUp(count - mid + 1))
        right.append(from: self, mid..<count)
        removeLast(count - mid)
        return right
    }

    /// Bytes this leaf allocates: the object and its buffer, with malloc's chunk header.
    var memoryBytes: Int {
        Self.objectBytes + capacity * MemoryLayout<PackedKey>.stride + PackedKeyTree.mallocOverhead
    }

    static func roundedUp(_ n: Int) -> Int {
        (n + granule - 1) / granule * granule
    }

    private func reserve(_ needed: Int) {
        if needed > capacity { resize(to: Self.roundedUp(needed)) }
    }

    /// Gives memory back once `2 * granule` keys are unused, keeping `granule` spare so that
    /// alternating inserts and removals do not copy the leaf each time.
    private func trim() {
        if capacity - count > 2 * Self.granule { resize(to: Self.roundedUp(count) + Self.granule) }
    }

    private func resize(to newCapacity: Int) {
        let grown = UnsafeMutablePointer<PackedKey>.allocate(capacity: newCapacity)
        grown.moveInitialize(from: keys, count: count)
        keys.deallocate()
        keys = grown
        capacity = newCapacity
    }
}
