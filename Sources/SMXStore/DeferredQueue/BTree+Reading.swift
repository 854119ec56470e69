/// Reading a tree: point lookups and cursors, over any view of the pages (a snapshot's
/// committed pages, or a write transaction's pages including its own changes).
protocol PageReader: AnyObject {
    func page(_ number: UInt64) throws -> Page
    var pageSize: Int { get }
    var path: String { get }
}

enum BTree {
    /// Longest key a tree takes (so that any leaf or branch holds several).
    static func maxKeySize(pageSize: Int) -> Int { min(1024, pageSize / 8) }
    /// Values longer than this go to overflow pages.
    static func maxInlineValue(pageSize: Int) -> Int { pageSize / 4 }

    static func get(_ key: [UInt8], root: UInt64, in reader: some PageReader) throws -> [UInt8]? {
        guard let (page, slot) = try key.withUnsafeBytes({ try leafSlot($0, root: root, in: reader) }) else { return nil }
        return try value(of: page, slot: slot, in: reader)
    }

    /// The leaf and slot holding `key`, or nil.
    static func leafSlot(_ key: UnsafeRawBufferPointer, root: UInt64, in reader: some PageReader) throws -> (page: Page, slot: Int)? {
        guard root != 0 else { return nil }
        var number = root
        var depth = 0
        while true {
            let page = try reader.page(number)
            switch page.kind {
            case .leaf:
                let (index, found) = page.search(key)
                return found ? (page, index) : nil
            case .branch:
                number = page.child(page.childIndex(for: key))
            default:
                throw corrupted(page, "a \(String(describing: page.kind)) page where a tree node should be", reader)
            }
            depth += 1
            if depth > 64 { throw corrupted(page, "tree deeper than 64 levels (a cycle?)", reader) }
        }
    }

    /// The value of leaf slot `slot`, following its overflow chain if it has one.
    static func value(of page: Page, slot: Int, in reader: some PageReader) throws -> [UInt8] {
        switch page.storedValue(slot) {
        case .inline(let range):
            return page.bytes(in: range)
        case .overflow(let first, let length):
            return try readOverflow(first: first, length: length, in: reader)
        }
    }

    static func readOverflow(first: UInt64, length: Int, in reader: some PageReader) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(min(length, 16 << 20))
        var number = first
        let perPage = reader.pageSize - Page.headerSize
        while out.count < length {
            guard number != 0 else {
                throw StoreError(.corrupted, "overflow chain ends after \(out.count) of \(length) bytes", path: reader.path)
            }
            let page = try reader.page(number)
            guard page.kind == .overflow else { throw corrupted(page, "expected an overflow page", reader) }
            let take = min(perPage, length - out.count)
            page.withUnsafeBytes { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[Page.headerSize..<(Page.headerSize + take)])) }
            number = page.link
        }
        return out
    }

    static func corrupted(_ page: Page, _ what: String, _ reader: some PageReader) -> StoreError {
        StoreError(.corrupted, "page \(page.number): \(what)", path: reader.path)
    }
}

/// A position in a tree: seek, then walk forwards or backwards in key order. Valid for the
/// life of the snapshot or transaction it came from; a write transaction's cursor must not
/// be used across changes to its tree (seek again).
public final class Cursor {
    private let reader: any PageReader
    private let root: UInt64
    /// From the root to the current leaf: (page, index of the child taken / slot).
    private var path: [(page: Page, index: Int)] = []

    init(reader: any PageReader, root: UInt64) {
        self.reader = reader
        self.root = root
    }

    public var isValid: Bool {
        guard let last = path.last else { return false }
        return last.index >= 0 && last.index < last.page.count
    }

    public var key: [UInt8]? {
        guard isValid, let last = path.last else { return nil }
        return last.page.key(last.index)
    }

    public func value() throws -> [UInt8]? {
        guard isValid, let last = path.last else { return nil }
        return try BTree.value(of: last.page, slot: last.index, in: reader)
    }

    /// Moves to the first key ≥ `key`; returns whether there is one.
    @discardableResult
    public func seek(_ key: [UInt8]) throws -> Bool {
        path = []
        guard root != 0 else { return false }
        var number = root
        while true {
            let page = try reader.page(number)
            if page.kind == .leaf {
                let (index, _) = key.withUnsafeBytes { page.search($0) }
                path.append((page, index))
                if index >= page.count { return try advanceToNextLeaf() }
                return true
            }
            guard page.kind == .branch else { throw BTree.corrupted(page, "not a tree node", reader) }
            let child = key.withUnsafeBytes { page.childIndex(for: $0) }
            path.append((page, child))
            number = page.child(child)
            if path.count > 64 { throw BTree.corrupted(page, "tree deeper than 64 levels", reader) }
        }
    }

    @discardableResult
    public func first() throws -> Bool { try seek([]) }

    @discardableResult
    public func last() throws -> Bool {
        path = []
        guard root != 0 else { return false }
        var number = root
        while true {
            let page = try reader.page(number)
            if page.kind == .leaf {
                path.append((page, page.count - 1))
                if page.count == 0 { return try retreatToPreviousLeaf() }
                return true
            }
            guard page.kind == .branch else { throw BTree.corrupted(page, "not a tree node", reader) }
            path.append((page, page.count))
            number = page.child(page.count)
            if path.count > 64 { throw BTree.corrupted(page, "tree deeper than 64 levels", reader) }
        }
    }

    @discardableResult
    public func next() throws -> Bool {
        guard !path.isEmpty else { return false }
        path[path.count - 1].index += 1
        if path[path.count - 1].index < path[path.count - 1].page.count { return true }
        return try advanceToNextLeaf()
    }

    @discardableResult
    public func prev() throws -> Bool {
        guard !path.isEmpty else { return false }
        path[path.count - 1].index -= 1
        if path[path.count - 1].index >= 0 { return true }
        return try retreatToPreviousLeaf()
    }

    /// From a leaf position past its end: the first slot of the next non-empty leaf.
    private func advanceToNextLeaf() throws -> Bool {
        while true {
            path.removeLast()
            guard let parent = path.last else { return false }
            let nextChild = parent.index + 1
            if nextChild < parent.page.childCount {
                path[path.count - 1].index = nextChild
                var number = parent.page.child(nextChild)
                while true {
                    let page = try reader.page(number)
                    if page.kind == .leaf {
                        path.append((page, 0))
                        if page.count > 0 { return true }
                        break
                    }
                    guard page.kind == .branch else { throw BTree.corrupted(page, "not a tree node", reader) }
                    path.append((page, 0))
                    if path.count > 64 { throw BTree.corrupted(page, "tree deeper than 64 levels", reader) }
                    number = page.child(0)
                }
            }
        }
    }

    private func retreatToPreviousLeaf() throws -> Bool {
        while true {
            path.removeLast()
            guard let parent = path.last else { return false }
            let previousChild = parent.index - 1
            if previousChild >= 0 {
                path[path.count - 1].index = previousChild
                var number = parent.page.child(previousChild)
                while true {
                    let page = try reader.page(number)
                    if page.kind == .leaf {
                        path.append((page, page.count - 1))
                        if page.count > 0 { return true }
                        break
                    }
                    guard page.kind == .branch else { throw BTree.corrupted(page, "not a tree node", reader) }
                    path.append((page, page.count))
                    if path.count > 64 { throw BTree.corrupted(page, "tree deeper than 64 levels", reader) }
                    number = page.child(page.count)
                }
            }
        }
    }
}
