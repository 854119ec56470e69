/// What became of one recipient of a job.
public enum RecipientOutcome: Equatable, Sendable {
    /// Accepted by the next hop (or delivered locally): final.
    case delivered(StatusReply)
    /// Not delivered this time; the recipient is deferred and retried.
    case temporaryFailure(StatusReply)
    /// Refused for good; the recipient fails (a failed DSN).
    case permanentFailure(StatusReply)

    public var reply: StatusReply {
        switch self {
        case .delivered(let reply), .temporaryFailure(let reply), .permanentFailure(let reply): reply
        }
    }
}
