import SMXStore
import SMXTestSupport

/// The next-try index for the cache tests, and the reference for what a pop must return:
/// an ordered set of keys kept as sorted buckets of at most 1,024 keys (a square-root
/// decomposition), independent of the cache's B+tree and simple enough to trust. Records
/// every range scan it serves.
final class SortedKeyModel: NextTrySource {
    private static let bucketMax = 1024
    private var buckets: [[NextTryKey]] = []
    private(set) var count = 0
    private(set) var scans: [(from: NextTryKey, limit: Int, returned: Int)] = []

    /// `keys` must be sorted and distinct.
    init(sorted keys: [NextTryKey] = []) {
        var start = 0
        while start < keys.count {
            let end = min(start + Self.bucketMax / 2, keys.count)
            buckets.append(Array(keys[start..<end]))
            start = end
        }
        count = keys.count
    }

    var all: [NextTryKey] { buckets.flatMap { $0 } }
    var first: NextTryKey? { buckets.first?.first }

    func keys(from: NextTryKey, limit: Int) -> [NextTryKey] {
        var result: [NextTryKey] = []
        var b = bucket(for: from)
        if b < buckets.count {
            var i = buckets[b].partitioningIndex { $0 >= from }
            while result.count < limit && b < buckets.count {
                if i == buckets[b].count {
                    b += 1
                    i = 0
                    continue
                }
                result.append(buckets[b][i])
                i += 1
            }
        }
        scans.append((from, limit, result.count))
        return result
    }

    /// Every key below `bound` (all keys for nil), in order: what the window must hold.
    func keys(below bound: NextTryKey?) -> [NextTryKey] {
        guard let bound else { return all }
        var result: [NextTryKey] = []
        for bucket in buckets {
            for key in bucket {
                guard key < bound else { return result }
                result.append(key)
            }
        }
        return result
    }

    func contains(_ key: NextTryKey) -> Bool {
        let b = bucket(for: key)
        guard b < buckets.count else { return false }
        let i = buckets[b].partitioningIndex { $0 >= key }
        return i < buckets[b].count && buckets[b][i] == key
    }

    @discardableResult
    func insert(_ key: NextTryKey) -> Bool {
        if buckets.isEmpty {
            buckets = [[key]]
            count = 1
            return true
        }
        let b = min(bucket(for: key), buckets.count - 1)
        let i = buckets[b].partitioningIndex { $0 >= key }
        if i < buckets[b].count && buckets[b][i] == key { return false }
        buckets[b].insert(key, at: i)
        count += 1
        if buckets[b].count > Self.bucketMax {
            let upper = Array(buckets[b][(Self.bucketMax / 2)...])
            buckets[b].removeLast(upper.count)
            buckets.insert(upper, at: b + 1)
        }
        return true
    }

    @discardableResult
    func remove(_ key: NextTryKey) -> Bool {
        let b = bucket(for: key)
        guard b < buckets.count else { return false }
        let i = buckets[b].partitioningIndex { $0 >= key }
        guard i < buckets[b].count && buckets[b][i] == key else { return false }
        buckets[b].remove(at: i)
        if buckets[b].isEmpty { buckets.remove(at: b) }
        count -= 1
        return true
    }

    /// Removes and returns the first keys due at `now`, at most `limit`: what
    /// `NextTryCache.popDue` must return.
    func popDue(now: UInt64, limit: Int) -> [NextTryKey] {
        var result: [NextTryKey] = []
        while result.count < limit, let bucket = buckets.first {
            let n = min(limit - result.count, bucket.partitioningIndex { $0.nextTry > now })
            result.append(contentsOf: bucket[..<n])
            if n == bucket.count {
                buckets.removeFirst()
            } else {
                buckets[0].removeFirst(n)
                break
            }
        }
        count -= result.count
        return result
    }

    /// A key of the set (not uniformly chosen), or nil when empty.
    func someKey(using rng: inout SplitMix64) -> NextTryKey? {
        guard !buckets.isEmpty else { return nil }
        let bucket = buckets[rng.below(buckets.count)]
        return bucket[rng.below(bucket.count)]
    }

    /// The first bucket whose last key is `>= key` (`buckets.count` if none).
    private func bucket(for key: NextTryKey) -> Int {
        buckets.partitioningIndex { $0[$0.count - 1] >= key }
    }
}

extension RandomAccessCollection {
    /// The first index whose element satisfies `predicate`, which must be false for a
    /// prefix of the collection and true for the rest.
    func partitioningIndex(where predicate: (Element) -> Bool) -> Index {
        var low = startIndex
        var n = count
        while n > 0 {
            let half = n / 2
            let mid = index(low, offsetBy: half)
            if predicate(self[mid]) {
                n = half
            } else {
                low = index(after: mid)
                n -= half + 1
            }
        }
        return low
    }
}
