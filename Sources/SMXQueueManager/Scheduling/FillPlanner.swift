/// The first-level scheduler's arithmetic (the seed's "First Level Scheduling" and its
/// fairness between the two producers of the active queue): how many recipients one fill
/// takes from the incoming queue and from the deferred queue. A pure function of its
/// inputs: the caller reads the counts, and moves the recipients.
///
/// **Rules**, with the slot counts of ``ActiveQueueConfiguration`` (R reserved, M maximum
/// deferred, B minimum batch, C capacity, L low watermark), `d` deferred entries and `i`
/// incoming entries in the active queue:
///
/// 1. **Watermark.** No fill while the queue holds more than L (reading the deferred queue
///    a few entries at a time costs disk I/O for little). At or below it, a fill has room
///    for at least C − L ≥ B entries, so recipients move in large batches.
/// 2. **Reserve.** While d < R and deferred entries are due, the deferred take is first:
///    max(R − d, B) entries (a whole batch), as far as due entries, free slots and the
///    maximum allow. Incoming mail cannot starve the deferred queue.
/// 3. **Incoming first** for the rest: new mail goes to the active queue as fast as it can
///    (the normal case is delivery without touching the deferred queue).
/// 4. **Slack.** Free slots incoming mail does not use go to due deferred entries.
/// 5. **Maximum.** The deferred take never brings d above M, even with nothing incoming:
///    the deferred queue cannot starve incoming mail.
/// 6. **Batches.** A deferred take that is not zero is at least min(B, due, M − d, free),
///    incoming mail yielding slots for it.
///
/// `dueDeferred` may be a lower bound or `Int.max` for "some are due, how many is not
/// known" (the next-try cache's earliest key is due): the plan's deferred count is then a
/// limit for `popDue`, which may return fewer. Every bound above still holds; the unused
/// slots are filled by the next round.
public struct FillPlanner: Hashable, Sendable {
    public let configuration: ActiveQueueConfiguration

    public init(configuration: ActiveQueueConfiguration) {
        self.configuration = configuration
    }

    /// The plan for a queue holding `incomingInQueue` and `deferredInQueue` entries, with
    /// `waitingIncoming` recipients in the incoming queue and `dueDeferred` due in the
    /// deferred queue. Negative counts count as zero.
    public func plan(incomingInQueue: Int, deferredInQueue: Int, waitingIncoming: Int, dueDeferred: Int) -> FillPlan {
        let capacity = configuration.capacity
        let incomingInQueue = max(0, incomingInQueue)
        let deferredInQueue = max(0, deferredInQueue)
        let waitingIncoming = max(0, waitingIncoming)
        let dueDeferred = max(0, dueDeferred)
        let occupied = incomingInQueue.addingReportingOverflow(deferredInQueue)
        guard !occupied.overflow, occupied.partialValue <= configuration.lowWatermark else { return .none }
        let free = capacity - occupied.partialValue
        let room = max(0, configuration.maximumDeferred - deferredInQueue)
        let batch = min(configuration.minimumBatch, dueDeferred, room, free)

        var deferred = 0
        let owed = configuration.reservedDeferred - deferredInQueue
        if owed > 0 {
            deferred = min(dueDeferred, room, free, max(owed, configuration.minimumBatch))
        }
        var incoming = min(waitingIncoming, free - deferred)
        deferred = min(dueDeferred, room, free - incoming)
        if deferred > 0, deferred < batch {
            deferred = batch
            incoming = min(waitingIncoming, free - deferred)
        }
        return FillPlan(incoming: incoming, deferred: deferred)
    }

    /// The plan for `queue` as it stands.
    public func plan(for queue: ActiveQueue, waitingIncoming: Int, dueDeferred: Int) -> FillPlan {
        plan(
            incomingInQueue: queue.count(from: .incoming), deferredInQueue: queue.count(from: .deferred),
            waitingIncoming: waitingIncoming, dueDeferred: dueDeferred)
    }
}
