import Synchronization
import SMXQueueManager
import SMXStore
import SMXTestSupport

/// What one or more simulation runs did.
struct SimulationTotals: Sendable, Equatable {
    var seeds = 0
    var messages = 0
    /// Messages given up before the final dot (never to be delivered).
    var aborted = 0
    var recipients = 0
    var steps = 0
    var simulatedHours = 0
    var crashes = 0
    /// Every new manager after the first: one per crash, plus clean stops and restarts.
    var restarts = 0
    var deliveries = 0
    /// Deliveries of a recipient delivered before (each allowed by a crash that left it queued).
    var duplicates = 0
    /// Recipients a crash left queued although delivered: the bound on duplicates.
    var inFlightAtCrash = 0
    /// Of those, delivered before the crash image was taken (their delivered mark lagged).
    var laggingMarks = 0
    /// Messages acknowledged only after the crash image and gone after the crash.
    var lostUnacknowledged = 0
    /// Recipients bounced: failed and kept for their report (notifications off), or
    /// reported in a failure DSN (notifications on).
    var bounces = 0
    /// DSN messages delivered (notifications on), and delay reports among their recipients.
    var notifications = 0
    var delayReports = 0
    /// Permanent refusals by destinations, and recipients whose lifetime ran out.
    var rejections = 0
    var expired = 0

    mutating func add(_ o: SimulationTotals) {
        seeds += o.seeds; messages += o.messages; aborted += o.aborted; recipients += o.recipients; steps += o.steps
        simulatedHours += o.simulatedHours; crashes += o.crashes; restarts += o.restarts; deliveries += o.deliveries
        duplicates += o.duplicates; inFlightAtCrash += o.inFlightAtCrash; laggingMarks += o.laggingMarks
        lostUnacknowledged += o.lostUnacknowledged; bounces += o.bounces; notifications += o.notifications
        delayReports += o.delayReports; rejections += o.rejections; expired += o.expired
    }

    var line: String {
        "\(seeds) seeds, \(messages) messages (\(aborted) aborted), \(recipients) recipients, \(steps) steps over \(simulatedHours) simulated hours, "
            + "\(crashes) crashes, \(restarts) restarts, \(deliveries) deliveries, \(duplicates) duplicates (bound: \(inFlightAtCrash) delivered and still queued at a crash, \(laggingMarks) of them with a lagging mark), "
            + "\(lostUnacknowledged) unacknowledged messages lost, \(rejections) refusals, \(expired) expiries, \(bounces) bounces, \(notifications) DSNs (\(delayReports) delay reports)"
    }
}

struct SimulationResult: Sendable {
    var seed: UInt64
    var messages: Int
    var totals: SimulationTotals
    var problems: [String]

    /// How to run this seed alone.
    var replay: String {
        "SMX_SIM_SEED=\(seed) SMX_SIM_MESSAGES=\(messages) swift test --filter QueueManagerSimulation"
    }
}

/// The crash injector: armed with "the k-th sync operation from now", it takes a snapshot
/// of the file system in the operation hook just before that sync runs, together with how
/// many acknowledgements and deliveries the world had seen (read before the snapshot, so
/// every acknowledgement counted is durable in the image).
final class CrashTrap: Sendable {
    struct Point: Sendable {
        var image: SimulatedImage
        var acknowledgements: Int
        var deliveries: Int
        var syncIndex: Int
    }

    private let state = Mutex<(remaining: Int?, counted: Int, point: Point?)>((nil, 0, nil))

    func arm(afterSyncs count: Int?) {
        state.withLock { $0 = (count, 0, nil) }
    }

    func hit(_ fileSystem: SimulatedFileSystem, world: SimulationWorld) {
        let fire = state.withLock { s -> Int? in
            guard let remaining = s.remaining else { return nil }
            s.counted += 1
            if remaining > 1 {
                s.remaining = remaining - 1
                return nil
            }
            s.remaining = nil
            return s.counted
        }
        guard let index = fire else { return }
        let (acknowledgements, deliveries) = world.state.withLock { ($0.acknowledgements, $0.deliveryCount) }
        let image = fileSystem.snapshot()
        state.withLock { $0.point = Point(image: image, acknowledgements: acknowledgements, deliveries: deliveries, syncIndex: index) }
    }

    /// The crash point, once taken (and disarms).
    func take() -> Point? {
        state.withLock { s in
            defer { s.point = nil }
            return s.point
        }
    }
}

/// The queue manager's deterministic simulation with crashes (issue 5): one seeded run of a
/// queue manager on the simulated file layer with a ``ManualClock`` and ``SimulationAgent``s,
/// against a ``SimulationWorld`` of destinations that are up, flaky, down for hours,
/// rejecting, deferring or slow, changing over simulated time. Messages arrive in
/// concurrent batches; crashes are injected at random sync points and the queue is
/// restarted from the crash image; after every step and at the end the checker
/// (`Simulation+Checks.swift`) holds the run to the contract. See
/// ``QueueManagerSimulationTests`` and docs/queue-manager.md, "Deterministic simulation".
///
/// **Definitions.**
/// - *Acknowledged*: `commit()` returned. A crash image is taken at a sync point while the
///   run goes on to the end of its step; a message whose `commit()` returned after the
///   image was taken is *unacknowledged in the crashed world* (the 250 never reached the
///   client): it may survive the crash (then the queue owes it delivery like any other)
///   or be gone (counted in `lostUnacknowledged`). Every message acknowledged before the
///   image must come through the crash: each recipient delivered or still queued.
/// - *Nothing delivered that was never acknowledged*: every delivery a destination sees
///   is of a recipient of a message the simulation submitted through to the final dot
///   (`commit()` called, so acknowledged in the live run), never of an aborted one, with
///   the body that was submitted.
/// - *In flight at a crash*: a recipient delivered (in the crashed epoch, before or after
///   the image) and still queued in the recovered stores: its delivered mark was not
///   durable (rule 4). Each such recipient allows one more delivery; any other second
///   delivery is a failure. `duplicates <= inFlightAtCrash` follows.
final class Simulation {
    static let t0 = Timestamp(microsecondsSinceEpoch: QueueStores.t0)
    static let retryInterval = Duration.minutes(10)
    static let fuzz = 0.1
    static let lifetime = Duration.hours(8)
    static let warnAfter = Duration.hours(3)
    /// The longest wait a retry may get: one interval stretched by the fuzz.
    static let longestWait: UInt64 = 660 * 1_000_000 + 1_000_000
    static let hostCount = 6
    static let activeQueue = try! ActiveQueueConfiguration(capacity: 24)

    let seed: UInt64
    let messageTarget: Int
    var random: SplitMix64
    let world: SimulationWorld
    let clock: ManualClock
    let trap = CrashTrap()
    let hosts: [String]
    var fileSystem: SimulatedFileSystem
    var stores: QueueStores!
    var manager: QueueManager!
    var agent: SimulationAgent!
    var receiver: Receiver!
    var epoch = 0
    var step = 0
    var nextMessage = 0
    var totals = SimulationTotals()
    var problems: [String] = []
    /// Per deferred recipient, what the last scan saw (attempts, last attempt, next try).
    var seen: [RecipientID: (UInt32, UInt64?, UInt64?)] = [:]
    var lastScan: UInt64
    /// The earliest next try after now in the deferred queue, as the last scan saw it.
    var nextRecordDue: UInt64?
    var crashContext = "no crash yet"

    init(seed: UInt64, messages: Int) {
        self.seed = seed
        messageTarget = messages
        random = SplitMix64(seed: seed)
        hosts = (0..<Self.hostCount).map { "d\($0).example" }
        world = SimulationWorld(hosts: hosts)
        clock = ManualClock(start: Self.t0)
        fileSystem = SimulatedFileSystem(seed: seed)
        lastScan = Self.t0.microsecondsSinceEpoch
    }

    /// Runs one seed: `messages` messages, crashes and restarts, then the drain and the
    /// final checks. Never throws: everything that goes wrong is a problem in the result.
    static func run(seed: UInt64, messages: Int) async -> SimulationResult {
        let simulation = Simulation(seed: seed, messages: messages)
        await simulation.run()
        return SimulationResult(seed: seed, messages: messages, totals: simulation.totals, problems: simulation.problems)
    }

    var now: UInt64 { clock.now().microsecondsSinceEpoch }

    func problem(_ text: String) {
        problems.append("seed \(seed) step \(step) epoch \(epoch): \(text)")
    }

    var failed: Bool { !problems.isEmpty || !world.problems.isEmpty }

    func run() async {
        totals.seeds = 1
        do {
            try await startEpoch(context: "start")
            while !failed, nextMessage < messageTarget || step < 40 {
                step += 1
                totals.steps += 1
                try await takeStep()
            }
            if !failed { await drain() }
            if !failed { await finalChecks() }
        } catch {
            problem("error: \(error) (last crash: \(crashContext))")
        }
        problems += world.problems
        if let manager { await manager.stop() }
        agent?.kill()
        stores?.close()
        fileSystem.setOperationHook(nil)
        totals.simulatedHours = Int((now - Self.t0.microsecondsSinceEpoch) / 3_600_000_000)
    }

    // MARK: Epochs

    static func policy() throws -> RetryPolicy {
        try RetryPolicy(
            rules: [RetryRule(.any, schedule: .steps([.fixed(retryInterval, until: .days(30))]), lifetime: lifetime, warnAfter: warnAfter)],
            fuzz: fuzz)
    }

    func configuration() throws -> QueueManagerConfiguration {
        var configuration = try QueueManagerConfiguration(
            activeQueue: Self.activeQueue, destinationLimits: DestinationLimits(default: 3), recipientsPerJob: 3,
            randomSeed: seed &* 1_000_003 &+ UInt64(epoch))
        SimulationNotifications.configure(&configuration)
        return configuration
    }

    /// The next crash point: the k-th sync from now, or none for this epoch.
    func armTrap() {
        let trap = self.trap
        let world = self.world
        let fileSystem = self.fileSystem
        trap.arm(afterSyncs: random.below(6) == 0 ? nil : 1 + random.below(120))
        fileSystem.setOperationHook { [weak fileSystem] operation in
            guard operation.kind.isSync, let fileSystem else { return }
            trap.hit(fileSystem, world: world)
        }
    }

    /// Opens the stores on the current file system (each runs its recovery) and starts a
    /// manager (``QueueStartup``, then its loop) with a new agent. Returns what the stores
    /// held before startup changed anything.
    @discardableResult
    func startEpoch(context: String, prepare: (HeldQueue) -> Void = { _ in }) async throws -> HeldQueue {
        epoch += 1
        armTrap()
        stores = try QueueStores(fileSystem)
        let held = try HeldQueue(stores)
        prepare(held)
        agent = SimulationAgent(world: world, clock: clock, content: stores.content, epoch: epoch, seed: seed)
        manager = try QueueManager(
            log: stores.log, contentStore: stores.content, deferredQueue: stores.deferred, resolver: seed % 2 == 0 ? try StaticRouteResolver() : AwaitedResolver(base: try StaticRouteResolver()),
            agent: agent, policy: Self.policy(), clock: clock, configuration: configuration())
        receiver = try await manager.start()
        if let report = await manager.startupReport, !report.unmovable.isEmpty {
            problem("\(context): startup left unmovable transactions \(report.unmovable)")
        }
        seen = [:]
        lastScan = now
        await settle()
        return held
    }

    /// Stops the manager and the agent and closes the stores (the process ends).
    func stopEpoch() async {
        await manager.stop()
        agent.kill()
        stores.close()
        fileSystem.setOperationHook(nil)
    }

    // MARK: Steps

    func takeStep() async throws {
        let roll = random.below(100)
        if roll < 45, nextMessage < messageTarget {
            await submitBatch()
        } else if roll < 60 {
            changeBehaviour()
        } else if roll < 62 {
            try await cleanRestart()
        } else {
            let minutes: Int
            switch random.below(100) {
            case 0..<85: minutes = 1 + random.below(20)
            case 85..<97: minutes = 20 + random.below(70)
            default: minutes = 120 + random.below(180)
            }
            await advance(by: .minutes(Int64(minutes)))
        }
        await settle()
        await checkStep()
        if let point = trap.take(), !failed {
            try await crash(at: point)
        }
    }

    struct MessageSpec: Sendable {
        var envelopeID: String
        var sender: String
        var recipients: [String]
        var size: Int
        var bodySeed: UInt64
        var abort: Bool
    }

    func nextSpec() -> MessageSpec {
        let n = nextMessage
        nextMessage += 1
        let count: Int
        switch random.below(20) {
        case 0: count = 4 + random.below(5)
        default: count = 1 + random.below(3)
        }
        let recipients = (0..<count).map { "m\(n)r\($0)@\(hosts[random.below(hosts.count)])" }
        let size: Int
        switch random.below(50) {
        case 0: size = 17_000 + random.below(20_000)  // past the large-body threshold: a file of its own
        case 1..<6: size = 4_000 + random.below(8_000)
        default: size = 100 + random.below(3_000)
        }
        return MessageSpec(
            envelopeID: "sim\(seed)-\(n)", sender: "m\(n)@\(SimulationWorld.senderDomain)", recipients: recipients, size: size,
            bodySeed: seed &<< 24 &+ UInt64(n), abort: random.below(40) == 0)
    }

    /// Submits 1 to 5 messages at once (so their commits share group commits).
    func submitBatch() async {
        let specs = (0..<(1 + random.below(5))).map { _ in nextSpec() }
        let receiver = self.receiver!
        let world = self.world
        let seed = self.seed
        let results = await withTaskGroup(of: String?.self) { group in
            for spec in specs {
                group.addTask { await Self.submit(spec, receiver: receiver, world: world, seed: seed) }
            }
            var out: [String] = []
            for await result in group { if let result { out.append(result) } }
            return out
        }
        for spec in specs {
            totals.messages += 1
            if spec.abort { totals.aborted += 1 } else { totals.recipients += spec.recipients.count }
        }
        for text in results { problem(text) }
    }

    static func submit(_ spec: MessageSpec, receiver: Receiver, world: SimulationWorld, seed: UInt64) async -> String? {
        let body = MailBodyGenerator.body(size: spec.size, seed: spec.bodySeed)
        world.submitting(SimulatedMessage(
            envelopeID: spec.envelopeID, sender: spec.sender, recipients: spec.recipients, size: body.count, bodyHash: fingerprint(body)))
        do {
            let message = try receiver.begin(sender: spec.sender, parameters: MailParameters(envelopeID: spec.envelopeID))
            for address in spec.recipients { try message.addRecipient(address) }
            var position = 0
            while position < body.count {
                let end = min(body.count, position + 7_000)
                try await message.appendBody(body[position..<end])
                position = end
            }
            if spec.abort {
                message.abort()
                world.aborted(spec.envelopeID)
                return nil
            }
            let accepted = try await message.commit()
            world.acknowledged(spec.envelopeID, arrival: accepted.transaction.arrivalMicros)
            return nil
        } catch {
            world.aborted(spec.envelopeID)
            return "receiving \(spec.envelopeID) failed: \(error)"
        }
    }

    func changeBehaviour() {
        let host = hosts[random.below(hosts.count)]
        let behaviour: DestinationBehaviour
        switch random.below(100) {
        case 0..<35: behaviour = .up
        case 35..<50: behaviour = .flaky(failures: 1 + random.below(4))
        case 50..<65: behaviour = .down(until: now + UInt64(1 + random.below(6)) * 3_600_000_000)
        case 65..<73: behaviour = .rejecting
        case 73..<85: behaviour = .deferring
        default: behaviour = .slow(delay: .seconds(Int64(20 + random.below(460))))
        }
        world.set(behaviour, for: host)
    }

    /// Moves the clock to `now + duration`, stopping at every deadline on the way (agents'
    /// slow answers, the scheduler's wake times) and letting the manager settle at each, so
    /// that a slow answer always comes before the agent timeout it is shorter than.
    func advance(by duration: Duration) async {
        let target = (clock.now() + duration).microsecondsSinceEpoch
        var stops = 0
        _ = scanDeferred()
        while now < target, !failed {
            var next = target
            // The scheduler's next wake (the earliest next try to come): its timer may not be
            // on the clock yet when the loop has just parked.
            if let due = nextRecordDue { next = min(next, due) }
            if let deadline = agent.nextDeadline { next = min(next, deadline) }
            if let deadline = clock.deadlines.first(where: { $0.microsecondsSinceEpoch > now }) {
                next = min(next, deadline.microsecondsSinceEpoch)
            }
            clock.advance(to: Timestamp(microsecondsSinceEpoch: next))
            await settle()
            _ = scanDeferred()
            stops += 1
            if stops > 100_000 {
                problem("the clock stopped at 100,000 deadlines in one step")
                return
            }
        }
    }

    /// Waits until the manager has nothing to do now: its loop asleep with no event waiting
    /// and no resolver call running, and every job still at the agent asleep on the clock.
    func settle() async {
        var rounds = 0
        while true {
            await manager.waitUntilIdle(agentJobs: nil)
            if let failure = await manager.failure {
                problem("the manager's loop stopped: \(failure)")
                return
            }
            let activity = manager.activity
            if activity.loopParked, activity.eventsWaiting == 0, activity.resolutionsRunning == 0, activity.jobsRunning == agent.sleeping {
                await Task.yield()
                if manager.activity == activity, activity.jobsRunning == agent.sleeping { return }
            }
            rounds += 1
            if rounds > 200_000 {
                problem("the manager did not settle: \(activity)")
                return
            }
            if rounds > 50 {
                try? await Task.sleep(for: .microseconds(50))
            } else {
                await Task.yield()
            }
        }
    }

    // MARK: Crashes and restarts

    /// Stops the manager and restarts it on the same file system (no power loss): nothing
    /// delivered may be left queued, since every result was written before the stop.
    func cleanRestart() async throws {
        totals.restarts += 1
        await stopEpoch()
        let t = now
        let newEpoch = epoch + 1
        var found: [String] = []
        try await startEpoch(context: "clean restart") { held in
            world.state.withLock { state in
                for address in held.addresses {
                    state.history[address, default: []].append("queued at the clean restart into epoch \(newEpoch) at \(t)")
                    // Delivered and queued is fine only while an earlier crash's allowance is unused.
                    if state.deliveries[address, default: 0] > 0, state.allowances[address, default: 0] == 0 {
                        found.append("\(address) delivered and still queued after a clean stop and restart: \(state.history[address] ?? [])")
                    }
                }
            }
        }
        for text in found { problem(text) }
    }

    /// The power fails at `point`: the manager and agent stop (what they did after the
    /// image stays done in the world), the queue restarts from the image under a random
    /// crash mode, and the crash is accounted (see the type's definitions).
    func crash(at point: CrashTrap.Point) async throws {
        totals.crashes += 1
        totals.restarts += 1
        await stopEpoch()
        let mode = CrashMode.allCases[random.below(CrashMode.allCases.count)]
        let crashSeed = random.next()
        fileSystem = SimulatedFileSystem.restore(point.image, crash: mode, seed: crashSeed)
        let context = "crash \(totals.crashes) (\(mode), at sync \(point.syncIndex) of epoch \(epoch), step \(step))"
        crashContext = context
        let newEpoch = epoch + 1
        let deliveriesAtImage = point.deliveries
        var inFlight = 0
        var lagging = 0
        // Before the new manager can deliver anything: a recipient delivered and still
        // queued may be delivered once more.
        let held = try await startEpoch(context: context) { held in
            world.state.withLock { state in
                for address in held.addresses {
                    state.history[address, default: []].append("queued after \(context), epoch \(newEpoch)")
                    // A failure report delivered after the image (the manager ran on until
                    // the stop) is in flight at the crash like a delivery: the recovered
                    // queue may deliver the recipient after all.
                    if state.failureReports[address, default: 0] > 0 { state.crashWindow.insert(address) }
                    guard state.deliveries[address, default: 0] > 0 else { continue }
                    state.allowances[address, default: 0] += 1
                    state.crashWindow.insert(address)
                    inFlight += 1
                    if state.lastDelivery[address, default: 0] <= deliveriesAtImage { lagging += 1 }
                }
            }
        }
        totals.inFlightAtCrash += inFlight
        totals.laggingMarks += lagging
        let report = await manager.startupReport
        let lostEnvelopes = Set((report?.discardedWithoutBody.map(\.envelopeID) ?? []) + (report?.droppedEnvelopes.map(\.envelopeID) ?? []))
        let queued = held.addresses(excluding: lostEnvelopes)
        let queuedMessages = held.messages(excluding: lostEnvelopes)
        let notifications = SimulationNotifications.enabled
        var found: [String] = []
        world.state.withLock { state in
            for (envelopeID, message) in state.messages {
                guard case .acknowledged(let sequence) = message.state else { continue }
                if sequence > point.acknowledgements {
                    if !queuedMessages.contains(envelopeID) {
                        state.messages[envelopeID]?.state = .lostUnacknowledged
                        totals.lostUnacknowledged += 1
                    }
                    continue
                }
                for address in message.recipients where state.deliveries[address, default: 0] == 0 && !queued.contains(address) {
                    if notifications, state.failureReports[address, default: 0] > 0 || held.reported.contains(address) { continue }
                    found.append("\(context): \(address) of \(envelopeID), acknowledged before the image, neither delivered nor queued after recovery")
                }
            }
        }
        for text in found { problem(text) }
    }
}

/// What recovered stores hold, read before startup changes anything: per envelope, its
/// ENVID and the addresses still owed (pending in the incoming log, or in the deferred
/// queue in any status), and the recipients reported as failed in queued DSNs.
struct HeldQueue {
    var envelopes: [EnvelopeID: (envelopeID: String, addresses: [String])] = [:]
    var reported: Set<String> = []

    init(_ stores: QueueStores) throws {
        for transaction in stores.log.openTransactions() {
            if transaction.sender.isEmpty {
                note(notification: transaction.content.id, stores)
                continue
            }
            let pending = transaction.recipients.filter { $0.state == .pending }.map(\.address)
            envelopes[transaction.envelopeID, default: (transaction.mail.envelopeID ?? "", [])].addresses += pending
        }
        let reader = try stores.deferred.reader()
        defer { reader.close() }
        for transaction in try reader.transactions() {
            if transaction.sender.isEmpty {
                note(notification: transaction.content.id, stores)
                continue
            }
            let addresses = try reader.recipients(of: transaction.envelopeID).map(\.address)
            envelopes[transaction.envelopeID, default: (transaction.mail.envelopeID ?? "", [])].addresses += addresses
        }
    }

    private mutating func note(notification content: ContentID, _ stores: QueueStores) {
        guard let body = try? stores.body(content) else { return }
        for (address, action) in NotificationReport(parsing: body).recipients where action == "failed" { reported.insert(address) }
    }

    var addresses: Set<String> { addresses(excluding: []) }

    func addresses(excluding lost: Set<EnvelopeID>) -> Set<String> {
        Set(envelopes.filter { !lost.contains($0.key) }.values.flatMap(\.addresses))
    }

    func messages(excluding lost: Set<EnvelopeID>) -> Set<String> {
        Set(envelopes.filter { !lost.contains($0.key) }.values.map(\.envelopeID))
    }
}
