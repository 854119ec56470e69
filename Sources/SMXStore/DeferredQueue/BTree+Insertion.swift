/// Copy-on-write insertion: every page on the path from the root to the leaf is copied to
/// a page of this transaction (once per transaction) and changed there; a full page splits
/// and pushes a separator up. Appends at the right edge split 100/0 (SQLite's quick
/// balance), so keys inserted in order fill pages instead of leaving them half empty.
extension WriteTransaction {
    /// Inserts or replaces `key` in the tree rooted at `root`; returns the new root and
    /// whether the key was new.
    func insert(_ key: [UInt8], _ value: [UInt8], root: UInt64) throws -> (root: UInt64, added: Bool) {
        let overflow: (page: UInt64, length: Int)? = value.count > BTree.maxInlineValue(pageSize: pageSize)
            ? (try writeOverflow(value), value.count) : nil
        guard root != 0 else {
            let leaf = allocatePage(kind: .leaf)
            key.withUnsafeBytes { k in
                value.withUnsafeBytes { v in
                    dirty[leaf]!.insertLeafCell(at: 0, key: k, value: v, overflow: overflow)
                }
            }
            return (leaf, true)
        }
        let result = try insert(key, value, overflow: overflow, into: root, depth: 0)
        guard let split = result.split else { return (result.page, result.added) }
        let newRoot = allocatePage(kind: .branch)
        dirty[newRoot]!.link = result.page
        split.key.withUnsafeBytes { dirty[newRoot]!.insertBranchCell(at: 0, key: $0, child: split.right) }
        return (newRoot, result.added)
    }

    private struct InsertResult {
        var page: UInt64
        var split: (key: [UInt8], right: UInt64)?
        var added: Bool
    }

    private func insert(
        _ key: [UInt8], _ value: [UInt8], overflow: (page: UInt64, length: Int)?, into number: UInt64, depth: Int
    ) throws -> InsertResult {
        guard depth < 64 else { throw StoreError(.corrupted, "tree deeper than 64 levels at page \(number)", path: path) }
        let mine = try writable(number)
        switch dirty[mine]!.kind {
        case .leaf:
            let (index, found) = key.withUnsafeBytes { dirty[mine]!.search($0) }
            if found {
                try freeValue(of: dirty[mine]!, slot: index)
                dirty[mine]!.removeSlot(index)
            }
            let stored = overflow == nil ? value.count : 8
            let need = Page.leafCellSize(keyCount: key.count, storedValueCount: stored)
            if dirty[mine]!.canHold(need) {
                key.withUnsafeBytes { k in
                    value.withUnsafeBytes { v in
                        dirty[mine]!.insertLeafCell(at: index, key: k, value: v, overflow: overflow)
                    }
                }
                return InsertResult(page: mine, split: nil, added: !found)
            }
            let split = splitLeaf(mine, inserting: key, value, overflow: overflow, at: index)
            return InsertResult(page: mine, split: split, added: !found)
        case .branch:
            let childIndex = key.withUnsafeBytes { dirty[mine]!.childIndex(for: $0) }
            let child = dirty[mine]!.child(childIndex)
            let result = try insert(key, value, overflow: overflow, into: child, depth: depth + 1)
            dirty[mine]!.setChild(childIndex, result.page)
            guard let split = result.split else { return InsertResult(page: mine, split: nil, added: result.added) }
            // The new right page follows child `childIndex`: it becomes slot `childIndex`.
            if dirty[mine]!.canHold(Page.branchCellSize(keyCount: split.key.count)) {
                split.key.withUnsafeBytes { dirty[mine]!.insertBranchCell(at: childIndex, key: $0, child: split.right) }
                return InsertResult(page: mine, split: nil, added: result.added)
            }
            let up = splitBranch(mine, inserting: split.key, child: split.right, at: childIndex)
            return InsertResult(page: mine, split: up, added: result.added)
        default:
            throw StoreError(.corrupted, "page \(number) is not a tree node", path: path)
        }
    }

    /// A leaf cell as raw parts, to rebuild pages.
    private struct LeafCell {
        var key: [UInt8]
        var value: [UInt8]
        var overflow: (page: UInt64, length: Int)?
        var size: Int { Page.leafCellSize(keyCount: key.count, storedValueCount: overflow == nil ? value.count : 8) }
    }

    private func leafCells(_ page: Page) -> [LeafCell] {
        (0..<page.count).map { i in
            switch page.storedValue(i) {
            case .inline(let range): LeafCell(key: page.key(i), value: Array(page.bytes[range]), overflow: nil)
            case .overflow(let first, let length): LeafCell(key: page.key(i), value: [], overflow: (first, length))
            }
        }
    }

    /// Splits leaf `number` (of this transaction) with the new cell at `index`; the left half
    /// stays in `number`, the right half goes to a new page. Returns the separator (the right
    /// page's first key) and the right page.
    private func splitLeaf(
        _ number: UInt64, inserting key: [UInt8], _ value: [UInt8], overflow: (page: UInt64, length: Int)?, at index: Int
    ) -> (key: [UInt8], right: UInt64) {
        var cells = leafCells(dirty[number]!)
        let appending = index == cells.count
        cells.insert(LeafCell(key: key, value: value, overflow: overflow), at: index)
        let splitAt: Int
        if appending {
            splitAt = cells.count - 1
        } else {
            let total = cells.reduce(0) { $0 + $1.size }
            var running = 0
            var at = 0
            while at < cells.count - 1 && running + cells[at].size <= total / 2 {
                running += cells[at].size
                at += 1
            }
            splitAt = max(1, at)
        }
        let right = allocatePage(kind: .leaf)
        var left = Page(number: number, kind: .leaf, size: pageSize, txid: txid)
        for (i, cell) in cells[..<splitAt].enumerated() { add(cell, to: &left, at: i) }
        for (i, cell) in cells[splitAt...].enumerated() { add(cell, to: &dirty[right]!, at: i) }
        dirty[number] = left
        return (cells[splitAt].key, right)
    }

    private func add(_ cell: LeafCell, to page: inout Page, at i: Int) {
        cell.key.withUnsafeBytes { k in
            cell.value.withUnsafeBytes { v in
                page.insertLeafCell(at: i, key: k, value: v, overflow: cell.overflow)
            }
        }
    }

    /// Splits branch `number` with a new separator `key` → `child` at slot `index`. The
    /// middle separator moves up: returned with the new right page.
    private func splitBranch(_ number: UInt64, inserting key: [UInt8], child: UInt64, at index: Int) -> (key: [UInt8], right: UInt64) {
        let page = dirty[number]!
        var keys = (0..<page.count).map { page.key($0) }
        var children = (0..<page.childCount).map { page.child($0) }
        keys.insert(key, at: index)
        children.insert(child, at: index + 1)
        let appending = index == page.count
        let middle = appending ? keys.count - 1 : keys.count / 2
        let right = allocatePage(kind: .branch)
        var left = Page(number: number, kind: .branch, size: pageSize, txid: txid)
        left.link = children[0]
        for i in 0..<middle {
            keys[i].withUnsafeBytes { left.insertBranchCell(at: i, key: $0, child: children[i + 1]) }
        }
        dirty[right]!.link = children[middle + 1]
        for (n, i) in ((middle + 1)..<keys.count).enumerated() {
            keys[i].withUnsafeBytes { dirty[right]!.insertBranchCell(at: n, key: $0, child: children[i + 1]) }
        }
        dirty[number] = left
        return (keys[middle], right)
    }

    /// Writes `value` into a chain of new overflow pages; returns the first.
    func writeOverflow(_ value: [UInt8]) throws -> UInt64 {
        let perPage = pageSize - Page.headerSize
        let count = (value.count + perPage - 1) / perPage
        let numbers = (0..<count).map { _ in allocatePage(kind: .overflow) }
        for (i, number) in numbers.enumerated() {
            let start = i * perPage
            let end = min(value.count, start + perPage)
            dirty[number]!.bytes.replaceSubrange(Page.headerSize..<(Page.headerSize + end - start), with: value[start..<end])
            dirty[number]!.link = i + 1 < numbers.count ? numbers[i + 1] : 0
        }
        return numbers[0]
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
