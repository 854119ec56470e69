/// Copy-on-write deletion. A leaf that becomes empty is freed and its pointer removed from
/// the parent; a branch left with a single child is replaced by that child. Pages are not
/// merged while they still hold keys: a queue's keys (envelope ids, next-try times) leave
/// old pages empty in order, which frees them whole.
extension WriteTransaction {
    /// Removes `key` from the tree rooted at `root`; returns the new root (0 when the tree
    /// became empty) and whether the key was there.
    func remove(_ key: [UInt8], root: UInt64) throws -> (root: UInt64, removed: Bool) {
        try key.withUnsafeBytes { key in
            // Look first: a miss must not copy the path.
            guard try BTree.leafSlot(key, root: root, in: self) != nil else { return (root, false) }
            let result = try remove(key, from: root, depth: 0)
            return (result ?? 0, true)
        }
    }

    /// Returns the page that replaces `number` (nil: the subtree became empty).
    private func remove(_ key: UnsafeRawBufferPointer, from number: UInt64, depth: Int) throws -> UInt64? {
        guard depth < 64 else { throw StoreError(.corrupted, "tree deeper than 64 levels at page \(number)", path: path) }
        let page = try writable(number)
        switch page.kind {
        case .leaf:
            let (index, found) = page.search(key)
            guard found else { return page.number }
            try freeValue(of: page, slot: index)
            page.removeSlot(index)
            if page.count == 0 {
                freePage(page.number)
                return nil
            }
            return page.number
        case .branch:
            guard page.count > 0 else { throw StoreError(.corrupted, "branch page \(page.number) has no separators", path: path) }
            let childIndex = page.childIndex(for: key)
            if let replacement = try remove(key, from: page.child(childIndex), depth: depth + 1) {
                page.setChild(childIndex, replacement)
                return page.number
            }
            // The child is gone: drop its pointer and the separator beside it.
            if childIndex == 0 {
                page.link = page.child(1)
                page.removeSlot(0)
            } else {
                page.removeSlot(childIndex - 1)
            }
            if page.count == 0 {
                let only = page.link
                freePage(page.number)
                return only
            }
            return page.number
        default:
            throw StoreError(.corrupted, "page \(number) is not a tree node", path: path)
        }
    }
}
