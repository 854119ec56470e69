import SMXStore

/// What the scheduler decided for one recipient that left the active queue, before it is
/// written: the queue it came from (so the queue its result updates), what happened, and
/// the next hop when the resolver had given one (the destination whose retry state and
/// retry rule apply).
struct RecipientDisposition: Sendable {
    enum Outcome: Sendable {
        /// Delivered (or discarded by route): final.
        case delivered(StatusReply)
        /// Failed this time (an agent's 4xx, a connection that failed, a resolver's
        /// temporary failure, a timeout): deferred per the retry policy, or expired.
        case temporaryFailure(StatusReply)
        /// Refused for good: recorded as failed for the DSN.
        case permanentFailure(StatusReply)
        /// Not tried: its destination is known down until `until` (the gate). Deferred to
        /// the gate without counting an attempt.
        case postponed(until: Timestamp, StatusReply)
    }

    var id: RecipientID
    var source: ActiveQueueEntry.Source
    var outcome: Outcome
    var nextHop: NextHop?
}

/// What a disposition comes to once the retry policy and the lifetime had their say.
enum RecipientFate: Sendable {
    case delivered(StatusReply)
    /// Deferred until `nextTry`; `attempted` says whether this counts as an attempt.
    case deferred(nextTry: Timestamp, StatusReply, attempted: Bool)
    /// Failed permanently (`expired` when its queue lifetime ran out).
    case failed(StatusReply, expired: Bool)
}

extension StatusReply {
    /// The reply as the deferred queue keeps it: a valid code (else 0) and the text with
    /// the enhanced status code first, so the DSN pass can read the status back from it.
    var storedReply: DeliveryReply {
        let prefix = "\(status)"
        let text = reply.text.hasPrefix(prefix) ? reply.text : "\(prefix) \(reply.text)"
        let code: UInt16 = reply.code == 0 || (200...599).contains(reply.code) ? reply.code : 0
        return DeliveryReply(code: code, truncating: text)
    }

    /// The reply as an incoming-log outcome record carries it: `550 5.1.1 text`.
    var logText: String {
        let stored = storedReply
        return stored.code == 0 ? stored.text : "\(stored.code) \(stored.text)"
    }

    /// A reply the queue manager makes up for a recipient no one answered for.
    static func managerFailure(_ subject: Int, _ detail: Int, _ text: String) -> StatusReply {
        let status = EnhancedStatusCode(4, subject, detail) ?? .deliveryTimeExpired
        return StatusReply(code: 0, status: status, text: text)
    }

    /// The `discard` delivery class: accepted and dropped, nothing sent.
    static let discarded = StatusReply(code: 250, status: EnhancedStatusCode(2, 0, 0) ?? .deliveryTimeExpired, text: "discarded by route")
}
