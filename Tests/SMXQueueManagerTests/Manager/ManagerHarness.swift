import Testing
import SMXQueueManager
import SMXStore
import SMXTestSupport

/// A queue manager on the simulated file layer, with a manual clock, the static resolver
/// (every domain is its own next hop; `reject.example` is refused for good, `later.example`
/// for now, `discard.example` discarded) and a ``SimulatedDeliveryAgent``; retries every 15 minutes from a destination's
/// first failure (no fuzz), lifetime 2 days.
struct ManagerHarness {
    static let retryInterval = Duration.minutes(15)
    static let lifetime = Duration.days(2)
    static let t0 = Timestamp(microsecondsSinceEpoch: QueueStores.t0)

    let stores: QueueStores
    let clock: ManualClock
    let agent: SimulatedDeliveryAgent
    let manager: QueueManager
    let receiver: Receiver

    static func policy() throws -> RetryPolicy {
        try RetryPolicy(rules: [RetryRule(.any, schedule: .steps([.fixed(retryInterval, until: .days(30))]), lifetime: lifetime)], fuzz: 0)
    }

    static func configuration(capacity: Int = 100, agentTimeout: Duration = .minutes(10)) throws -> QueueManagerConfiguration {
        try QueueManagerConfiguration(
            activeQueue: ActiveQueueConfiguration(capacity: capacity), destinationLimits: DestinationLimits(),
            agentTimeout: agentTimeout, randomSeed: 7
        )
    }

    /// Opens the stores on `fileSystem` and starts a manager on them.
    static func start(
        _ fileSystem: SimulatedFileSystem, configuration: QueueManagerConfiguration? = nil, clock: ManualClock? = nil,
        agent: SimulatedDeliveryAgent? = nil, policy: RetryPolicy? = nil
    ) async throws -> ManagerHarness {
        let stores = try QueueStores(fileSystem)
        let clock = clock ?? ManualClock(start: t0)
        let agent = agent ?? SimulatedDeliveryAgent(clock: clock)
        agent.setBodyReader { id in try? stores.body(id) }
        let resolver = try StaticRouteResolver(routes: [
            StaticRoute(.exact("reject.example"), .reject(StatusReply(code: 550, status: EnhancedStatusCode(5, 1, 2)!, text: "no such domain"))),
            StaticRoute(.exact("later.example"), .reject(StatusReply(code: 451, status: EnhancedStatusCode(4, 4, 3)!, text: "lookup failed"))),
            StaticRoute(.exact("discard.example"), .discard),
        ])
        let manager = try QueueManager(
            log: stores.log, contentStore: stores.content, deferredQueue: stores.deferred, resolver: resolver, agent: agent,
            policy: policy ?? Self.policy(), clock: clock, configuration: configuration ?? Self.configuration()
        )
        let receiver = try await manager.start()
        return ManagerHarness(stores: stores, clock: clock, agent: agent, manager: manager, receiver: receiver)
    }

    /// Receives one message for `recipients`.
    @discardableResult
    func receive(_ recipients: [String], size: Int = 2_000, seed: UInt64 = 1) async throws -> AcceptedMessage {
        try await stores.accept(receiver, recipients: recipients, body: MailBodyGenerator.body(size: size, seed: seed))
    }

    /// Waits until the manager has nothing to do, then checks its invariants and the
    /// stores'. With `agentJobs` a number, at most that many jobs may still run; with nil,
    /// every job still running must be asleep on the clock (the agent's delay), which the
    /// harness checks by looking (a test may poll; the manager does not).
    func settle(agentJobs: Int? = 0, sourceLocation: SourceLocation = #_sourceLocation) async {
        await manager.waitUntilIdle(agentJobs: agentJobs)
        if agentJobs == nil {
            let quiet = await SchedulingTestSupport.eventually {
                let before = manager.activity
                let sleeping = agent.sleeping
                return before.loopParked && before.eventsWaiting == 0 && before.resolutionsRunning == 0
                    && before.jobsRunning == sleeping && manager.activity == before
            }
            #expect(quiet, "jobs still running that are not asleep", sourceLocation: sourceLocation)
            await manager.waitUntilIdle(agentJobs: nil)
        }
        let problems = await manager.verify()
        #expect(problems == [], sourceLocation: sourceLocation)
        let deferred = stores.deferred.verify()
        #expect(deferred.isClean, "\(deferred.allProblems.prefix(3))", sourceLocation: sourceLocation)
        #expect(await manager.failure == nil, sourceLocation: sourceLocation)
    }

    /// Moves the clock and lets the manager act on it.
    func advance(by duration: Duration, agentJobs: Int? = 0, sourceLocation: SourceLocation = #_sourceLocation) async {
        clock.advance(by: duration)
        await settle(agentJobs: agentJobs, sourceLocation: sourceLocation)
    }

    func deferredRecipient(_ id: RecipientID) throws -> DeferredRecipient? {
        let reader = try stores.deferred.reader()
        defer { reader.close() }
        return try reader.recipient(id)
    }

    func deferredRecipients() throws -> [DeferredRecipient] {
        let reader = try stores.deferred.reader()
        defer { reader.close() }
        return try reader.transactions().flatMap { try reader.recipients(of: $0.envelopeID) }
    }

    func stop() async {
        await manager.stop()
        stores.close()
    }
}
