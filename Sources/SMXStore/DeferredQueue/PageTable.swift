/// The pages of one write transaction by page number: an open-addressing hash table with
/// linear probing and multiplicative hashing. Every step of an insert or delete asks it
/// for the page on its path, so it avoids `Dictionary`'s seeded SipHash; page numbers are
/// not chosen by an adversary (they come from the file's own allocator).
///
/// Page numbers are at least 2, so 0 marks an empty bucket. Deletion shifts the following
/// entries of the run back (no tombstones), so a lookup stops at the first empty bucket.
/// (Public for its model test.)
public struct PageTable {
    private var keys: [UInt64]
    private var pages: [Page?]
    public private(set) var count = 0
    /// log2 of the bucket count.
    private var bits: Int

    public init() {
        bits = 6
        keys = Array(repeating: 0, count: 1 << bits)
        pages = Array(repeating: nil, count: 1 << bits)
    }

    public var isEmpty: Bool { count == 0 }

    /// Every page, in no particular order.
    public var values: [Page] { pages.compactMap { $0 } }

    @inline(__always) private func home(_ number: UInt64) -> Int {
        Int(truncatingIfNeeded: (number &* 0x9E37_79B9_7F4A_7C15) >> UInt64(64 - bits))
    }

    /// The bucket holding `number`, or the empty bucket where it would go.
    @inline(__always) private func bucket(_ number: UInt64) -> Int {
        let mask = keys.count - 1
        var i = home(number)
        while true {
            let key = keys[i]
            if key == number || key == 0 { return i }
            i = (i + 1) & mask
        }
    }

    public subscript(number: UInt64) -> Page? {
        let i = bucket(number)
        return keys[i] == number ? pages[i] : nil
    }

    /// Adds `page` under its number, replacing the page held under it.
    public mutating func insert(_ page: Page) {
        let number = page.number
        precondition(number >= 2, "page number \(number) in a transaction's page table")
        let i = bucket(number)
        if keys[i] == number {
            pages[i] = page
            return
        }
        keys[i] = number
        pages[i] = page
        count += 1
        if count * 4 > keys.count * 3 { grow() }
    }

    /// Removes and returns the page under `number`.
    @discardableResult
    public mutating func remove(_ number: UInt64) -> Page? {
        var i = bucket(number)
        guard keys[i] == number else { return nil }
        let removed = pages[i]
        let mask = keys.count - 1
        // Backward-shift deletion: move later entries of the run into the hole when their
        // home bucket does not lie (cyclically) after the hole.
        var j = i
        while true {
            j = (j + 1) & mask
            let key = keys[j]
            if key == 0 { break }
            let h = home(key)
            let between = i <= j ? (i < h && h <= j) : (i < h || h <= j)
            if !between {
                keys[i] = key
                pages[i] = pages[j]
                i = j
            }
        }
        keys[i] = 0
        pages[i] = nil
        count -= 1
        return removed
    }

    private mutating func grow() {
        let old = pages
        bits += 1
        keys = Array(repeating: 0, count: 1 << bits)
        pages = Array(repeating: nil, count: 1 << bits)
        count = 0
        for case let page? in old { insert(page) }
    }
}
