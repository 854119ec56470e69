/// The B+tree file's pages: positional reads that verify each page's checksum, coalesced
/// positional writes, `fdatasync`, and growth in preallocated steps. Committed pages are
/// immutable until the freelist hands their number out again, so they are cached as read.
///
/// Pages committed since the last checkpoint live only here (and in the journal, as the
/// operations that made them) until ``writePending()`` seals and writes them: *pending*
/// pages are never dropped from the cache.
final class PageStore: @unchecked Sendable {
    let handle: any FileHandle
    let path: String
    let pageSize: Int
    let growthPages: Int
    private let lock = SimpleLock()
    private var cache: [UInt64: [UInt8]] = [:]
    /// Pages committed since the last checkpoint, not yet written (unsealed): what their
    /// numbers hold until the checkpoint, read before the cache.
    private var pending: [UInt64: [UInt8]] = [:]
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
        if let bytes = lock.withLock({ pending[number] ?? cache[number] }) {
            return Page(number: number, bytes: bytes)
        }
        let bytes = try handle.read(at: Int(number) * pageSize, count: pageSize)
        guard bytes.count == pageSize else {
            throw StoreError(.corrupted, "page \(number) lies past the end of the file", path: path)
        }
        let page = Page(number: number, bytes: bytes)
        if let problem = page.structuralProblem() {
            throw StoreError(.corrupted, "page \(number) (offset \(Int(number) * pageSize)): \(problem)", path: path)
        }
        lock.withLock { cache[number] = bytes }
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
                try handle.write(sorted[index].bytes, at: Int(sorted[index].number) * pageSize)
            } else {
                var buffer: [UInt8] = []
                buffer.reserveCapacity((end - index) * pageSize)
                for page in sorted[index..<end] { buffer.append(contentsOf: page.bytes) }
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

    /// After a commit: the transaction's pages are now what those numbers hold, pending
    /// until the next checkpoint; `freed` pending pages need not be written any more.
    func publish(_ pages: [Page], freed: [UInt64]) {
        lock.withLock {
            for number in freed {
                if let bytes = pending.removeValue(forKey: number) { cache[number] = bytes }
            }
            for page in pages {
                pending[page.number] = page.bytes
                cache[page.number] = nil
            }
        }
    }

    /// Whether `number` was committed since the last checkpoint (so no checkpoint on disk
    /// reaches it).
    func isPending(_ number: UInt64) -> Bool {
        lock.withLock { pending[number] != nil }
    }

    var pendingCount: Int { lock.withLock { pending.count } }

    /// Seals every pending page, writes them (coalesced) and syncs. They stay cached; they
    /// stop being pending only when this succeeds.
    func writePending() throws {
        let unwritten = lock.withLock { pending }
        var pages: [Page] = []
        pages.reserveCapacity(unwritten.count)
        for (number, bytes) in unwritten {
            var page = Page(number: number, bytes: bytes)
            page.seal()
            pages.append(page)
        }
        try write(pages)
        try sync()
        lock.withLock {
            for page in pages {
                cache[page.number] = page.bytes
                pending[page.number] = nil
            }
        }
    }
}
