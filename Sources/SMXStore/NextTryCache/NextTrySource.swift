/// Where a ``NextTryCache`` refills from: the deferred queue's on-disk next-try index.
///
/// One call is one range scan. The source must answer from the index as the queue manager
/// last committed it, and must not return entries it has already handed over through
/// ``NextTryCache/popDue(now:limit:refillFrom:)`` and that still wait for their delivery
/// attempt (the queue manager either re-keys such an entry before the next refill or its
/// source skips entries in the active queue); otherwise a popped key can come back.
public protocol NextTrySource {
    /// Up to `limit` keys `>= from`, strictly increasing: the first `limit` keys of the
    /// index at or after `from`. Fewer than `limit` means there are no more.
    func keys(from: NextTryKey, limit: Int) throws -> [NextTryKey]
}
