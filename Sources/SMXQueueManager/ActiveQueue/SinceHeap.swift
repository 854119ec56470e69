import SMXStore

/// The entries of one timed state of the ``ActiveQueue`` (awaiting resolution, at an agent)
/// by the time they entered it, oldest on top: a binary min-heap of `(since, id)`. Every
/// entry of that state has an element; elements of entries that moved on (stale ones) stay
/// until they reach the top or the heap is rebuilt, and the queue drops them then. So the
/// next expiry is the top, and the expired entries are a walk over the top of the heap that
/// never descends below an element still in time.
struct SinceHeap: Sendable {
    struct Element: Comparable, Sendable {
        var since: Timestamp
        var id: RecipientID

        static func < (a: Element, b: Element) -> Bool { a.since != b.since ? a.since < b.since : a.id < b.id }
    }

    private(set) var elements: [Element] = []

    var count: Int { elements.count }
    var top: Element? { elements.first }

    mutating func push(_ element: Element) {
        elements.append(element)
        var child = elements.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard elements[child] < elements[parent] else { break }
            elements.swapAt(child, parent)
            child = parent
        }
    }

    mutating func popTop() {
        guard !elements.isEmpty else { return }
        let last = elements.removeLast()
        guard !elements.isEmpty else { return }
        elements[0] = last
        siftDown(from: 0)
    }

    /// Replaces the elements (heapified in place).
    mutating func rebuild(_ new: [Element]) {
        elements = new
        var index = elements.count / 2
        while index > 0 {
            index -= 1
            siftDown(from: index)
        }
    }

    /// Calls `body` with every element for which `due` holds, where `due` holds for an
    /// element whenever it holds for a later one (the heap order): elements below one that is
    /// not due are never visited.
    func walk(while due: (Element) -> Bool, _ body: (Element) -> Void) {
        var stack: [Int] = elements.isEmpty ? [] : [0]
        while let index = stack.popLast() {
            let element = elements[index]
            guard due(element) else { continue }
            body(element)
            let left = 2 * index + 1
            if left < elements.count { stack.append(left) }
            if left + 1 < elements.count { stack.append(left + 1) }
        }
    }

    private mutating func siftDown(from start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < elements.count else { return }
            var least = left
            if left + 1 < elements.count, elements[left + 1] < elements[left] { least = left + 1 }
            guard elements[least] < elements[parent] else { return }
            elements.swapAt(least, parent)
            parent = least
        }
    }
}
