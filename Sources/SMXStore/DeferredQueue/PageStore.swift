/// The B+tree file's pages: positional reads that verify each page's checksum, coalesced
/// positional writes, `fdatasync`, and growth in preallocated steps. Committed pages are
/// immutable until the freelist hands their number out again, so they are cached as read.
///
/// Pages committed since the last checkpoint live only here (and in the journal, as the
/// operations that made them) until a checkpoint takes them (``takePending()``) and writes
/// them (``writeAndSync(_:)``): *pending* pages.
/// Cached pages are not sealed (their checksum field is stale); the checksum is computed
/// into the bytes written and checked on every read from disk.
///
/// Nothing is ever evicted, and a cached page object is replaced only when its number is
/// handed out again (``publish(_:freed:)``): snapshot reads borrow cached pages without
/// retaining them (``withPage(_:_:)``), which is safe only while both hold.
final class PageStore: @unchecked Sendable {
    let handle: any FileHandle
    let path: String
    let pageSize: Int
    let growthPages: Int
    private let lock = SimpleLock()
    // Both only with `lock` held, which already excludes overlapping access: no run-time
    // exclusivity check on every page read.
    @exclusivity(unchecked) private var cache = PageCache()
    /// Pages committed since the last checkpoint, not yet written.
    @exclusivity(unchecked) private var pending = PageSet()
    /// Pages the file has room for (its size / page size).
    private(set) var capacityPages: UInt64

    init(handle: any FileHandle, path: String, pageSize: Int, growthPages: Int) throws {
        self.handle = handle
        self.path = path
        self.pageSize = pageSize
        self.growthPages = growthPages
        self.capacityPages = UInt64(try handle.size() / pageSize)
    }

    /// Page `number`, checked: a page whose checksum or structure does not verify is an
    /// error that names it.
    func read(_ number: UInt64) throws -> Page {
        if let page = lock.withLock({ cache[number] }) { return page }
        return try readFromDisk(number)
    }

    /// Calls `body` with page `number` without retaining it: for readers that hold a
    /// snapshot that reaches the page. The cache replaces a page object only when its
    /// number is handed out again (``publish(_:freed:)``), which the free-page rules
    /// forbid while such a snapshot is open, and never drops one; so the object outlives
    /// the call. (Retaining a page whose header is not in the CPU cache is an atomic on a
    /// missed cache line, which stalls the walk down the tree.)
    @inline(__always)
    func withPage<R>(_ number: UInt64, _ body: (Page) throws -> R) throws -> R {
        if let page = lock.withLock({ cache.unretained(number) }) {
            return try page._withUnsafeGuaranteedRef(body)
        }
        return try body(try readFromDisk(number))
    }

    /// Reads and checks page `number` and caches it (a page another reader cached
    /// meanwhile is kept, and returned, so that cached objects are never replaced here).
    private func readFromDisk(_ number: UInt64) throws -> Page {
        let page = Page.make(number: number, size: pageSize)
        let got = try page.withUnsafeMutableBytes { try handle.read(into: $0, at: Int(number) * pageSize) }
        guard got == pageSize else {
            throw StoreError(.corrupted, "page \(number) lies past the end of the file", path: path)
        }
        if let problem = page.structuralProblem() {
            throw StoreError(.corrupted, "page \(number) (offset \(Int(number) * pageSize)): \(problem)", path: path)
        }
        return lock.withLock {
            if let cached = cache[number] { return cached }
            cache[number] = page
            return page
        }
    }

    /// Writes `pages`, each sealed on the way out (the checksum computed into the bytes
    /// written; the page object is not changed), coalescing runs of consecutive page
    /// numbers into one write.
    func write(_ pages: [Page]) throws {
        let sorted = pages.sorted { $0.number < $1.number }
        var buffer: [UInt8] = []
        var index = 0
        while index < sorted.count {
            var end = index + 1
            while end < sorted.count && sorted[end].number == sorted[end - 1].number + 1 { end += 1 }
            buffer.removeAll(keepingCapacity: true)
            buffer.reserveCapacity((end - index) * pageSize)
            for page in sorted[index..<end] {
                let start = buffer.count
                page.withUnsafeBytes { buffer.append(contentsOf: $0) }
                buffer.withUnsafeMutableBytes { all in
                    let bytes = UnsafeMutableRawBufferPointer(rebasing: all[start..<(start + pageSize)])
                    let sum = Checksum.xxh3(UnsafeRawBufferPointer(rebasing: bytes[8...]), seed: page.number)
                    LittleEndian.store(sum, bytes, 0)
                }
            }
            try handle.write(buffer, at: Int(sorted[index].number) * pageSize)
            index = end
        }
    }

    func writeRaw(_ bytes: [UInt8], page number: UInt64) throws {
        try handle.write(bytes, at: Int(number) * pageSize)
    }

    func sync() throws { try handle.sync() }

    /// Makes room for pages `0..<pageCount`, growing the file by at least `growthPages`.
    func ensureCapacity(_ pageCount: UInt64) throws {
        guard pageCount > capacityPages else { return }
        let target = max(pageCount, capacityPages + UInt64(growthPages))
        try handle.allocate(offset: Int(capacityPages) * pageSize, length: Int(target - capacityPages) * pageSize)
        capacityPages = target
    }

    /// After a commit: the transaction's pages are now what those numbers hold, pending
    /// until the next checkpoint; `freed` pending pages need not be written any more.
    func publish(_ pages: [Page], freed: [UInt64]) {
        lock.withLock {
            for number in freed { pending.remove(number) }
            for page in pages {
                cache[page.number] = page
                pending.insert(page.number)
            }
        }
    }

    /// Whether each of `numbers` was committed since the last checkpoint (so no checkpoint
    /// on disk reaches it).
    func pending(_ numbers: [UInt64]) -> [Bool] {
        lock.withLock { numbers.map { pending.contains($0) } }
    }

    var pendingCount: Int { lock.withLock { pending.count } }

    /// The pending pages, which stop being pending: a checkpoint takes them to write
    /// (``writeAndSync(_:)``), and pages committed after this are the next one's.
    func takePending() throws -> [Page] {
        try lock.withLock { () throws -> [Page] in
            let pages = try pending.elements.map { number in
                guard let page = cache[number] else {
                    throw StoreError(.corrupted, "pending page \(number) is missing from the cache", path: path)
                }
                return page
            }
            pending.removeAll()
            return pages
        }
    }

    /// Writes `pages` (coalesced, sealed on the way out) and syncs. Runs on a checkpoint's
    /// thread while the writer commits: it touches no state of the store but the file.
    func writeAndSync(_ pages: [Page]) throws {
        try write(pages)
        try sync()
        // Every page this store needs is in its own cache; the kernel's copies (large
        // folios after long sequential writes) would make the next checkpoint's scattered
        // 4 KiB writes rewrite whole folios. Advice only: a failure changes nothing.
        try? handle.dropCachedPages()
    }
}

/// Verified committed pages by page number: an array indexed by the number (page numbers
/// are dense, from 2 up to the page count) holding one reference to each page, taken and
/// given back by hand so that ``unretained(_:)`` reads one without touching its count.
struct PageCache: ~Copyable {
    private var pages: [Unmanaged<Page>?] = []

    deinit {
        for page in pages { page?.release() }
    }

    subscript(number: UInt64) -> Page? {
        get { unretained(number)?.takeUnretainedValue() }
        set {
            let index = Int(number)
            if index >= pages.count {
                guard newValue != nil else { return }
                pages.append(contentsOf: repeatElement(nil, count: max(index + 1, pages.count * 2) - pages.count))
            }
            let old = pages[index]
            pages[index] = newValue.map { Unmanaged.passRetained($0) }
            old?.release()
        }
    }

    func unretained(_ number: UInt64) -> Unmanaged<Page>? {
        number < UInt64(pages.count) ? pages[Int(number)] : nil
    }
}

/// A set of page numbers as a bitmap (page numbers are dense, from 2 up to the page count).
struct PageSet {
    private var words: [UInt64] = []
    private(set) var count = 0

    func contains(_ number: UInt64) -> Bool {
        let word = Int(number >> 6)
        return word < words.count && words[word] & (1 << (number & 63)) != 0
    }

    mutating func insert(_ number: UInt64) {
        let word = Int(number >> 6)
        if word >= words.count { words.append(contentsOf: repeatElement(0, count: max(word + 1, words.count * 2) - words.count)) }
        let bit: UInt64 = 1 << (number & 63)
        if words[word] & bit == 0 {
            words[word] |= bit
            count += 1
        }
    }

    mutating func remove(_ number: UInt64) {
        let word = Int(number >> 6)
        guard word < words.count else { return }
        let bit: UInt64 = 1 << (number & 63)
        if words[word] & bit != 0 {
            words[word] &= ~bit
            count -= 1
        }
    }

    mutating func removeAll() {
        for i in words.indices { words[i] = 0 }
        count = 0
    }

    /// The members in increasing order.
    var elements: [UInt64] {
        var out: [UInt64] = []
        out.reserveCapacity(count)
        for (i, word) in words.enumerated() where word != 0 {
            var bits = word
            while bits != 0 {
                out.append(UInt64(i) << 6 | UInt64(bits.trailingZeroBitCount))
                bits &= bits - 1
            }
        }
        return out
    }
}
