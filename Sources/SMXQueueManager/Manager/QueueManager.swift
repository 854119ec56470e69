import Logging
import SMXStore

/// The queue manager (the seed's QMGR): the one place that moves envelopes between the
/// stores, in the safe order, and drives delivery. It owns the incoming log, the content
/// store and the deferred queue (it is their only writer while it runs), a ``Receiver``
/// for the SMTP side, the in-memory incoming queue (IQDB) and ``ActiveQueue`` (AQ), the
/// ``NextTryCache`` (EDBC), the ``DestinationTable`` and the body reference counts.
///
/// **Lifetime.** Made with opened stores; ``start()`` runs ``QueueStartup`` (rule 5) and
/// then the scheduler loop, and returns the ``Receiver`` that takes new mail; ``stop()``
/// ends the loop after the pass under way. Jobs still at an agent then keep their
/// recipients where the stores have them (pending in the incoming log, or deferred with
/// their old next try); their late results are ignored, so a recipient an agent did
/// deliver may be delivered again after a restart (rule 4). The caller closes the stores
/// after ``stop()``.
///
/// **The loop** never polls: it sleeps on a ``SchedulerWakeup`` until new mail (the
/// receiver's `onAccepted`), a resolver or agent answer, the next due time (the next-try
/// cache's earliest key, the active queue's next expiry) or a stop. Each pass:
/// 1. applies the answers that came in (resolutions; agent results, which also update
///    the destination's state) and what operations committed;
/// 2. takes out entries that waited too long for the resolver or an agent;
/// 3. fills the active queue with ``FillPlanner`` from the incoming queue (FIFO) and the
///    due deferred recipients (through the next-try cache), in large batches;
/// 4. resolves the newly admitted recipients: at once when the ``AddressResolver`` can
///    (``AddressResolver/resolveAtOnce(recipient:sender:)``), else on a task each;
/// 5. builds jobs (one envelope, one destination, up to `recipientsPerJob`) for resolved
///    entries whose destination may start one, and hands them to the agent; entries for a
///    destination known down until a later time are deferred to that time untried;
/// 6. with ``QueueManagerConfiguration/notifications`` set, queues the notifications owed
///    (failures whose report time came, delay warnings, successes), durable before step 7
///    removes or marks what they report;
/// 7. writes every result of the pass (see below).
///
/// When steps 4–7 free room after the fill or make a next-try key due, the loop runs the
/// next pass at once (``fillAgain``).
///
/// **Order of writes** (ARCHITECTURE.md rules 2–4, the seed's "Updating Data in Queues
/// after a Delivery Attempt"), per pass, coalesced into one deferred-queue commit and then
/// one incoming-log commit:
/// - delivered: from the incoming queue, an `outcome(delivered)` record (it rides on the
///   pass's incoming-log commit: rule 4); from the deferred queue, `remove(delivered)`;
/// - temporary failure: the deferred queue first (`add` with the retry policy's next try,
///   or `recordAttempt` for a recipient already there), durable, then the incoming log's
///   `outcome(movedToDeferred)` (rule 3);
/// - permanent failure, and a temporary one past the queue lifetime: the deferred queue
///   first, status `failed` with the reply (enhanced status code first) for the DSN, then
///   `outcome(failedPermanently)`;
/// - a transaction whose recipients all have their result is closed in the same
///   incoming-log commit (when the last of them got it in this commit, by its close record
///   alone: the outcomes would leave the live set with it); a body is released only after
///   the commits that dropped its last reference (rule 2).
///
/// **Failure.** A store that fails stops the loop (``QueueManagerError/store(operation:cause:)``,
/// see ``failure``): the store is poisoned until reopened (rule 6) and nothing more is
/// written. Reopen the stores and start a new manager.
///
/// An actor: ``statistics()``, ``verify()`` and ``waitUntilIdle(agentJobs:)`` may be
/// called from anywhere while the loop runs.
public actor QueueManager {
    public nonisolated let log: IncomingLog
    public nonisolated let contentStore: ContentStore
    public nonisolated let deferredQueue: DeferredQueue
    public nonisolated let resolver: any AddressResolver
    public nonisolated let agent: any DeliveryAgent
    public nonisolated let policy: RetryPolicy
    public nonisolated let clock: any QueueClock
    public nonisolated let configuration: QueueManagerConfiguration
    nonisolated let wakeup: SchedulerWakeup
    /// The actor's executor: a thread of its own (``ManagerThread``), ended by deinit.
    package nonisolated let thread: ManagerThread
    public nonisolated var unownedExecutor: UnownedSerialExecutor { thread.asUnownedSerialExecutor() }
    nonisolated let inbox: ManagerInbox
    /// The receiver's admission when ``QueueManagerConfiguration/loadControl`` is set.
    nonisolated let loadAdmission: LoadAdmission?

    enum Phase { case new, running, stopped }

    /// A recipient in the active queue that came from the deferred queue: its record and
    /// envelope as read, and the next-try key it was popped with (still on disk until its
    /// result is committed).
    struct DeferredEntry {
        var recipient: DeferredRecipient
        var transaction: DeferredTransaction
        var key: NextTryKey
    }

    var phase = Phase.new
    var activeQueue: ActiveQueue
    let planner: FillPlanner
    var destinations: DestinationTable
    var jobBuilder: JobBuilder
    var random: SeededRandomNumberGenerator
    var nextTryCache: NextTryCache?
    /// References per body: one per open incoming transaction, one per deferred envelope.
    var references: [ContentID: Int] = [:]
    /// The incoming queue: open transactions received since start.
    var incoming: [EnvelopeID: IncomingEnvelope] = [:]
    /// Envelopes with recipients not yet in the active queue, oldest first, from
    /// `incomingHead` on.
    var incomingOrder: [EnvelopeID] = []
    var incomingHead = 0
    /// Incoming recipients not yet in the active queue.
    var waitingIncoming = 0
    var deferredEntries: [RecipientID: DeferredEntry] = [:]
    /// Next-try keys popped for active-queue entries, still in the on-disk index.
    var poppedKeys: Set<NextTryKey> = []
    /// Failed recipients whose report time came (popped from the cache): the DSN pass's.
    var failuresAwaitingReport: [RecipientID: NextTryKey] = [:]
    var jobs: [DeliveryJob.ID: DeliveryJob] = [:]
    /// Jobs started by this pass's dispatch, handed to the agent at its end.
    var jobsToHandOut: [DeliveryJob] = []
    /// Sends the notifications when ``QueueManagerConfiguration/notifications`` is set
    /// (through a receiver of its own that always admits: reports about queued mail are
    /// not new load).
    var notifier: NotificationPass?
    /// Envelopes that may owe a delay warning, planned by the next pass.
    var delayOwed: Set<EnvelopeID> = []
    /// Set when the receiving side did not take a notification: none is tried before.
    var notificationsRetryAt: Timestamp?
    /// Why the last notification could not be sent.
    public internal(set) var lastNotificationError: String?
    /// Recipients awaiting a job, per destination, in the order they were resolved (ids of
    /// entries that moved on are dropped lazily).
    var awaitingJobs: [WaitingKey: WaitingList] = [:]
    /// What operations committed, applied by the next pass before its fill.
    var operationResults: [QueueOperationResult] = []
    /// Admitted by this pass's fill; resolved right after it.
    var toResolve: [RecipientID] = []
    var totals = QueueManagerStatistics.Totals()
    /// The time the last pass started with (what its fill compared due times against).
    var passTime = Timestamp(microsecondsSinceEpoch: 0)
    /// After the pass's fill ran, it freed room in the active queue (a resolver failure, a
    /// discard job, recipients postponed to their destination's retry time) or its writes added a
    /// next-try key already due (a failure's report time is its own): the loop goes round
    /// again at once, so the next fill sees them (no event would wake it for them).
    var fillAgain = false
    public private(set) var startupReport: StartupReport?
    /// Why the loop stopped on its own; nil while it runs or after a clean stop.
    public private(set) var failure: QueueManagerError?
    var receiver: Receiver?
    var loopTask: Task<Void, Never>?

    /// Throws ``QueueManagerConfigurationError`` when the destination table cannot be made
    /// from the configuration.
    public init(
        log: IncomingLog, contentStore: ContentStore, deferredQueue: DeferredQueue,
        resolver: any AddressResolver, agent: any DeliveryAgent, policy: RetryPolicy, clock: any QueueClock,
        configuration: QueueManagerConfiguration
    ) throws(QueueManagerConfigurationError) {
        self.log = log
        self.contentStore = contentStore
        self.deferredQueue = deferredQueue
        self.resolver = resolver
        self.agent = agent
        self.policy = policy
        self.clock = clock
        self.configuration = configuration
        wakeup = SchedulerWakeup(clock: clock)
        inbox = ManagerInbox(wakeup: wakeup)
        loadAdmission = configuration.loadControl.map { LoadAdmission(control: $0, log: log, contentStore: contentStore) }
        activeQueue = ActiveQueue(configuration: configuration.activeQueue)
        planner = FillPlanner(configuration: configuration.activeQueue)
        do {
            destinations = try DestinationTable(policy: policy, limits: configuration.destinationLimits, capacity: configuration.destinationTableCapacity)
            jobBuilder = try JobBuilder(recipientsPerJob: configuration.recipientsPerJob)
        } catch {
            throw .invalid("\(error)")
        }
        random = SeededRandomNumberGenerator(seed: configuration.randomSeed ?? UInt64.random(in: .min ... .max))
        // Last: an init that throws runs no deinit, which would leave the thread waiting.
        thread = ManagerThread(name: "smx-qmgr", niceIncrement: configuration.threadNiceIncrement)
    }

    deinit {
        thread.shutdown()
    }

    /// Runs ``QueueStartup`` (open incoming transactions move to the deferred queue, bodies
    /// are checked and recounted, the next-try cache is filled), then starts the scheduler
    /// loop, and returns the ``Receiver`` the SMTP side hands mail to: each acknowledged
    /// message wakes the loop.
    ///
    /// Throws ``QueueManagerError/alreadyStarted`` on a second call, and
    /// ``QueueManagerError/startup(_:)`` when startup fails (nothing runs then).
    public func start() async throws(QueueManagerError) -> Receiver {
        guard phase == .new else { throw .alreadyStarted }
        phase = .running
        let startup = QueueStartup(log: log, contentStore: contentStore, deferredQueue: deferredQueue, configuration: configuration.startup)
        let result: QueueStartup.Result
        do {
            result = try await startup.run(now: clock.now().microsecondsSinceEpoch)
        } catch {
            phase = .stopped
            _ = inbox.stop()
            throw .startup(error)
        }
        startupReport = result.report
        nextTryCache = result.nextTryCache
        references = result.references
        let inbox = self.inbox
        let clock = self.clock
        let receiver = Receiver(
            log: log, contentStore: contentStore, envelopeIDs: result.envelopeIDs, configuration: configuration.receiver,
            admission: loadAdmission ?? configuration.admission, clock: { clock.now().microsecondsSinceEpoch },
            onAccepted: { inbox.post(.accepted($0)) }
        )
        self.receiver = receiver
        if let notifications = configuration.notifications {
            let own = Receiver(
                log: log, contentStore: contentStore, envelopeIDs: result.envelopeIDs, configuration: configuration.receiver,
                admission: AlwaysAccept(), clock: { clock.now().microsecondsSinceEpoch }, onAccepted: { inbox.post(.accepted($0)) }
            )
            notifier = NotificationPass(
                deferredQueue: deferredQueue, contentStore: contentStore, receiver: own, configuration: notifications, retryPolicy: policy
            )
        }
        loopTask = Task { await self.runLoop() }
        return receiver
    }

    /// Ends the loop after the pass under way (its writes complete) and returns when it
    /// has ended. Resolver and agent calls still running are not waited for and their
    /// answers are ignored: their recipients stay in the stores as they are. Safe to call
    /// more than once.
    public func stop() async {
        wakeup.stop()
        if let loopTask { await loopTask.value }
        phase = .stopped
        answerLeftEvents(inbox.stop())
    }

    /// Returns once the loop is asleep with nothing left to do now: no event waiting, no
    /// resolver call running, and at most `agentJobs` jobs at agents (nil: any number, e.g.
    /// slow ones), or the loop has ended. For tests and tools that must not act while the
    /// manager is busy; it never polls.
    public nonisolated func waitUntilIdle(agentJobs: Int? = 0) async {
        await inbox.waitUntilIdle(agentJobs: agentJobs)
    }

    /// What the loop and its resolver and agent tasks are doing now (for monitoring, and
    /// for tests that must know every running job is one they hold up).
    public nonisolated var activity: QueueManagerActivity { inbox.activity }

    func runLoop() async {
        while true {
            do {
                try await pass()
            } catch {
                failure = error
                break
            }
            if (owesNotificationsNow || fillAgain) && !wakeup.isStopped { continue }
            var reason = WakeReason.newMail
            let due = nextWakeTime()
            if inbox.park(until: due) {
                reason = await wakeup.wait(until: due)
                inbox.unpark()
            }
            if reason == .stopped { break }
        }
        wakeup.stop()
        answerLeftEvents(inbox.stop())
    }

    /// Answers the callers waiting on events the ended loop will not apply.
    func answerLeftEvents(_ events: [ManagerEvent]) {
        for case .reported(_, let continuation) in events {
            continuation.resume(returning: .failure(failure ?? .notRunning))
        }
    }

    /// One round of the scheduler (see the type's comment for the steps).
    func pass() async throws(QueueManagerError) {
        totals.passes += 1
        let now = clock.now()
        passTime = now
        fillAgain = false
        var results: [RecipientDisposition] = []
        var reports: [Report] = []
        // Taken out one by one (moved, not copied: an agent result holds its job and every
        // recipient's reply), in the order posted.
        var events = inbox.drain()
        events.reverse()
        while let event = events.popLast() {
            handle(event, now: now, into: &results, reports: &reports)
        }
        do {
            try applyOperations()
            cleanUp(now: now, into: &results)
            try fill(now: now)
            resolveAdmitted(now: now, into: &results)
            dispatch(now: now, into: &results)
            handOutJobs()
            let notices = try await notify(results: results, now: now)
            let reported = try reportedFailures(reports.flatMap(\.0))
            let noticed = Set(notices.bounced.map(\.id))
            try await write(results, bounced: notices.bounced + reported.filter { !noticed.contains($0.id) }, delayMarks: notices.delayMarks, now: now)
            let removed = Set(reported.map(\.id))
            for (ids, continuation) in reports { continuation.resume(returning: .success(Set(ids).intersection(removed).count)) }
        } catch {
            for (_, continuation) in reports { continuation.resume(returning: .failure(error)) }
            throw error
        }
        loadAdmission?.publish(activeQueueEntries: activeQueue.count)
    }

    /// When the loop must wake without an event: the earlier of the next-try cache's next
    /// due time and the active queue's next expiry. A due time the last pass's fill already
    /// saw come means the fill could not take those recipients (the active queue is above
    /// its low watermark or at its deferred maximum); only results free room, and they wake
    /// the loop, so it is left out rather than spinning. A due time that came during the
    /// pass (after the time its fill compared against) is kept, so the loop goes round
    /// again at once; judged against the clock now, it would be left out and those
    /// recipients would wait for the next event, on an idle queue for ever.
    func nextWakeTime() -> Timestamp? {
        let now = passTime
        var due = activeQueue.nextExpiry(resolverTimeout: configuration.resolverTimeout, agentTimeout: configuration.agentTimeout)
        if let next = nextTryCache?.nextDueTime.map(Timestamp.init(microsecondsSinceEpoch:)), next > now {
            due = min(due ?? next, next)
        }
        if let retry = notificationsRetryAt, retry > now { due = min(due ?? retry, retry) }
        return due
    }

    /// The receiver, once ``start()`` made it.
    public var currentReceiver: Receiver? { receiver }

    /// Failed recipients whose DSN is due (their next try, the report time, came), for the
    /// DSN pass; in recipient order. With ``QueueManagerConfiguration/notifications`` set the
    /// manager reports them itself, in the next pass.
    public var failedAwaitingReport: [RecipientID] { failuresAwaitingReport.keys.sorted() }

    /// Removes failed recipients whose failure DSN is durable (the DSN pass calls this once
    /// the notification is queued): each leaves the deferred queue as `bounced` in the next
    /// pass's commit, its envelope with its last recipient, and the body is released with
    /// its last reference. Going through the loop keeps the reference counts and the
    /// next-try cache true. Returns how many were removed: recipients not in the deferred
    /// queue or not failed are left alone.
    ///
    /// Throws ``QueueManagerError/notRunning`` when the loop is not running, or the store
    /// error that stopped it.
    public nonisolated func removeReported(_ ids: [RecipientID]) async throws(QueueManagerError) -> Int {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Int, QueueManagerError>, Never>) in
            if !inbox.post(.reported(ids, continuation)) { continuation.resume(returning: .failure(.notRunning)) }
        }
        return try result.get()
    }

    /// The stored records of the reported recipients that are failed (read before the
    /// pass's commit).
    func reportedFailures(_ ids: [RecipientID]) throws(QueueManagerError) -> [DeferredRecipient] {
        guard !ids.isEmpty else { return [] }
        do {
            let reader = try deferredQueue.reader()
            defer { reader.close() }
            var seen = Set<RecipientID>()
            return try ids.compactMap { id in
                guard seen.insert(id).inserted, let record = try reader.recipient(id), record.status == .failed else { return nil }
                return record
            }
        } catch {
            throw .store(operation: "reading reported recipients", cause: error)
        }
    }

    /// The operator's changes (hold, release, requeue, delete, bounce) for use while this
    /// manager runs: they leave the bodies to the manager and tell its loop what they
    /// committed, which refreshes its reference counts and next-try cache in its next pass
    /// (``QueueOperations``). When the loop is not running, an operation releases the bodies
    /// of the envelopes it removed itself, as a standalone one does.
    public nonisolated func operations(
        logger: Logger = Logger(label: "smx.qmgr.ops", factory: { _ in SwiftLogNoOpLogHandler() })
    ) -> QueueOperations {
        let inbox = self.inbox
        let log = self.log
        let contentStore = self.contentStore
        return QueueOperations(deferredQueue: deferredQueue, contentStore: contentStore, incomingLog: log, logger: logger, releasesBodies: false) { result in
            guard !inbox.post(.operation(result)) else { return }
            for removed in result.envelopesRemoved {
                _ = BodyReference.releaseIfUnreferenced(removed.content, of: removed.envelopeID, log: log, contentStore: contentStore, logger: logger)
            }
        }
    }

    /// References per body as the manager counts them.
    public var referenceCounts: [ContentID: Int] { references }
}
