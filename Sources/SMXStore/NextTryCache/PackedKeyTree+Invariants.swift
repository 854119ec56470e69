extension PackedKeyTree {
    /// Checks the tree's invariants and throws a ``StoreError/Code/corrupted`` error naming
    /// the first one broken:
    ///
    /// 1. Every leaf is at the same depth.
    /// 2. Keys strictly increase within each leaf and from each leaf to the next.
    /// 3. Every key under an inner node's child `i` is `>= separators[i - 1]` and
    ///    `< separators[i]`; an inner node has one separator fewer than children.
    /// 4. Leaves hold at most 512 keys and, except the root and the rightmost leaf, at least
    ///    128; the rightmost leaf of a tree with inner nodes is not empty. Inner nodes hold
    ///    at most 64 children and at least 16, the root at least 2.
    /// 5. A leaf's buffer holds its keys with fewer than `2 * granule + 1` unused.
    /// 6. ``count`` is the number of keys.
    func verify() throws {
        var checker = Checker()
        try checker.check(root, depth: 0, lower: nil, upper: nil, isRoot: true, isRightmost: true)
        guard checker.keys == count else {
            throw Self.violation("count is \(count) but the leaves hold \(checker.keys) keys")
        }
    }

    static func violation(_ message: String) -> StoreError {
        StoreError(.corrupted, "NextTryCache: \(message)")
    }

    private struct Checker {
        var keys = 0
        var leafDepth: Int?
        var previous: PackedKey?

        mutating func check(
            _ node: PackedKeyNode, depth: Int, lower: PackedKey?, upper: PackedKey?, isRoot: Bool, isRightmost: Bool
        ) throws {
            switch node {
            case .leaf(let leaf):
                try checkLeaf(leaf, depth: depth, lower: lower, upper: upper, isRoot: isRoot, isRightmost: isRightmost)
            case .inner(let inner):
                let n = inner.children.count
                guard inner.separators.count == n - 1 else {
                    throw violation("inner node at depth \(depth) has \(n) children and \(inner.separators.count) separators")
                }
                guard n <= PackedKeyInner.maxChildren, n >= (isRoot ? 2 : PackedKeyInner.minChildren) else {
                    throw violation("inner node at depth \(depth) has \(n) children")
                }
                for (index, child) in inner.children.enumerated() {
                    let low = index == 0 ? lower : inner.separators[index - 1]
                    let high = index == n - 1 ? upper : inner.separators[index]
                    if let low, let high, !(low < high) {
                        throw violation("separators out of order in an inner node at depth \(depth)")
                    }
                    try check(child, depth: depth + 1, lower: low, upper: high,
                              isRoot: false, isRightmost: isRightmost && index == n - 1)
                }
            }
        }

        private mutating func checkLeaf(
            _ leaf: PackedKeyLeaf, depth: Int, lower: PackedKey?, upper: PackedKey?, isRoot: Bool, isRightmost: Bool
        ) throws {
            if let leafDepth, leafDepth != depth {
                throw violation("leaves at depths \(leafDepth) and \(depth)")
            }
            leafDepth = depth
            let minimum = isRoot ? 0 : isRightmost ? 1 : PackedKeyLeaf.minCount
            guard leaf.count >= minimum, leaf.count <= PackedKeyLeaf.maxCount else {
                throw violation("leaf at depth \(depth) holds \(leaf.count) keys")
            }
            guard leaf.capacity >= leaf.count, leaf.capacity - leaf.count <= 2 * PackedKeyLeaf.granule else {
                throw violation("leaf holding \(leaf.count) keys has room for \(leaf.capacity)")
            }
            for index in 0..<leaf.count {
                let key = leaf[index]
                if let previous, !(previous < key) {
                    throw violation("key \(key.key) follows \(previous.key)")
                }
                if let lower, key < lower {
                    throw violation("key \(key.key) is below its separator \(lower.key)")
                }
                if let upper, !(key < upper) {
                    throw violation("key \(key.key) is not below the next separator \(upper.key)")
                }
                previous = key
            }
            keys += leaf.count
        }

        private func violation(_ message: String) -> StoreError {
            PackedKeyTree.violation(message)
        }
    }
}
