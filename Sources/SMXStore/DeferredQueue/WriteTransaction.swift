/// The one write transaction of a ``BTreeFile`` at a time. Changes go to copies of the
/// pages they touch (pages of this transaction, changed in place after the first copy)
/// and, as operations, to the commit's journal payload; nothing reaches the file until
/// ``BTreeFile/write(_:)`` commits. Readers keep seeing the snapshot they started with.
///
/// Trees are named; the catalog (itself a tree, rooted in the meta page) maps each name to
/// its root page and key count.
public final class WriteTransaction: PageReader {
    let file: BTreeFile
    let store: PageStore
    public let txid: UInt64
    let base: MetaPage
    /// Pages of this transaction, by number.
    var dirty: [UInt64: Page] = [:]
    /// Pages this transaction allocated and then freed: reusable at once.
    private var recycled: [UInt64] = []
    /// Committed pages this transaction no longer needs (freed at `txid`).
    var freed: [UInt64] = []
    /// Free pages of the file that this transaction may reuse (no reader can see them).
    var reusable: [UInt64]
    /// Free pages it may not reuse yet, with the transaction that freed them.
    var held: [FreePage]
    var pageCount: UInt64
    /// Trees opened or changed, by name.
    var trees: [String: TreeState] = [:]
    var catalogRoot: UInt64
    var finished = false
    /// The changes as journal operations (``BTreeJournal``), and where each one ends.
    var journal = ByteWriter(capacity: 4096)
    var journalBoundaries: [Int] = []

    struct TreeState {
        var root: UInt64
        var count: UInt64
        var changed = false
    }

    var pageSize: Int { store.pageSize }
    var path: String { store.path }

    /// `checkpointed`: transaction id of the newest checkpoint on disk.
    init(file: BTreeFile, store: PageStore, base: MetaPage, free: [FreePage], oldestReader: UInt64?, checkpointed: UInt64) {
        self.file = file
        self.store = store
        self.base = base
        self.txid = base.txid + 1
        self.pageCount = base.pageCount
        self.catalogRoot = base.catalogRoot
        // A page freed by transaction F is reachable from snapshots before F. It may be
        // reused when no reader holds such a snapshot, and when no checkpoint on disk
        // reaches it: it was freed at or before the newest checkpoint, or written by no
        // checkpoint at all. (F ≤ base.txid < txid always.)
        var reusable: [UInt64] = []
        var held: [FreePage] = []
        for entry in free {
            if let oldest = oldestReader, oldest < entry.freedAt {
                held.append(entry)
            } else if entry.freedAt > checkpointed && !entry.unwritten {
                held.append(entry)
            } else {
                reusable.append(entry.page)
            }
        }
        self.reusable = reusable
        self.held = held
    }

    // MARK: - Pages

    func page(_ number: UInt64) throws -> Page {
        if let page = dirty[number] { return page }
        return try committedPage(number)
    }

    private func committedPage(_ number: UInt64) throws -> Page {
        guard number >= 2, number < pageCount else {
            throw StoreError(.corrupted, "page number \(number) out of range (\(pageCount) pages)", path: path)
        }
        return try store.read(number)
    }

    /// A page number for a new page of this transaction.
    private func takePageNumber() -> UInt64 {
        if let n = recycled.popLast() { return n }
        if let n = reusable.popLast() { return n }
        defer { pageCount += 1 }
        return pageCount
    }

    /// A fresh page of this transaction.
    func allocatePage(kind: Page.Kind) -> UInt64 {
        newPage(kind: kind).number
    }

    /// A fresh page of this transaction.
    func newPage(kind: Page.Kind) -> Page {
        let page = Page.make(number: takePageNumber(), kind: kind, size: pageSize, txid: txid)
        dirty[page.number] = page
        return page
    }

    /// A page of this transaction holding `number`'s content: `number` itself when it
    /// already is one, else a copy (and `number` is freed).
    func writable(_ number: UInt64) throws -> Page {
        if let page = dirty[number] { return page }
        let original = try committedPage(number)
        let copy = Page.make(number: takePageNumber(), copying: original)
        copy.txid = txid
        dirty[copy.number] = copy
        freed.append(number)
        return copy
    }

    func freePage(_ number: UInt64) {
        if dirty.removeValue(forKey: number) != nil {
            recycled.append(number)
        } else {
            freed.append(number)
        }
    }

    // MARK: - Trees

    /// Where `name` is in `trees`, read from the catalog on first use (root 0 when the
    /// catalog has no such tree). The index stays valid while `trees` gains no key, so a
    /// change reads and writes the state without hashing the name again.
    private func treeIndex(_ name: String) throws -> [String: TreeState].Index {
        if let index = trees.index(forKey: name) { return index }
        var state = TreeState(root: 0, count: 0)
        if let value = try BTree.get(Array(name.utf8), root: catalogRoot, in: self) {
            guard value.count == 16 else {
                throw StoreError(.corrupted, "catalog entry of tree \(name) has \(value.count) bytes", path: path)
            }
            state = value.withUnsafeBytes { TreeState(root: LittleEndian.u64($0, 0), count: LittleEndian.u64($0, 8)) }
        }
        trees[name] = state
        return trees.index(forKey: name)!
    }

    private func tree(_ name: String) throws -> TreeState {
        trees.values[try treeIndex(name)]
    }

    private func checkOpen() throws {
        if finished { throw StoreError(.invalidArgument, "write transaction \(txid) is finished", path: path) }
    }

    /// Checks an operation's tree name, key and value against the file's limits (1 to 255
    /// bytes of name, ``BTree/maxKeySize(pageSize:)``, ``BTreeJournal/maxValueSize``): what
    /// ``put(_:_:in:)`` and ``delete(_:in:)`` refuse, and ``BTreeFile/apply(_:)`` before it
    /// queues operations.
    static func check(_ operation: BTreeOperation, pageSize: Int, path: String) throws {
        let (name, key, value): (String, [UInt8], [UInt8]?) = switch operation {
        case .put(let tree, let key, let value): (tree, key, value)
        case .delete(let tree, let key): (tree, key, nil)
        }
        guard !name.isEmpty, name.utf8.count <= 255 else {
            throw StoreError(.invalidArgument, "tree name of \(name.utf8.count) bytes (1 to 255)", path: path)
        }
        guard key.count <= BTree.maxKeySize(pageSize: pageSize) else {
            throw StoreError(.invalidArgument, "key of \(key.count) bytes; the largest is \(BTree.maxKeySize(pageSize: pageSize))", path: path)
        }
        if let value, value.count > BTreeJournal.maxValueSize {
            throw StoreError(.invalidArgument, "value of \(value.count) bytes; the largest is \(BTreeJournal.maxValueSize)", path: path)
        }
    }

    /// Runs one operation.
    func apply(_ operation: BTreeOperation) throws {
        switch operation {
        case .put(let tree, let key, let value): try put(key, value, in: tree)
        case .delete(let tree, let key): try delete(key, in: tree)
        }
    }

    /// Inserts or replaces.
    public func put(_ key: [UInt8], _ value: [UInt8], in name: String) throws {
        try checkOpen()
        try Self.check(.put(tree: name, key: key, value: value), pageSize: pageSize, path: path)
        let index = try treeIndex(name)
        var state = trees.values[index]
        let (root, added) = try insert(key, value, root: state.root)
        state.root = root
        if added { state.count += 1 }
        state.changed = true
        trees.values[index] = state
        BTreeJournal.encodePut(key, value, tree: name, into: &journal)
        journalBoundaries.append(journal.count)
    }

    public func get(_ key: [UInt8], in name: String) throws -> [UInt8]? {
        try checkOpen()
        return try BTree.get(key, root: try tree(name).root, in: self)
    }

    /// Removes `key`; returns whether it was there.
    @discardableResult
    public func delete(_ key: [UInt8], in name: String) throws -> Bool {
        try checkOpen()
        try Self.check(.delete(tree: name, key: key), pageSize: pageSize, path: path)
        let index = try treeIndex(name)
        var state = trees.values[index]
        let (root, removed) = try remove(key, root: state.root)
        guard removed else { return false }
        state.root = root
        state.count -= 1
        state.changed = true
        trees.values[index] = state
        BTreeJournal.encodeDelete(key, tree: name, into: &journal)
        journalBoundaries.append(journal.count)
        return true
    }

    /// A cursor over `name` as this transaction sees it; seek again after changing the tree.
    public func cursor(_ name: String) throws -> Cursor {
        try checkOpen()
        return Cursor(reader: self, root: try tree(name).root)
    }

    public func count(_ name: String) throws -> Int {
        Int(try tree(name).count)
    }

    // MARK: - Commit preparation

    /// Writes changed trees into the catalog; returns the new state's meta (same
    /// checkpoint and freelist chain as the base), the pages to publish, and the free
    /// pages after this transaction.
    func prepareCommit() throws -> (meta: MetaPage, pages: [Page], free: [FreePage]) {
        try updateCatalog()
        var meta = base
        meta.txid = txid
        meta.catalogRoot = catalogRoot
        meta.pageCount = pageCount
        return (meta, Array(dirty.values), freeList(sorted: false))
    }

    /// For a checkpoint (a transaction with no changes of its own): frees the previous
    /// freelist chain, writes the free list into fresh pages and returns the meta of the
    /// next checkpoint and the chain's pages (sealed when the checkpoint writes them).
    func prepareCheckpoint() throws -> (meta: MetaPage, pages: [Page], free: [FreePage]) {
        // The previous chain's pages are freed by this transaction; the new list is
        // written into pages taken now (a page listed as free is never one of them).
        var number = base.freelistHead
        var guardCount = 0
        while number != 0 {
            let page = try self.page(number)
            freed.append(number)
            number = page.link
            guardCount += 1
            if guardCount > 1 << 24 { throw StoreError(.corrupted, "freelist chain does not end", path: path) }
        }
        let perPage = FreelistPage.entriesPerPage(pageSize: pageSize)
        let upperBound = reusable.count + held.count + freed.count + recycled.count
        let chainLength = (upperBound + perPage - 1) / perPage
        let chain = (0..<chainLength).map { _ in allocatePage(kind: .freelist) }
        let free = freeList(sorted: true)
        for (i, number) in chain.enumerated() {
            let slice = free[min(free.count, i * perPage)..<min(free.count, (i + 1) * perPage)]
            FreelistPage.fill(&dirty[number]!, entries: slice, next: i + 1 < chain.count ? chain[i + 1] : 0)
        }
        var meta = base
        meta.txid = txid
        meta.freelistHead = chain.first ?? 0
        meta.pageCount = pageCount
        meta.checkpoint = base.checkpoint + 1
        return (meta, Array(dirty.values), free)
    }

    private func updateCatalog() throws {
        for (name, state) in trees.sorted(by: { $0.key < $1.key }) where state.changed {
            var value = [UInt8](repeating: 0, count: 16)
            value.withUnsafeMutableBytes {
                LittleEndian.store(state.root, $0, 0)
                LittleEndian.store(state.count, $0, 8)
            }
            let key = Array(name.utf8)
            if state.root == 0 {
                catalogRoot = try remove(key, root: catalogRoot).root
            } else {
                catalogRoot = try insert(key, value, root: catalogRoot).root
            }
        }
    }

    /// Every free page after this transaction (by page number when `sorted`, for the
    /// chain a checkpoint writes). A page freed here is unwritten when no checkpoint wrote
    /// it (it was committed since the last one).
    private func freeList(sorted: Bool) -> [FreePage] {
        var free = held
        free += reusable.map { FreePage(page: $0, freedAt: 0) }
        free += recycled.map { FreePage(page: $0, freedAt: 0) }
        free += freed.map { FreePage(page: $0, freedAt: txid, unwritten: store.isPending($0)) }
        if sorted { free.sort { $0.page < $1.page } }
        return free
    }
}

/// A free page and the transaction that freed it (0: free since before any live reader).
struct FreePage: Equatable, Sendable {
    var page: UInt64
    var freedAt: UInt64
    /// No checkpoint wrote this page (it was committed and freed between two), so no
    /// meta page on disk reaches it. Kept in memory only; a checkpoint clears it.
    var unwritten = false
}

/// Freelist pages: the page header (kind 4, count = entries, link = next page), then
/// `count` entries of u64 page number and u64 freeing transaction.
enum FreelistPage {
    static let entrySize = 16

    static func entriesPerPage(pageSize: Int) -> Int { (pageSize - Page.headerSize) / entrySize }

    static func fill(_ page: inout Page, entries: ArraySlice<FreePage>, next: UInt64) {
        page.link = next
        page.setU16(10, UInt16(entries.count))
        var offset = Page.headerSize
        for entry in entries {
            page.setU64(offset, entry.page)
            page.setU64(offset + 8, entry.freedAt)
            offset += entrySize
        }
    }

    static func entries(_ page: Page) throws -> [FreePage] {
        guard page.kind == .freelist, page.count <= entriesPerPage(pageSize: page.size) else {
            throw StoreError(.corrupted, "page \(page.number) is not a freelist page")
        }
        return (0..<page.count).map { i in
            FreePage(page: page.u64(Page.headerSize + i * entrySize), freedAt: page.u64(Page.headerSize + i * entrySize + 8))
        }
    }
}
