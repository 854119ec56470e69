/// Copy-on-write deletion. A leaf that becomes empty is freed and its pointer removed from
/// the parent; a branch left with a single child is replaced by that child. Pages are not
/// merged while they still hold keys: a queue's keys (envelope ids, next-try times) leave
/// old pages empty in order, which frees them whole.
extension WriteTransaction {
    /// Removes `key` from the tree rooted at `root`; returns the new root (0 when the tree
    /// became empty) and whether the key was there.
    func remove(_ key: [UInt8], root: UInt64) throws -> (root: UInt64, removed: Bool) {
        guard root != 0 else { return (0, false) }
        // Look first: a miss must not copy the path.
        guard try BTree.get(key, root: root, in: self) != nil else { return (root, false) }
        let result = try remove(key, from: root, depth: 0)
        return (result ?? 0, true)
    }

    /// Returns the page that replaces `number` (nil: the subtree became empty).
    private func remove(_ key: [UInt8], from number: UInt64, depth: Int) throws -> UInt64? {
        guard depth < 64 else { throw StoreError(.corrupted, "tree deeper than 64 levels at page \(number)", path: path) }
        let mine = try writable(number)
        switch dirty[mine]!.kind {
        case .leaf:
            let (index, found) = key.withUnsafeBytes { dirty[mine]!.search($0) }
            guard found else { return mine }
            try freeValue(of: dirty[mine]!, slot: index)
            dirty[mine]!.removeSlot(index)
            if dirty[mine]!.count == 0 {
                freePage(mine)
                return nil
            }
            return mine
        case .branch:
            let childIndex = key.withUnsafeBytes { dirty[mine]!.childIndex(for: $0) }
            let child = dirty[mine]!.child(childIndex)
            if let replacement = try remove(key, from: child, depth: depth + 1) {
                dirty[mine]!.setChild(childIndex, replacement)
                return mine
            }
            // The child is gone: drop its pointer and the separator beside it.
            if childIndex == 0 {
                dirty[mine]!.link = dirty[mine]!.child(1)
                dirty[mine]!.removeSlot(0)
            } else {
                dirty[mine]!.removeSlot(childIndex - 1)
            }
            if dirty[mine]!.count == 0 {
                let only = dirty[mine]!.link
                freePage(mine)
                return only
            }
            return mine
        default:
            throw StoreError(.corrupted, "page \(number) is not a tree node", path: path)
        }
    }
}
