/// What to do with a recipient after a temporary failure (``RetryPolicy/decide(destination:firstFailure:messageArrival:now:delayWarned:using:)``).
public enum RetryDecision: Hashable, Sendable {
    /// Keep it queued and try again at `at`. `warn`: send a delay DSN now (then record that
    /// it was sent, so the next decision is given `delayWarned: true`). `expiresAt`: when
    /// the message's lifetime ends, the Will-Retry-Until of that DSN.
    case retry(at: Timestamp, warn: Bool, expiresAt: Timestamp)
    /// The message has been queued for its whole lifetime: fail the recipient permanently
    /// (a failed DSN, status 4.4.7 "delivery time expired" in RFC 3463 terms, with the last
    /// temporary reply as diagnostic).
    case expire
}
