extension NextTryCache {
    /// Checks the window's invariants and throws a ``StoreError/Code/corrupted`` error naming
    /// the first one broken: the tree's own (keys sorted and distinct, node sizes, uniform
    /// depth, count; see `PackedKeyTree.verify()`), at most ``capacity`` keys, and the
    /// horizon rule as far as the window alone can show it: every key below the horizon.
    /// Whether the window holds *every* index entry below the horizon needs the index;
    /// the model tests check that. O(n).
    public func verify() throws {
        try tree.verify()
        guard count <= capacity else {
            throw PackedKeyTree.violation("the window holds \(count) keys, more than its capacity \(capacity)")
        }
        if let horizon, let last = tree.last?.key, !(last < horizon) {
            throw PackedKeyTree.violation("key \(last) is not below the horizon \(horizon)")
        }
    }
}
