/// The B+tree file's invariants, as code (bbolt's `Tx.Check`): tests call ``verify()`` after
/// every commit; `smx-fsck` will print what it finds.
///
/// 1. The newest meta page verifies; every page number it implies is inside the file.
/// 2. Every page from 2 up to the page count is reachable exactly once (from the catalog,
///    a tree, an overflow chain or the freelist chain) or listed free exactly once, never both.
/// 3. Every reachable page verifies its checksum and structure and has the expected type.
/// 4. Keys are in strictly increasing order within each page and across pages: every key
///    of a branch's child lies within the bounds the branch's separators give it.
/// 5. Every catalog entry's count equals the keys its tree holds.
public struct BTreeVerification: Sendable, Equatable {
    public var pagesChecked = 0
    public var keysChecked = 0
    public var problems: [String] = []
    public var isClean: Bool { problems.isEmpty }
}

/// Accumulates what a verification found (a class: the walk's helpers share it).
private final class VerificationState {
    var result = BTreeVerification()
    var owner: [UInt64: String] = [:]
    let pageCount: UInt64

    init(pageCount: UInt64) { self.pageCount = pageCount }

    func problem(_ text: String) {
        if result.problems.count < 200 { result.problems.append(text) }
    }

    /// Records that `number` is `what`; false (and a problem) when it is out of range or
    /// already something else.
    func claim(_ number: UInt64, _ what: String) -> Bool {
        guard number >= 2, number < pageCount else {
            problem("\(what): page \(number) outside 2..<\(pageCount)")
            return false
        }
        if let other = owner[number] {
            problem("page \(number) is both \(other) and \(what)")
            return false
        }
        owner[number] = what
        result.pagesChecked += 1
        return true
    }
}

extension BTreeFile {
    /// Checks the newest committed state (on a snapshot: safe while the writer commits).
    public func verify() -> BTreeVerification {
        let snapshot: Snapshot
        let free: [FreePage]
        do { (snapshot, free) = try snapshotWithFreePages() } catch {
            return BTreeVerification(problems: ["cannot take a snapshot: \(error)"])
        }
        defer { snapshot.close() }
        let meta = snapshot.meta
        let state = VerificationState(pageCount: meta.pageCount)

        // The freelist chain of the newest checkpoint (its pages stay allocated until the
        // next one) must be well formed; which pages are free now is the file's free list
        // (the chain's, plus what commits since the checkpoint freed).
        var number = meta.freelistHead
        while number != 0 {
            guard state.claim(number, "freelist page") else { break }
            do {
                let page = try snapshot.page(number)
                _ = try FreelistPage.entries(page)
                number = page.link
            } catch {
                state.problem("freelist page \(number): \(error)")
                break
            }
        }
        for entry in free { _ = state.claim(entry.page, "free") }

        // The catalog, then every tree it names.
        var trees: [(name: String, root: UInt64, count: UInt64)] = []
        walk(root: meta.catalogRoot, tree: "catalog", reader: snapshot, state: state) { key, value in
            guard value.count == 16 else {
                state.problem("catalog entry \(String(decoding: key, as: UTF8.self)) has \(value.count) bytes")
                return
            }
            trees.append((String(decoding: key, as: UTF8.self), value.withUnsafeBytes { LittleEndian.u64($0, 0) },
                          value.withUnsafeBytes { LittleEndian.u64($0, 8) }))
        }
        for tree in trees {
            var keys: UInt64 = 0
            walk(root: tree.root, tree: tree.name, reader: snapshot, state: state) { _, _ in keys += 1 }
            if keys != tree.count {
                state.problem("tree \(tree.name): catalog says \(tree.count) keys, it holds \(keys)")
            }
        }
        if meta.pageCount > 2 {
            for n in 2..<meta.pageCount where state.owner[n] == nil {
                state.problem("page \(n) is neither reachable nor free (leaked)")
                if state.result.problems.count >= 200 { break }
            }
        }
        return state.result
    }

    /// Depth-first walk of one tree: checks pages and key order, claims every page
    /// (overflow chains included), and hands each key and value to `visit`.
    private func walk(
        root: UInt64,
        tree: String,
        reader: Snapshot,
        state: VerificationState,
        visit: ([UInt8], [UInt8]) -> Void
    ) {
        guard root != 0 else { return }
        var previous: [UInt8]?
        let pageSize = self.pageSize
        func descend(_ number: UInt64, lower: [UInt8]?, upper: [UInt8]?, depth: Int) {
            guard depth < 64 else {
                state.problem("tree \(tree): deeper than 64 levels at page \(number)")
                return
            }
            guard state.claim(number, "node of \(tree)") else { return }
            let page: Page
            do { page = try reader.page(number) } catch {
                state.problem("tree \(tree): \(error)")
                return
            }
            func inBounds(_ key: [UInt8]) -> Bool {
                if let lower, key.lexicographicallyPrecedes(lower) { return false }
                if let upper, !key.lexicographicallyPrecedes(upper) { return false }
                return true
            }
            switch page.kind {
            case .leaf:
                if page.count == 0 && depth > 0 {
                    state.problem("tree \(tree): empty leaf \(number) below the root")
                }
                for i in 0..<page.count {
                    let key = page.key(i)
                    if let previous, !previous.lexicographicallyPrecedes(key) {
                        state.problem("tree \(tree): key order broken at page \(number) slot \(i)")
                    }
                    if !inBounds(key) {
                        state.problem("tree \(tree): key in page \(number) slot \(i) outside its parent's bounds")
                    }
                    previous = key
                    state.result.keysChecked += 1
                    if case .overflow(let first, let length) = page.storedValue(i) {
                        var n = first
                        var remaining = length
                        while remaining > 0 {
                            guard n != 0, state.claim(n, "overflow of \(tree)") else {
                                state.problem("tree \(tree): overflow chain of page \(number) slot \(i) broken")
                                break
                            }
                            do {
                                let overflow = try reader.page(n)
                                if overflow.kind != .overflow { state.problem("page \(n) should be an overflow page") }
                                n = overflow.link
                            } catch {
                                state.problem("tree \(tree): \(error)")
                                break
                            }
                            remaining -= pageSize - Page.headerSize
                        }
                    }
                    do { visit(key, try BTree.value(of: page, slot: i, in: reader)) } catch {
                        state.problem("tree \(tree): value at page \(number) slot \(i): \(error)")
                    }
                }
            case .branch:
                guard page.count > 0 else {
                    state.problem("tree \(tree): branch \(number) without separators")
                    return
                }
                var keys: [[UInt8]] = []
                for i in 0..<page.count {
                    let key = page.key(i)
                    if let last = keys.last, !last.lexicographicallyPrecedes(key) {
                        state.problem("tree \(tree): separators out of order in page \(number)")
                    }
                    if !inBounds(key) {
                        state.problem("tree \(tree): separator in page \(number) outside its parent's bounds")
                    }
                    keys.append(key)
                }
                for child in 0..<page.childCount {
                    descend(
                        page.child(child),
                        lower: child == 0 ? lower : keys[child - 1],
                        upper: child == page.count ? upper : keys[child],
                        depth: depth + 1
                    )
                }
            default:
                state.problem("tree \(tree): page \(number) is a \(String(describing: page.kind)) page, not a node")
            }
        }
        descend(root, lower: nil, upper: nil, depth: 0)
    }
}
