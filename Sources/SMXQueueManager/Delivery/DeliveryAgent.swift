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
///
/// The queue manager hands out the jobs it starts in one pass in one call,
/// ``deliver(_:report:)``. The default runs each on a child task of its own, so they run at
/// once, each through ``deliver(_:)``. An agent whose jobs involve no waiting (in memory, a
/// local file, a pipelined stream to one LMTP server) may instead run them in turn within
/// that call, which spares a task per job.
public protocol DeliveryAgent: Sendable {
    func deliver(_ job: DeliveryJob) async -> DeliveryResult

    /// Delivers the jobs the queue manager started in one pass and calls `report` once per
    /// job with its result, as each result comes (from any task, in any order). Every job
    /// is reported unless it never ends (the manager's agent timeout covers that).
    func deliver(_ jobs: [DeliveryJob], report: @escaping @Sendable (DeliveryJob, DeliveryResult) -> Void) async
}

extension DeliveryAgent {
    /// The default: ``deliverEachOnItsOwnTask(_:report:)``.
    public func deliver(_ jobs: [DeliveryJob], report: @escaping @Sendable (DeliveryJob, DeliveryResult) -> Void) async {
        await deliverEachOnItsOwnTask(jobs, report: report)
    }

    /// Each job on a child task of its own, through ``deliver(_:)``, so they run at once
    /// (for an agent that overrides ``deliver(_:report:)`` and still wants this sometimes).
    public func deliverEachOnItsOwnTask(_ jobs: [DeliveryJob], report: @escaping @Sendable (DeliveryJob, DeliveryResult) -> Void) async {
        if jobs.count == 1 {
            report(jobs[0], await deliver(jobs[0]))
            return
        }
        await withTaskGroup(of: Void.self) { group in
            for job in jobs {
                group.addTask { report(job, await self.deliver(job)) }
            }
        }
    }
}
