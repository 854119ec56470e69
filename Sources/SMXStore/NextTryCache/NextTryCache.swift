/// The in-memory window over the earliest entries of the deferred queue's next-try index
/// (the seed's EDBC): what the scheduler reads instead of scanning the disk each time it
/// looks for recipients that are due.
///
/// **The window rule.** The window is always a complete prefix of the index: for its
/// ``horizon`` `h`, every index entry below `h` is in the window (unless it was handed out
/// by ``popDue(now:limit:refillFrom:)``), and nothing at or above `h` is. A horizon of nil
/// stands for +∞: the window then holds the whole index. Hence, whenever the window is not
/// empty, its smallest key is the smallest key of the index not yet handed out, and a due
/// key can never be skipped.
///
/// - ``insert(_:)`` below the horizon keeps the key. If that makes the window hold more
///   than ``capacity`` keys, the largest is dropped and becomes the new horizon (the disk
///   still has it). At or above the horizon the key is not kept: the index has it.
/// - ``remove(_:)`` removes the key if the window holds it.
/// - ``popDue(now:limit:refillFrom:)`` hands out the keys with `nextTry <= now` in order,
///   each once, and forgets them. When the window runs dry and the horizon is finite, it
///   refills with one range scan, `keys(from: horizon, limit: capacity)`: the window takes
///   them, and the horizon becomes the successor of the last one, or +∞ when fewer than
///   `capacity` came back (the scan reached the end of the index).
///
/// A new cache starts empty with its horizon at ``NextTryKey/min``: it knows nothing of
/// the index, keeps no insert, and its first pop refills. `init(capacity:indexIsEmpty:
/// true)` starts with the horizon at +∞ for a queue whose index is known to be empty.
///
/// **The caller's part.** The queue manager applies every change to the index, once
/// committed, to the cache too: a new or rescheduled recipient is an ``insert(_:)`` of its
/// new key (and a ``remove(_:)`` of its old one), a delivered or bounced one a
/// ``remove(_:)``. A popped key belongs to the caller; the ``NextTrySource`` must not return
/// it again (see there). Under that contract the cache never returns a key twice and never
/// skips one, with any capacity: a small capacity costs refills, not order.
///
/// **Memory.** Keys are stored packed at 20 bytes in a B+tree (``PackedKeyTree``) whose
/// leaf buffers are sized to their contents: about 21 bytes per entry whether keys arrive
/// in random or increasing order (the seed estimated 40). ``memoryBytes`` reports it.
///
/// **Lifetime.** Owned by one queue manager; not thread-safe. A class, not a struct: the
/// tree's nodes are objects, and a copied struct would share them with its original.
public final class NextTryCache {
    /// The most keys the window holds.
    public let capacity: Int
    /// Every index entry below it is in the window (or was popped), none at or above it;
    /// nil stands for +∞.
    public private(set) var horizon: NextTryKey?
    /// How many range scans refilled the window.
    public private(set) var refillCount = 0
    /// How many keys were dropped from the window to stay within ``capacity``.
    public private(set) var droppedCount = 0

    private(set) var tree = PackedKeyTree()

    /// An empty window holding at most `capacity` (≥ 1) keys. With `indexIsEmpty` the
    /// horizon starts at +∞ (the caller knows the index is empty, e.g. for a new queue);
    /// otherwise at ``NextTryKey/min``, so that the first pop refills from the index.
    public init(capacity: Int, indexIsEmpty: Bool = false) {
        precondition(capacity >= 1, "NextTryCache: capacity must be at least 1")
        self.capacity = capacity
        horizon = indexIsEmpty ? nil : .min
    }

    /// How many keys the window holds.
    public var count: Int { tree.count }

    /// The window's smallest key, which is the index's smallest key that was not popped;
    /// nil when the window is empty (the index may still hold keys at or above the
    /// ``horizon``: a pop refills).
    public var earliest: NextTryKey? { tree.first?.key }

    /// When ``popDue(now:limit:refillFrom:)`` can next return a key, for the scheduler's
    /// timer: the earliest key's `nextTry`; with an empty window the horizon's `nextTry`
    /// (nothing on disk is earlier; a pop at that time refills and the answer may move
    /// later); nil when the window is empty and the horizon is +∞.
    public var nextDueTime: UInt64? { tree.first?.nextTry ?? horizon?.nextTry }

    /// Bytes the window allocates (nodes, packed key buffers, malloc's per-allocation
    /// overhead). O(count / 300).
    public var memoryBytes: Int { tree.memoryBytes }

    /// ``memoryBytes`` per key held (the benchmark's `edbc_bytes_per_entry`); 0 when empty.
    public var bytesPerEntry: Double {
        count == 0 ? 0 : Double(memoryBytes) / Double(count)
    }

    /// What `smx-bench` reports as `edbc_bytes_per_entry`: ``bytesPerEntry`` of a cache
    /// over an empty index, with room for all of `keys`, after inserting them in the order
    /// given.
    public static func measuredBytesPerEntry(inserting keys: [NextTryKey]) -> Double {
        let cache = NextTryCache(capacity: Swift.max(keys.count, 1), indexIsEmpty: true)
        for key in keys { cache.insert(key) }
        return cache.bytesPerEntry
    }

    /// Whether the window holds `key`.
    public func contains(_ key: NextTryKey) -> Bool { tree.contains(PackedKey(key)) }

    /// Tells the cache the index now holds `key`. Returns whether the window kept it: false
    /// at or above the horizon, for a key it already holds, and for a key that was itself
    /// the largest and dropped to stay within ``capacity``. O(log n).
    @discardableResult
    public func insert(_ key: NextTryKey) -> Bool {
        if let horizon, !(key < horizon) { return false }
        guard tree.insert(PackedKey(key)) else { return false }
        guard tree.count > capacity else { return true }
        let dropped = tree.removeLast()
        horizon = dropped.key
        droppedCount += 1
        return dropped != PackedKey(key)
    }

    /// Tells the cache the index no longer holds `key`. Returns whether the window held it.
    /// O(log n).
    @discardableResult
    public func remove(_ key: NextTryKey) -> Bool {
        tree.remove(PackedKey(key))
    }

    /// Removes and returns, in order, the keys due at `now` (`nextTry <= now`), at most
    /// `limit`, refilling from `source` each time the window runs dry while the horizon is
    /// finite. O(log n) per key, plus one range scan per `capacity` keys read from disk.
    ///
    /// Throws what `source` throws, or ``StoreError/Code/corrupted`` if its answer breaks
    /// the ``NextTrySource`` contract; the keys popped before the failure stay popped and
    /// the window keeps its rule (a failed refill changes nothing).
    public func popDue(now: UInt64, limit: Int, refillFrom source: some NextTrySource) throws -> [NextTryKey] {
        var due: [NextTryKey] = []
        while due.count < limit {
            if tree.count == 0 {
                guard horizon != nil else { break }
                try refillIfEmpty(from: source)
                continue
            }
            tree.removeDue(now: now, limit: limit - due.count, into: &due)
            if tree.count > 0 { break }
        }
        return due
    }

    /// If the window is empty and the horizon finite, reads the next `capacity` keys from
    /// `source` with one range scan (as ``popDue(now:limit:refillFrom:)`` does); returns how
    /// many came. The queue manager may call it to learn the true ``nextDueTime`` early.
    @discardableResult
    public func refillIfEmpty(from source: some NextTrySource) throws -> Int {
        guard tree.count == 0, let from = horizon else { return 0 }
        let keys = try source.keys(from: from, limit: capacity)
        guard keys.count <= capacity else {
            throw PackedKeyTree.violation("the next-try source returned \(keys.count) keys for a limit of \(capacity)")
        }
        var previous: NextTryKey?
        for key in keys {
            guard from <= key, previous.map({ $0 < key }) ?? true else {
                throw PackedKeyTree.violation("the next-try source returned \(key) out of order in a scan from \(from)")
            }
            previous = key
        }
        for key in keys { _ = tree.insert(PackedKey(key)) }
        horizon = keys.count < capacity ? nil : keys[keys.count - 1].successor
        refillCount += 1
        return keys.count
    }

    /// The keys in the window, in order (for tests and queue dumps). O(n).
    public var keys: [NextTryKey] {
        var keys: [NextTryKey] = []
        keys.reserveCapacity(count)
        tree.forEach { keys.append($0.key) }
        return keys
    }
}
