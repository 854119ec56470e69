/// What a ``DeliveryAgent`` reports for one job: an outcome per recipient and whether the
/// destination was reached.
///
/// Complete when it has exactly one result for each of the job's recipients and no other
/// (``covers(_:)``). An incomplete result is an agent bug; the queue manager is to count
/// the recipients it misses as temporarily failed.
public struct DeliveryResult: Equatable, Sendable {
    public var jobID: DeliveryJob.ID
    public var connection: ConnectionOutcome
    /// In the job's recipient order.
    public var recipients: [RecipientResult]

    public init(jobID: DeliveryJob.ID, connection: ConnectionOutcome, recipients: [RecipientResult]) {
        self.jobID = jobID
        self.connection = connection
        self.recipients = recipients
    }

    /// The destination could not be reached: every recipient of `job` failed temporarily
    /// with `reply`.
    public static func connectionFailed(_ job: DeliveryJob, reply: StatusReply) -> DeliveryResult {
        DeliveryResult(jobID: job.id, connection: .failed, recipients: job.recipients.map { RecipientResult($0.id, .temporaryFailure(reply)) })
    }

    /// This result is for `job` and has exactly one outcome for each of its recipients and
    /// none for any other.
    public func covers(_ job: DeliveryJob) -> Bool {
        if listsInOrder(job) { return true }
        guard jobID == job.id, recipients.count == job.recipients.count else { return false }
        return Set(recipients.map(\.id)) == Set(job.recipients.map(\.id))
    }

    /// This result is for `job` and lists its recipients in the job's order, one outcome
    /// each (the usual result). Compares ids in place: zipping the two arrays would copy
    /// (and retain) every recipient and outcome, once per result.
    public func listsInOrder(_ job: DeliveryJob) -> Bool {
        guard jobID == job.id, recipients.count == job.recipients.count else { return false }
        for index in recipients.indices where recipients[index].id != job.recipients[index].id { return false }
        return true
    }
}
