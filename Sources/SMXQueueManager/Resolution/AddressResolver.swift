/// Turns a recipient address into where and how it is delivered (the seed's address
/// resolver, AR): a delivery class and a next hop, or a failure.
///
/// Failures are results, not errors: a resolver that cannot reach its DNS server answers
/// ``Resolution/temporaryFailure(_:)``. Async because real resolvers look up DNS or a map
/// service; the queue manager is to bound how long it waits and count a recipient whose
/// answer does not come as temporarily failed (issue 5). Must be safe to call concurrently.
public protocol AddressResolver: Sendable {
    /// Resolves `recipient` (an RFC 5321 forward-path without angle brackets, as the client
    /// gave it in RCPT TO) for a message from `sender` (the reverse-path without angle
    /// brackets, empty for the null sender). A bare `Postmaster` must be qualified with the
    /// local domain by the caller first.
    func resolve(recipient: String, sender: String) async -> Resolution

    /// The answer when it needs no waiting (a table in memory), else nil. The queue manager
    /// asks this first, in its loop, and applies the answer in the same pass; on nil it
    /// calls ``resolve(recipient:sender:)`` on a task of its own and bounds the wait. Must
    /// be fast and must not block. The default is nil.
    func resolveAtOnce(recipient: String, sender: String) -> Resolution?
}

extension AddressResolver {
    public func resolveAtOnce(recipient: String, sender: String) -> Resolution? { nil }
}
