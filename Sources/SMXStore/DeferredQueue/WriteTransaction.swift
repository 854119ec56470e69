/// The one write transaction of a ``BTreeFile`` at a time. Changes go to copies of the
/// pages they touch (pages of this transaction, changed in place after the first copy)
/// and, as operations, to the commit's journal payload; nothing reaches the file until
/// ``BTreeFile/write(_:)`` commits. Readers keep seeing the snapshot they started with.
///
/// Trees are named; the catalog (itself a tree, rooted in the meta page) maps each name to
/// its root page and key count.
///
/// Only the writer's thread touches a transaction, and no access to its state overlaps
/// another, so its hot stored properties skip the run-time exclusivity check
/// (`@exclusivity(unchecked)`): on the insert path the checks cost about a tenth of the
/// CPU time (swift_beginAccess and its thread-local access set). The compile-time
/// checks still apply.
public final class WriteTransaction: PageReader {
    let file: BTreeFile
    let store: PageStore
    public let txid: UInt64
    let base: MetaPage
    /// Pages of this transaction, by number.
    @exclusivity(unchecked) var dirty = PageTable()
    /// Pages this transaction allocated and then freed: reusable at once.
    @exclusivity(unchecked) private var recycled: [UInt64] = []
    /// Committed pages this transaction no longer needs (freed at `txid`).
    @exclusivity(unchecked) var freed: [UInt64] = []
    /// The file's free pages when the transaction began (shared, not copied: the file
    /// changes its own only after the transaction is done with this one).
    @exclusivity(unchecked) private var freePages: FreePages
    /// The reusable pages not taken yet are `freePages.reusable[..<reusableLeft]`.
    @exclusivity(unchecked) private var reusableLeft: Int
    @exclusivity(unchecked) var pageCount: UInt64
    /// Trees opened or changed, by name.
    @exclusivity(unchecked) var trees: [String: TreeState] = [:]
    /// The two trees used last and their indices in `trees` (valid while `trees` gains no key).
    @exclusivity(unchecked) private var lastTrees: (TreeSlot?, TreeSlot?) = (nil, nil)
    private typealias TreeSlot = (name: String, index: [String: TreeState].Index)
    @exclusivity(unchecked) var catalogRoot: UInt64
    var finished = false
    /// The changes as journal operations (``BTreeJournal``), and where each one ends
    /// (buffers handed from one transaction to the next: ``JournalBuffers``).
    @exclusivity(unchecked) var journal: ByteWriter
    @exclusivity(unchecked) var journalBoundaries: [Int]
    /// Where the payload goes while the transaction runs (``BTreeJournalWriter/stream(_:at:)``),
    /// for transactions that will be journaled; nil for replays and checkpoints.
    var journalStream: BTreeJournalWriter?
    /// Payload bytes written ahead so far.
    @exclusivity(unchecked) private(set) var streamed = 0
    /// A write ahead failed: the journal saw a failed write (the file must refuse writes).
    private(set) var streamFailed = false
    /// Payload bytes written ahead at a time.
    static let streamChunk = 64 << 10

    struct TreeState {
        var root: UInt64
        var count: UInt64
        var changed = false
        /// The tree's rightmost leaf, a page of this transaction reached by an insert down
        /// the right edge (0: not known). Inserts elsewhere leave it the rightmost leaf
        /// (splits only add pages to the right of the page split, and the rightmost leaf
        /// keeps its number); a delete may merge it away, so deletes forget it.
        var rightEdgeLeaf: UInt64 = 0
    }

    var pageSize: Int { store.pageSize }
    var path: String { store.path }

    /// `freePages`: the file's free pages, released up to the oldest reader
    /// (``FreePages/release(oldestReader:)``); the transaction reuses their reusable ones.
    init(file: BTreeFile, store: PageStore, base: MetaPage, freePages: FreePages, journalBuffers: JournalBuffers = JournalBuffers()) {
        self.file = file
        self.store = store
        self.base = base
        self.txid = base.txid + 1
        self.pageCount = base.pageCount
        self.catalogRoot = base.catalogRoot
        self.freePages = freePages
        self.reusableLeft = freePages.reusable.count
        self.journal = journalBuffers.payload
        self.journalBoundaries = journalBuffers.boundaries
    }

    /// The journal buffers, emptied, for the next transaction (after the commit wrote them).
    func takeJournalBuffers() -> JournalBuffers {
        var buffers = JournalBuffers(payload: journal, boundaries: journalBoundaries)
        journal = ByteWriter(capacity: 0)
        journalBoundaries = []
        // A huge commit's buffers are not kept.
        if buffers.payload.bytes.capacity > 16 << 20 { return JournalBuffers() }
        buffers.payload.removeAll()
        buffers.boundaries.removeAll(keepingCapacity: true)
        return buffers
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
        if reusableLeft > 0 {
            reusableLeft -= 1
            return freePages.reusable[reusableLeft]
        }
        defer { pageCount += 1 }
        return pageCount
    }

    /// A fresh page of this transaction.
    func newPage(kind: Page.Kind) -> Page {
        let page = Page.make(number: takePageNumber(), kind: kind, size: pageSize, txid: txid)
        dirty.insert(page)
        return page
    }

    /// A page of this transaction holding `number`'s content: `number` itself when it
    /// already is one, else a copy (and `number` is freed).
    func writable(_ number: UInt64) throws -> Page {
        if let page = dirty[number] { return page }
        let original = try committedPage(number)
        let copy = Page.make(number: takePageNumber(), copying: original)
        copy.txid = txid
        dirty.insert(copy)
        freed.append(number)
        return copy
    }

    func freePage(_ number: UInt64) {
        if dirty.remove(number) != nil {
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
        // Changes alternate among a few trees: the last two names answer without hashing.
        if let last = lastTrees.0, last.name == name { return last.index }
        if let last = lastTrees.1, last.name == name {
            lastTrees = (lastTrees.1, lastTrees.0)
            return last.index
        }
        if let index = trees.index(forKey: name) {
            lastTrees = ((name, index), lastTrees.0)
            return index
        }
        var state = TreeState(root: 0, count: 0)
        if let value = try BTree.get(Array(name.utf8), root: catalogRoot, in: self) {
            guard value.count == 16 else {
                throw StoreError(.corrupted, "catalog entry of tree \(name) has \(value.count) bytes", path: path)
            }
            state = value.withUnsafeBytes { TreeState(root: LittleEndian.u64($0, 0), count: LittleEndian.u64($0, 8)) }
        }
        trees[name] = state
        // Adding a key may move the others: forget their indices.
        let index = trees.index(forKey: name)!
        lastTrees = ((name, index), nil)
        return index
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
        switch operation {
        case .put(let tree, let key, let value): try check(tree: tree, key: key, value: value, pageSize: pageSize, path: path)
        case .delete(let tree, let key): try check(tree: tree, key: key, value: nil, pageSize: pageSize, path: path)
        }
    }

    @inline(__always)
    static func check(tree name: String, key: [UInt8], value: [UInt8]?, pageSize: Int, path: String) throws {
        let nameBytes = name.utf8.count
        guard nameBytes > 0, nameBytes <= 255 else {
            throw StoreError(.invalidArgument, "tree name of \(nameBytes) bytes (1 to 255)", path: path)
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
        try Self.check(tree: name, key: key, value: value, pageSize: pageSize, path: path)
        let index = try treeIndex(name)
        var state = trees.values[index]
        if state.rightEdgeLeaf != 0, appendAtRightEdge(key, value, leaf: state.rightEdgeLeaf) {
            state.count += 1
        } else {
            let (root, added, edge) = try insert(key, value, root: state.root)
            state.root = root
            if added { state.count += 1 }
            if let edge { state.rightEdgeLeaf = edge }
        }
        state.changed = true
        trees.values[index] = state
        BTreeJournal.encodePut(key, value, tree: name, into: &journal)
        journalBoundaries.append(journal.count)
        try streamJournalIfDue()
    }

    public func get(_ key: [UInt8], in name: String) throws -> [UInt8]? {
        try checkOpen()
        return try BTree.get(key, root: try tree(name).root, in: self)
    }

    /// Removes `key`; returns whether it was there.
    @discardableResult
    public func delete(_ key: [UInt8], in name: String) throws -> Bool {
        try checkOpen()
        try Self.check(tree: name, key: key, value: nil, pageSize: pageSize, path: path)
        let index = try treeIndex(name)
        var state = trees.values[index]
        let (root, removed) = try remove(key, root: state.root)
        guard removed else { return false }
        state.root = root
        state.count -= 1
        state.rightEdgeLeaf = 0
        state.changed = true
        trees.values[index] = state
        BTreeJournal.encodeDelete(key, tree: name, into: &journal)
        journalBoundaries.append(journal.count)
        try streamJournalIfDue()
        return true
    }

    /// Writes the payload ahead in chunks while it fits one frame (a larger commit is
    /// framed differently and written whole at commit).
    private func streamJournalIfDue() throws {
        guard let journalStream, journal.count - streamed >= Self.streamChunk,
              journal.count <= BTreeJournal.framePayloadLimit else { return }
        let end = journal.count
        do {
            try journal.bytes.withUnsafeBytes { try journalStream.stream(UnsafeRawBufferPointer(rebasing: $0[streamed..<end]), at: streamed) }
        } catch {
            streamFailed = true
            throw error
        }
        streamed = end
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

    /// What a commit changes besides its pages: for ``FreePages/commit(taken:returned:freed:txid:)``.
    struct FreePageChanges {
        var taken: Int
        var returned: [UInt64]
        /// Committed pages freed, and whether a checkpoint wrote them.
        var freed: [(page: UInt64, written: Bool)]
    }

    /// Writes changed trees into the catalog; returns the new state's meta (same
    /// checkpoint and freelist chain as the base), the pages to publish, and the changes to
    /// the file's free pages. The transaction lets go of the free pages it was given.
    func prepareCommit() throws -> (meta: MetaPage, pages: [Page], free: FreePageChanges) {
        try updateCatalog()
        var meta = base
        meta.txid = txid
        meta.catalogRoot = catalogRoot
        meta.pageCount = pageCount
        let changes = takeFreePageChanges()
        return (meta, dirty.values, changes)
    }

    private func takeFreePageChanges() -> FreePageChanges {
        let changes = FreePageChanges(
            taken: freePages.reusable.count - reusableLeft, returned: recycled,
            freed: Array(zip(freed, store.pending(freed).map { !$0 }))
        )
        freePages = FreePages()
        reusableLeft = 0
        return changes
    }

    /// For a checkpoint (a transaction with no changes of its own): frees the previous
    /// freelist chain, writes the free list into fresh pages and returns the meta of the
    /// next checkpoint, the chain's pages (sealed when the checkpoint writes them), the
    /// free list it holds and the changes to the file's free pages that made it.
    func prepareCheckpoint() throws -> (meta: MetaPage, pages: [Page], free: [FreePage], changes: FreePageChanges) {
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
        let upperBound = freePages.count + freed.count + recycled.count
        let chainLength = (upperBound + perPage - 1) / perPage
        let chain = (0..<chainLength).map { _ in newPage(kind: .freelist) }
        var after = freePages
        let changes = takeFreePageChanges()
        after.commit(taken: changes.taken, returned: changes.returned, freed: changes.freed, txid: txid)
        let free = after.all.sorted { $0.page < $1.page }
        for (i, page) in chain.enumerated() {
            let slice = free[min(free.count, i * perPage)..<min(free.count, (i + 1) * perPage)]
            FreelistPage.fill(page, entries: slice, next: i + 1 < chain.count ? chain[i + 1].number : 0)
        }
        var meta = base
        meta.txid = txid
        meta.freelistHead = chain.first?.number ?? 0
        meta.pageCount = pageCount
        meta.checkpoint = base.checkpoint + 1
        return (meta, dirty.values, free, changes)
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
}

/// A transaction's journal payload and operation boundaries, kept from one transaction to
/// the next so that a large commit does not grow fresh buffers every time.
struct JournalBuffers {
    var payload = ByteWriter(capacity: 4096)
    var boundaries: [Int] = []
}

/// A free page and the transaction that freed it (0: free since before any live reader).
struct FreePage: Equatable, Sendable {
    var page: UInt64
    var freedAt: UInt64
}

/// Freelist pages: the page header (kind 4, count = entries, link = next page), then
/// `count` entries of u64 page number and u64 freeing transaction.
enum FreelistPage {
    static let entrySize = 16

    static func entriesPerPage(pageSize: Int) -> Int { (pageSize - Page.headerSize) / entrySize }

    static func fill(_ page: Page, entries: ArraySlice<FreePage>, next: UInt64) {
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
