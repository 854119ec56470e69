import SMXStore

/// The deferred queue as the next-try cache's refill source, leaving out the keys the
/// manager has popped and still works on (in the active queue, or failed and awaiting
/// their DSN). Those keys stay in the on-disk index until the recipient's result is
/// committed, and ``NextTrySource``'s contract says a refill must not hand them out again.
///
/// Keeps the contract's other half too: it returns fewer than `limit` keys only when the
/// index has no more, scanning on past skipped keys.
struct SkippingNextTrySource: NextTrySource {
    let base: any NextTrySource
    let skipped: Set<NextTryKey>

    func keys(from: NextTryKey, limit: Int) throws -> [NextTryKey] {
        guard !skipped.isEmpty else { return try base.keys(from: from, limit: limit) }
        var kept: [NextTryKey] = []
        var start: NextTryKey? = from
        while kept.count < limit, let current = start {
            let page = try base.keys(from: current, limit: limit)
            for key in page where !skipped.contains(key) {
                kept.append(key)
                if kept.count == limit { break }
            }
            guard page.count == limit, let last = page.last else { break }
            start = last.successor
        }
        return kept
    }
}
