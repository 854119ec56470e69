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
}
