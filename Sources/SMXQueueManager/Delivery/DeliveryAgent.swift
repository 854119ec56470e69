/// Sends jobs (the seed's delivery agent, DA): SMTP or LMTP to a next hop, local
/// mailboxes, a test double. The queue manager picks the agent by the job's delivery
/// class.
///
/// Failures are results: an agent never throws, and reports a connection it could not make
/// as ``ConnectionOutcome/failed`` with a temporary failure per recipient. It must answer
/// for every recipient of the job (``DeliveryResult/covers(_:)``), may run many jobs at
/// once, and must not deliver a job's recipients more than once per call. The queue manager
/// is to bound how long it waits and count a job that runs past that as temporarily failed
/// (a late success may then deliver twice, which ARCHITECTURE.md rule 4 allows).
public protocol DeliveryAgent: Sendable {
    func deliver(_ job: DeliveryJob) async -> DeliveryResult
}
