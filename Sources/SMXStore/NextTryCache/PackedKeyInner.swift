/// A node of ``PackedKeyTree`` above the leaves.
///
/// `separators[i]` is the smallest key that may live under `children[i + 1]`: every key
/// under `children[i]` is below it and every key under `children[i + 1]` is at or above it.
/// Inner nodes are few (one per 64 leaves or fewer), so they use plain arrays.
final class PackedKeyInner {
    /// Most children an inner node has.
    static let maxChildren = 64
    /// Fewest children an inner node other than the root has.
    static let minChildren = 16
    /// Bytes of the object itself (16 of header, two array references), as malloc rounds it.
    static let objectBytes = 48

    var separators: [PackedKey]
    var children: [PackedKeyNode]

    init(separators: [PackedKey], children: [PackedKeyNode]) {
        self.separators = separators
        self.children = children
    }

    /// The child whose key range holds `key`.
    func childIndex(for key: PackedKey) -> Int {
        let separators = separators
        var low = 0
        var high = separators.count
        while low < high {
            let mid = (low &+ high) >> 1
            if key < separators[mid] { high = mid } else { low = mid &+ 1 }
        }
        return low
    }

    /// Inserts `right`, split off `children[index]`, with its lower bound.
    func insertChild(_ right: PackedKeyNode, separator: PackedKey, after index: Int) {
        separators.insert(separator, at: index)
        children.insert(right, at: index + 1)
    }

    /// Moves the upper half of the children into a new node; returns it with the separator
    /// that goes up to the parent.
    func splitOffUpperHalf() -> (separator: PackedKey, right: PackedKeyInner) {
        let mid = children.count / 2
        let right = PackedKeyInner(separators: Array(separators[mid...]), children: Array(children[mid...]))
        let separator = separators[mid - 1]
        separators.removeSubrange((mid - 1)...)
        children.removeSubrange(mid...)
        return (separator, right)
    }

    /// After `children[index]` lost keys: if it is now below its minimum, merges it with a
    /// neighbour (left if it has one) when both fit in one node, or else moves keys or
    /// children over from the neighbour until the two hold the same number.
    func repairChild(at index: Int) {
        guard children.count > 1, children[index].isUnderfull else { return }
        let j = index > 0 ? index - 1 : index
        switch (children[j], children[j + 1]) {
        case (.leaf(let left), .leaf(let right)):
            let total = left.count + right.count
            if total <= PackedKeyLeaf.maxCount {
                left.append(from: right, 0..<right.count)
                removeChild(at: j + 1)
                return
            }
            let target = total / 2
            if left.count > target {
                right.prepend(from: left, target..<left.count)
                left.removeLast(left.count - target)
            } else {
                let moved = target - left.count
                left.append(from: right, 0..<moved)
                right.removeFirst(moved)
            }
            separators[j] = right[0]
        case (.inner(let left), .inner(let right)):
            let total = left.children.count + right.children.count
            if total <= Self.maxChildren {
                left.separators.append(separators[j])
                left.separators.append(contentsOf: right.separators)
                left.children.append(contentsOf: right.children)
                removeChild(at: j + 1)
                return
            }
            let allSeparators = left.separators + [separators[j]] + right.separators
            let allChildren = left.children + right.children
            let leftCount = total / 2
            left.separators = Array(allSeparators[..<(leftCount - 1)])
            left.children = Array(allChildren[..<leftCount])
            separators[j] = allSeparators[leftCount - 1]
            right.separators = Array(allSeparators[leftCount...])
            right.children = Array(allChildren[leftCount...])
        default:
            preconditionFailure("PackedKeyTree: siblings at different depths")
        }
    }

    /// Bytes this node allocates: the object and its two arrays (32-byte array headers),
    /// with malloc's chunk header for each.
    var memoryBytes: Int {
        Self.objectBytes
            + 32 + separators.capacity * MemoryLayout<PackedKey>.stride + PackedKeyTree.mallocOverhead
            + 32 + children.capacity * MemoryLayout<PackedKeyNode>.stride + PackedKeyTree.mallocOverhead
    }

    private func removeChild(at index: Int) {
        separators.remove(at: index - 1)
        children.remove(at: index)
    }
}

/// A node of ``PackedKeyTree``: one reference (the enum fits in a pointer).
enum PackedKeyNode {
    case leaf(PackedKeyLeaf)
    case inner(PackedKeyInner)

    var isUnderfull: Bool {
        switch self {
        case .leaf(let leaf): leaf.count < PackedKeyLeaf.minCount
        case .inner(let inner): inner.children.count < PackedKeyInner.minChildren
        }
    }
}
