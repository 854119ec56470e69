/// The B+tree file's pages on disk: positional reads that verify each page's checksum,
/// coalesced positional writes, `fdatasync`, and growth in preallocated steps. Committed
/// pages are immutable until the freelist hands their number out again, so they are
/// cached as read.
final class PageStore: @unchecked Sendable {
    let handle: any FileHandle
    let path: String
    let pageSize: Int
    let growthPages: Int
    private let lock = SimpleLock()
    private var cache = PageCache()
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
        let page = Page.make(number: number, size: pageSize)
        let got = try page.withUnsafeMutableBytes { try handle.read(into: $0, at: Int(number) * pageSize) }
        guard got == pageSize else {
            throw StoreError(.corrupted, "page \(number) lies past the end of the file", path: path)
        }
        if let problem = page.structuralProblem() {
            throw StoreError(.corrupted, "page \(number) (offset \(Int(number) * pageSize)): \(problem)", path: path)
        }
        lock.withLock { cache[number] = page }
        return page
    }

    /// Writes `pages` (sealed), coalescing runs of consecutive page numbers into one write.
    func write(_ pages: [Page]) throws {
        let sorted = pages.sorted { $0.number < $1.number }
        var index = 0
        while index < sorted.count {
            var end = index + 1
            while end < sorted.count && sorted[end].number == sorted[end - 1].number + 1 { end += 1 }
            if end - index == 1 {
                try sorted[index].withUnsafeBytes { try handle.write($0, at: Int(sorted[index].number) * pageSize) }
            } else {
                var buffer: [UInt8] = []
                buffer.reserveCapacity((end - index) * pageSize)
                for page in sorted[index..<end] { page.withUnsafeBytes { buffer.append(contentsOf: $0) } }
                try handle.write(buffer, at: Int(sorted[index].number) * pageSize)
            }
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

    /// After a commit: the transaction's pages are now what those numbers hold.
    func publish(_ pages: [Page]) {
        lock.withLock {
            for page in pages { cache[page.number] = page }
        }
    }

    /// Forgets cached copies (after a failed commit the cache may hold nothing wrong, but
    /// a reopen starts clean anyway).
    func dropCache() {
        lock.withLock { cache.removeAll() }
    }
}

/// Verified committed pages by page number: an array indexed by the number (page numbers
/// are dense, from 2 up to the page count).
struct PageCache {
    private var pages: [Page?] = []

    subscript(number: UInt64) -> Page? {
        get { number < UInt64(pages.count) ? pages[Int(number)] : nil }
        set {
            let index = Int(number)
            if index >= pages.count {
                guard newValue != nil else { return }
                pages.append(contentsOf: repeatElement(nil, count: max(index + 1, pages.count * 2) - pages.count))
            }
            pages[index] = newValue
        }
    }

    mutating func removeAll() { pages.removeAll() }
}
