/// Copy-on-write insertion: every page on the path from the root to the leaf is copied to
/// a page of this transaction (once per transaction) and changed there; a full page splits
/// and pushes a separator up. Appends at the right edge split 100/0 (SQLite's quick
/// balance), so keys inserted in order fill pages instead of leaving them half empty.
extension WriteTransaction {
    /// Inserts or replaces `key` in the tree rooted at `root`; returns the new root,
    /// whether the key was new, and the tree's rightmost leaf when the insert went down the
    /// right edge (a page of this transaction, as is every page above it: keys above its
    /// last one can go straight into it, ``appendAtRightEdge(_:_:leaf:)``).
    func insert(_ key: [UInt8], _ value: [UInt8], root: UInt64) throws -> (root: UInt64, added: Bool, rightEdgeLeaf: UInt64?) {
        try key.withUnsafeBytes { key in
            try value.withUnsafeBytes { value in
                let overflow: (page: UInt64, length: Int)? = value.count > BTree.maxInlineValue(pageSize: pageSize)
                    ? (writeOverflow(value), value.count) : nil
                guard root != 0 else {
                    let leaf = newPage(kind: .leaf)
                    leaf.insertLeafCell(at: 0, key: key, value: value, overflow: overflow)
                    return (leaf.number, true, leaf.number)
                }
                let result = try insert(key, value, overflow: overflow, into: root, depth: 0)
                guard let split = result.split else { return (result.page, result.added, result.rightEdgeLeaf) }
                let newRoot = newPage(kind: .branch)
                newRoot.link = result.page
                split.key.withUnsafeBytes { newRoot.insertBranchCell(at: 0, key: $0, child: split.right) }
                return (newRoot.number, result.added, result.rightEdgeLeaf)
            }
        }
    }

    private struct InsertResult {
        var page: UInt64
        var split: (key: [UInt8], right: UInt64)?
        var added: Bool
        /// The rightmost leaf below (after any split), when the insert reached it.
        var rightEdgeLeaf: UInt64?
    }

    /// Appends `key` to `leaf`, the tree's rightmost leaf (from ``insert(_:_:root:)`` in this
    /// transaction, so it and every page above it are this transaction's and no copy is
    /// needed), when `key` is above its last key and the cell fits: no descent from the
    /// root. Keys arriving in order (envelope ids) mostly go this way. False: do a full
    /// insert.
    func appendAtRightEdge(_ key: [UInt8], _ value: [UInt8], leaf: UInt64) -> Bool {
        guard value.count <= BTree.maxInlineValue(pageSize: pageSize), let page = dirty[leaf],
              page.kind == .leaf, page.count > 0 else { return false }
        return key.withUnsafeBytes { key in
            guard page.compareKey(page.count - 1, key) < 0,
                  page.canHold(Page.leafCellSize(keyCount: key.count, storedValueCount: value.count)) else { return false }
            value.withUnsafeBytes { page.insertLeafCell(at: page.count, key: key, value: $0, overflow: nil) }
            return true
        }
    }

    private func insert(
        _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, overflow: (page: UInt64, length: Int)?,
        into number: UInt64, depth: Int
    ) throws -> InsertResult {
        guard depth < 64 else { throw StoreError(.corrupted, "tree deeper than 64 levels at page \(number)", path: path) }
        let page = try writable(number)
        switch page.kind {
        case .leaf:
            let (index, found) = page.search(key)
            if found {
                try freeValue(of: page, slot: index)
                page.removeSlot(index)
            }
            let stored = overflow == nil ? value.count : 8
            let need = Page.leafCellSize(keyCount: key.count, storedValueCount: stored)
            if page.canHold(need) {
                page.insertLeafCell(at: index, key: key, value: value, overflow: overflow)
                return InsertResult(page: page.number, split: nil, added: !found, rightEdgeLeaf: page.number)
            }
            let split = splitLeaf(page, inserting: key, value, overflow: overflow, at: index)
            return InsertResult(page: page.number, split: split, added: !found, rightEdgeLeaf: split.right)
        case .branch:
            let childIndex = page.childIndex(for: key)
            let result = try insert(key, value, overflow: overflow, into: page.child(childIndex), depth: depth + 1)
            page.setChild(childIndex, result.page)
            // Down the right edge only through the last child (a split of it stays last).
            let edge = childIndex == page.count ? result.rightEdgeLeaf : nil
            guard let split = result.split else { return InsertResult(page: page.number, split: nil, added: result.added, rightEdgeLeaf: edge) }
            // The new right page follows child `childIndex`: it becomes slot `childIndex`.
            if page.canHold(Page.branchCellSize(keyCount: split.key.count)) {
                split.key.withUnsafeBytes { page.insertBranchCell(at: childIndex, key: $0, child: split.right) }
                return InsertResult(page: page.number, split: nil, added: result.added, rightEdgeLeaf: edge)
            }
            let up = splitBranch(page, inserting: split.key, child: split.right, at: childIndex)
            return InsertResult(page: page.number, split: up, added: result.added, rightEdgeLeaf: edge)
        default:
            throw StoreError(.corrupted, "page \(number) is not a tree node", path: path)
        }
    }

    /// Splits leaf `page` (of this transaction) with the new cell at `index`; the left half
    /// stays in the page's number, the right half goes to a new page. Returns the separator
    /// (the right page's first key) and the right page. Cells are copied as they are.
    private func splitLeaf(
        _ page: Page, inserting key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer,
        overflow: (page: UInt64, length: Int)?, at index: Int
    ) -> (key: [UInt8], right: UInt64) {
        let right = newPage(kind: .leaf)
        let count = page.count
        if index == count {
            // Appending: the page stays as it is, the new cell starts the right page.
            right.insertLeafCell(at: 0, key: key, value: value, overflow: overflow)
            return (Array(key), right.number)
        }
        let newCellSize = Page.leafCellSize(keyCount: key.count, storedValueCount: overflow == nil ? value.count : 8)
        // Cell `i` of the page with the new one at `index`, with its slot.
        func cellSize(_ i: Int) -> Int {
            if i == index { return newCellSize }
            return page.cellBytes(i < index ? i : i - 1) + Page.slotSize
        }
        let cells = count + 1
        var total = 0
        for i in 0..<cells { total += cellSize(i) }
        var running = 0
        var at = 0
        while at < cells - 1 && running + cellSize(at) <= total / 2 {
            running += cellSize(at)
            at += 1
        }
        let splitAt = max(1, at)
        let left = Page.make(number: page.number, kind: .leaf, size: pageSize, txid: txid)
        for i in 0..<cells {
            let target = i < splitAt ? left : right
            if i == index {
                target.insertLeafCell(at: target.count, key: key, value: value, overflow: overflow)
            } else {
                target.appendCell(copying: i < index ? i : i - 1, of: page)
            }
        }
        dirty.insert(left)
        return (right.key(0), right.number)
    }

    /// Splits branch `page` with a new separator `key` → `child` at slot `index`. The
    /// middle separator moves up: returned with the new right page.
    private func splitBranch(_ page: Page, inserting key: [UInt8], child: UInt64, at index: Int) -> (key: [UInt8], right: UInt64) {
        var keys = (0..<page.count).map { page.key($0) }
        var children = (0..<page.childCount).map { page.child($0) }
        keys.insert(key, at: index)
        children.insert(child, at: index + 1)
        // Appending at the right edge (keys arriving in order), the left page keeps all
        // but the last two separators: one moves up, the other stays with the new right
        // page, which is never a branch without separators.
        let appending = index == page.count && keys.count >= 3
        let middle = appending ? keys.count - 2 : keys.count / 2
        let right = newPage(kind: .branch)
        let left = Page.make(number: page.number, kind: .branch, size: pageSize, txid: txid)
        left.link = children[0]
        for i in 0..<middle {
            keys[i].withUnsafeBytes { left.insertBranchCell(at: i, key: $0, child: children[i + 1]) }
        }
        right.link = children[middle + 1]
        for (n, i) in ((middle + 1)..<keys.count).enumerated() {
            keys[i].withUnsafeBytes { right.insertBranchCell(at: n, key: $0, child: children[i + 1]) }
        }
        dirty.insert(left)
        return (keys[middle], right.number)
    }

    /// Writes `value` into a chain of new overflow pages; returns the first.
    private func writeOverflow(_ value: UnsafeRawBufferPointer) -> UInt64 {
        let perPage = pageSize - Page.headerSize
        let count = (value.count + perPage - 1) / perPage
        let pages = (0..<count).map { _ in newPage(kind: .overflow) }
        for (i, page) in pages.enumerated() {
            let start = i * perPage
            let end = min(value.count, start + perPage)
            page.write(UnsafeRawBufferPointer(rebasing: value[start..<end]), at: Page.headerSize)
            page.link = i + 1 < pages.count ? pages[i + 1].number : 0
        }
        return pages[0].number
    }

    /// Frees the overflow chain of leaf slot `slot`, if it has one.
    func freeValue(of page: Page, slot: Int) throws {
        guard case .overflow(let first, let length) = page.storedValue(slot) else { return }
        var number = first
        var remaining = length
        let perPage = pageSize - Page.headerSize
        while remaining > 0 && number != 0 {
            let overflow = try self.page(number)
            freePage(number)
            number = overflow.link
            remaining -= perPage
        }
    }
}
