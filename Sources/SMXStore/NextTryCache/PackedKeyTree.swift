/// A B+tree of distinct ``PackedKey``s: the storage behind ``NextTryCache``.
///
/// Leaves (``PackedKeyLeaf``) hold 128 to 512 packed 20-byte keys in buffers sized to their
/// contents; inner nodes (``PackedKeyInner``) hold 16 to 64 children. The root is exempt
/// from the minimums, and so is the rightmost leaf: an insert past the last key of a full
/// rightmost leaf starts a new leaf holding only that key (SQLite's 100/0 split for
/// appends), so keys that arrive in increasing order, as refills and mostly reschedules do,
/// fill their leaves completely. Every other full leaf or node splits in half.
///
/// Search, insert and remove cost O(log n) steps plus the shift inside one leaf; a node
/// that falls below its minimum merges with or borrows from a neighbour on the way back
/// up. Not thread-safe.
struct PackedKeyTree {
    /// Bytes malloc adds to each allocation (its chunk header and rounding), counted in
    /// ``memoryBytes``.
    static let mallocOverhead = 16

    private(set) var root: PackedKeyNode = .leaf(PackedKeyLeaf())
    private(set) var count = 0

    /// The smallest key, or nil when empty.
    var first: PackedKey? {
        guard count > 0 else { return nil }
        var node = root
        while case .inner(let inner) = node { node = inner.children[0] }
        guard case .leaf(let leaf) = node else { return nil }
        return leaf[0]
    }

    /// The largest key, or nil when empty.
    var last: PackedKey? {
        guard count > 0 else { return nil }
        var node = root
        while case .inner(let inner) = node { node = inner.children[inner.children.count - 1] }
        guard case .leaf(let leaf) = node else { return nil }
        return leaf[leaf.count - 1]
    }

    func contains(_ key: PackedKey) -> Bool {
        var node = root
        while case .inner(let inner) = node { node = inner.children[inner.childIndex(for: key)] }
        guard case .leaf(let leaf) = node else { return false }
        let index = leaf.lowerBound(key)
        return index < leaf.count && leaf[index] == key
    }

    /// Inserts `key`; false if it was already there.
    mutating func insert(_ key: PackedKey) -> Bool {
        switch Self.insert(key, into: root, onRightEdge: true) {
        case .duplicate:
            return false
        case .inserted:
            break
        case .split(let separator, let right):
            root = .inner(PackedKeyInner(separators: [separator], children: [root, right]))
        }
        count += 1
        return true
    }

    /// Removes `key`; false if it was not there.
    mutating func remove(_ key: PackedKey) -> Bool {
        let removed = Self.modifyLeaf(in: root, choosing: { $0.childIndex(for: key) }) { leaf in
            let index = leaf.lowerBound(key)
            guard index < leaf.count, leaf[index] == key else { return false }
            leaf.remove(at: index)
            return true
        }
        if removed {
            count -= 1
            collapseRoot()
        }
        return removed
    }

    /// Removes and returns the largest key (the tree must not be empty).
    mutating func removeLast() -> PackedKey {
        let last = Self.modifyLeaf(in: root, choosing: { $0.children.count - 1 }) { leaf in
            let key = leaf[leaf.count - 1]
            leaf.removeLast(1)
            return key
        }
        count -= 1
        collapseRoot()
        return last
    }

    /// Removes the smallest keys that are due at `now`, at most `limit`, appending them to
    /// `due` in order.
    mutating func removeDue(now: UInt64, limit: Int, into due: inout [NextTryKey]) {
        var remaining = limit
        while remaining > 0 && count > 0 {
            let taken = Self.modifyLeaf(in: root, choosing: { _ in 0 }) { leaf in
                let n = leaf.duePrefixCount(now: now, limit: remaining)
                for index in 0..<n { due.append(leaf[index].key) }
                leaf.removeFirst(n)
                return n
            }
            guard taken > 0 else { return }
            count -= taken
            remaining -= taken
            collapseRoot()
        }
    }

    /// Visits every key in order.
    func forEach(_ body: (PackedKey) throws -> Void) rethrows {
        try Self.forEach(in: root, body)
    }

    /// Bytes the tree allocates: every node and buffer, with malloc's per-allocation
    /// overhead. O(number of nodes), about n / 300.
    var memoryBytes: Int {
        Self.memoryBytes(of: root)
    }

    private enum InsertOutcome {
        case duplicate
        case inserted
        /// The node split: `right` holds the upper part, every key of which is `>= separator`.
        case split(separator: PackedKey, right: PackedKeyNode)
    }

    private static func insert(_ key: PackedKey, into node: PackedKeyNode, onRightEdge: Bool) -> InsertOutcome {
        switch node {
        case .leaf(let leaf):
            return insert(key, into: leaf, onRightEdge: onRightEdge)
        case .inner(let inner):
            let index = inner.childIndex(for: key)
            let isLast = index == inner.children.count - 1
            let outcome = insert(key, into: inner.children[index], onRightEdge: onRightEdge && isLast)
            guard case .split(let separator, let right) = outcome else { return outcome }
            inner.insertChild(right, separator: separator, after: index)
            guard inner.children.count > PackedKeyInner.maxChildren else { return .inserted }
            let (up, newRight) = inner.splitOffUpperHalf()
            return .split(separator: up, right: .inner(newRight))
        }
    }

    private static func insert(_ key: PackedKey, into leaf: PackedKeyLeaf, onRightEdge: Bool) -> InsertOutcome {
        let index = leaf.lowerBound(key)
        if index < leaf.count && leaf[index] == key { return .duplicate }
        if leaf.count < PackedKeyLeaf.maxCount {
            leaf.insert(key, at: index)
            return .inserted
        }
        if onRightEdge && index == leaf.count {
            let right = PackedKeyLeaf()
            right.insert(key, at: 0)
            return .split(separator: key, right: .leaf(right))
        }
        let right = leaf.splitOffUpperHalf()
        if index <= leaf.count {
            leaf.insert(key, at: index)
        } else {
            right.insert(key, at: index - leaf.count)
        }
        return .split(separator: right[0], right: .leaf(right))
    }

    /// Descends to one leaf, taking child `choose(node)` at each inner node, runs `body` on
    /// it, and repairs underfull children on the way back up.
    private static func modifyLeaf<Result>(
        in node: PackedKeyNode,
        choosing choose: (PackedKeyInner) -> Int,
        _ body: (PackedKeyLeaf) -> Result
    ) -> Result {
        switch node {
        case .leaf(let leaf):
            return body(leaf)
        case .inner(let inner):
            let index = choose(inner)
            let result = modifyLeaf(in: inner.children[index], choosing: choose, body)
            inner.repairChild(at: index)
            return result
        }
    }

    /// A root with one child gives way to that child.
    private mutating func collapseRoot() {
        while case .inner(let inner) = root, inner.children.count == 1 {
            root = inner.children[0]
        }
    }

    private static func forEach(in node: PackedKeyNode, _ body: (PackedKey) throws -> Void) rethrows {
        switch node {
        case .leaf(let leaf):
            for index in 0..<leaf.count { try body(leaf[index]) }
        case .inner(let inner):
            for child in inner.children { try forEach(in: child, body) }
        }
    }

    private static func memoryBytes(of node: PackedKeyNode) -> Int {
        switch node {
        case .leaf(let leaf):
            return leaf.memoryBytes
        case .inner(let inner):
            return inner.children.reduce(inner.memoryBytes) { $0 + memoryBytes(of: $1) }
        }
    }
}
