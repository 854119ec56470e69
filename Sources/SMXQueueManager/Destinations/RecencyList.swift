/// Keys in the order they were appended, oldest first: a doubly linked list threaded
/// through a dictionary, so appending, removing and finding the oldest are O(1). The
/// least-recently-used order of ``DestinationTable``'s idle destinations.
struct RecencyList<Key: Hashable & Sendable>: Sendable {
    private struct Link: Sendable {
        var older: Key?
        var newer: Key?
    }

    private var links: [Key: Link] = [:]
    private(set) var oldest: Key?
    private var newest: Key?

    var count: Int { links.count }

    func contains(_ key: Key) -> Bool { links[key] != nil }

    /// Adds `key` as the newest; a key already listed is moved there.
    mutating func append(_ key: Key) {
        remove(key)
        links[key] = Link(older: newest, newer: nil)
        if let newest {
            links[newest]?.newer = key
        } else {
            oldest = key
        }
        newest = key
    }

    /// Removes `key` if it is listed.
    mutating func remove(_ key: Key) {
        guard let link = links.removeValue(forKey: key) else { return }
        if let older = link.older {
            links[older]?.newer = link.newer
        } else {
            oldest = link.newer
        }
        if let newer = link.newer {
            links[newer]?.older = link.older
        } else {
            newest = link.older
        }
    }

    /// The keys from oldest to newest, by following the links (at most `count` steps, so a
    /// broken list shows as a short or wrong walk rather than a loop).
    var ordered: [Key] {
        var keys: [Key] = []
        var key = oldest
        while let current = key, keys.count < links.count {
            keys.append(current)
            key = links[current]?.newer
        }
        return keys
    }
}
