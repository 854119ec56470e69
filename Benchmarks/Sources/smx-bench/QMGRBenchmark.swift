import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import SMXQueueManager
import SMXStore
import Synchronization

/// `smx-bench qmgr`: the whole queue in one process on the real disk: the three stores, a
/// ``QueueManager`` with the static resolver and an instant in-memory delivery agent, and
/// 64 concurrent producers handing 1 KiB messages to its ``Receiver``. Measures how many
/// messages are accepted (each durable when its `commit()` returns: ARCHITECTURE.md rule 1)
/// and how fast the manager delivers their recipients, against the disk's sync latency
/// measured in the same run.
struct QMGRBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qmgr",
        abstract: "Queue manager end to end: durable acceptances and deliveries per second."
    )

    @OptionGroup var options: BenchmarkOptions

    func run() async throws {
        let plan = QMGRPlan(quick: options.quick)
        try await options.runSuite("qmgr") { directory in
            try await QMGRSuite(plan: plan).run(in: directory)
        }
    }
}

struct QMGRPlan: Sendable {
    var quick: Bool
    /// Messages the producers hand over (fewer if ``maxAcceptSeconds`` ends the phase first).
    var messages: Int
    /// The accepting phase stops starting messages after this long.
    var maxAcceptSeconds: Double
    /// Longest wait for the last recipient's delivery after the accepting phase.
    var maxDrainSeconds: Double
    var producers = 64
    var bodyBytes = 1024
    /// Distinct 1 KiB bodies the producers cycle through (cut from the mail corpus).
    var distinctBodies = 64
    var domains = 50
    /// Recipients per message: 1 to this many, drawn per message.
    var maxRecipients = 3
    /// Recipients (by a hash of their id) whose first delivery fails temporarily, in percent.
    var failPercent: UInt64 = 10
    /// The retry schedule's fixed step and the policy's fuzz.
    var retryStep = Duration.seconds(1)
    var retryFuzz = 0.1
    /// Active-queue capacity (Postfix's `qmgr_message_recipient_limit`).
    var activeQueueCapacity = 20_000
    /// Jobs in flight per destination: Postfix's default (20), or
    /// `SMX_BENCH_QMGR_DESTINATION_LIMIT` (for profiling the second-level scheduler).
    var destinationLimit = DestinationLimits.defaultLimit
    /// The content store's default (chunks under 2 KiB are stored raw, so the 1 KiB bodies
    /// are), or `SMX_BENCH_QMGR_MIN_COMPRESSED_CHUNK` (0 compresses every body).
    var minimumCompressedChunk = BlobEncoder.defaultMinimumCompressedChunk
    /// The manager's default (0: its thread runs at the process's priority), or
    /// `SMX_BENCH_QMGR_NICE_INCREMENT` (e.g. 5: that many nice steps below the receiving side).
    var managerNiceIncrement = QueueManagerConfiguration.defaultThreadNiceIncrement
    var fsyncSamples: Int

    static let seed: UInt64 = 0x51_4D47_52

    init(quick: Bool) {
        self.quick = quick
        messages = quick ? 20_000 : 200_000
        maxAcceptSeconds = quick ? 20 : 90
        maxDrainSeconds = quick ? 30 : 120
        fsyncSamples = quick ? 300 : 1000
        if let raw = getenv("SMX_BENCH_QMGR_DESTINATION_LIMIT"), let limit = Int(String(cString: raw)), limit >= 1 {
            destinationLimit = limit
        }
        if let raw = getenv("SMX_BENCH_QMGR_MIN_COMPRESSED_CHUNK"), let bytes = Int(String(cString: raw)), bytes >= 0 {
            minimumCompressedChunk = bytes
        }
        if let raw = getenv("SMX_BENCH_QMGR_NICE_INCREMENT"), let increment = Int(String(cString: raw)), (0...19).contains(increment) {
            managerNiceIncrement = increment
        }
    }
}

/// The delivery agent of the benchmark: answers at once, in memory. A recipient whose id
/// hashes into the first ``failPercent`` percent fails temporarily (451 4.3.0) the first
/// time it is tried and is delivered the next time; every other recipient is delivered at
/// the first try. The session counts as connected either way, so the destination is never
/// marked down (only the recipient is deferred).
final class BenchDeliveryAgent: DeliveryAgent {
    static let later = StatusReply(code: 451, status: EnhancedStatusCode(4, 3, 0)!, text: "try again later", remoteMTA: "mx.bench.example")
    static let accepted = StatusReply(code: 250, status: EnhancedStatusCode(2, 0, 0)!, text: "ok", remoteMTA: "mx.bench.example")

    let failPercent: UInt64
    /// Recipients that already had their one temporary failure.
    private let failedOnce = Mutex<Set<RecipientID>>([])
    private let counters = Mutex<(jobs: Int, recipients: Int, temporaryFailures: Int, retriesDelivered: Int)>((0, 0, 0, 0))
    /// Recipients answered as delivered so far.
    private let deliveredCount = Atomic<Int>(0)

    init(failPercent: UInt64) {
        self.failPercent = failPercent
    }

    /// Whether `id` is one of the recipients that fail once.
    func failsOnce(_ id: RecipientID) -> Bool {
        var z = id.envelopeID.rawValue &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(id.index) &+ 0x6A09_E667_F3BC_C909
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return z % 100 < failPercent
    }

    func deliver(_ job: DeliveryJob) async -> DeliveryResult {
        var failures = 0
        var retries = 0
        let results = job.recipients.map { recipient -> RecipientResult in
            guard failsOnce(recipient.id) else { return RecipientResult(recipient.id, .delivered(Self.accepted)) }
            if failedOnce.withLock({ $0.insert(recipient.id).inserted }) {
                failures += 1
                return RecipientResult(recipient.id, .temporaryFailure(Self.later))
            }
            retries += 1
            return RecipientResult(recipient.id, .delivered(Self.accepted))
        }
        deliveredCount.wrappingAdd(job.recipients.count - failures, ordering: .relaxed)
        counters.withLock {
            $0.jobs += 1
            $0.recipients += job.recipients.count
            $0.temporaryFailures += failures
            $0.retriesDelivered += retries
        }
        return DeliveryResult(jobID: job.id, connection: .connected, recipients: results)
    }

    /// In memory, nothing to wait for: a pass's jobs run in turn in the one call, with no
    /// task per job (``DeliveryAgent/deliver(_:report:)``). `SMX_BENCH_QMGR_AGENT=tasks`
    /// keeps the default instead (a child task per job), for comparison.
    func deliver(_ jobs: [DeliveryJob], report: @escaping @Sendable (DeliveryJob, DeliveryResult) -> Void) async {
        guard !Self.taskPerJob else { return await deliverEachOnItsOwnTask(jobs, report: report) }
        for job in jobs { report(job, await deliver(job)) }
    }

    static let taskPerJob = getenv("SMX_BENCH_QMGR_AGENT").map { String(cString: $0) } == "tasks"

    var delivered: Int { deliveredCount.load(ordering: .relaxed) }

    var statistics: (jobs: Int, recipients: Int, temporaryFailures: Int, retriesDelivered: Int) {
        counters.withLock { $0 }
    }
}

/// Hands out message numbers to the producers.
final class MessageNumbers: Sendable {
    private let next = Atomic<Int>(0)
    func take() -> Int { next.wrappingAdd(1, ordering: .relaxed).oldValue }
}

/// What one producer did in the accepting phase.
struct QMGRProducerResult: Sendable {
    var messages = 0
    var recipients = 0
    var bodyBytes = 0
    var latencies: [UInt64] = []
}

struct QMGRSuite {
    let plan: QMGRPlan

    func run(in directory: String) async throws -> SuiteReport {
        var corpus = MailCorpus(seed: QMGRPlan.seed)
        let bodies = (0..<plan.distinctBodies).map { _ in corpus.body(size: plan.bodyBytes) }

        var probe = SyncMeasurement.SpreadProbe(directory: directory, totalSamples: plan.fsyncSamples, slices: 2)
        func measureProbe(_ name: String) throws {
            try probe.measure(name)
            let slice = probe.slices[probe.slices.count - 1].summary
            progress("fsync probe [\(name)] (4 KiB append + fdatasync, preallocated): p50 \(fixed(slice.p50)) us, p99 \(fixed(slice.p99)) us")
        }
        try measureProbe("start")

        // The stores, as a queue directory lays them out (docs/architecture.md), default
        // configurations, the production file layer.
        let queue = Path.join(directory, "queue")
        let queueID = QueueID.random()
        let log = try IncomingLog.open(
            fileSystem: fileSystem,
            configuration: IncomingLog.Configuration(queueID: queueID, directories: [Path.join(queue, "ibdb")])
        )
        let content: ContentStore
        let deferred: DeferredQueue
        do {
            var contentConfiguration = ContentStore.Configuration(queueID: queueID, directory: Path.join(queue, "cdb"))
            contentConfiguration.minimumCompressedChunk = plan.minimumCompressedChunk
            content = try ContentStore.open(fileSystem: fileSystem, configuration: contentConfiguration)
        } catch {
            log.close()
            throw error
        }
        do {
            deferred = try DeferredQueue.open(fileSystem: fileSystem, queue: queue, queueID: queueID)
        } catch {
            log.close()
            content.close()
            throw error
        }
        defer {
            log.close()
            content.close()
            deferred.close()
        }

        let agent = BenchDeliveryAgent(failPercent: plan.failPercent)
        let policy = try RetryPolicy(
            rules: [RetryRule(.any, schedule: .steps([.fixed(plan.retryStep, until: .days(1))]), lifetime: .days(5))],
            fuzz: plan.retryFuzz
        )
        let configuration = try QueueManagerConfiguration(
            activeQueue: ActiveQueueConfiguration(capacity: plan.activeQueueCapacity),
            destinationLimits: DestinationLimits(default: plan.destinationLimit),
            randomSeed: QMGRPlan.seed,
            threadNiceIncrement: plan.managerNiceIncrement
        )
        let manager = try QueueManager(
            log: log, contentStore: content, deferredQueue: deferred, resolver: try StaticRouteResolver(), agent: agent,
            policy: policy, clock: SystemQueueClock(), configuration: configuration
        )
        // For profiling: SMX_BENCH_QMGR=receiver runs the receiving side alone (a Receiver
        // on the same stores, no manager: nothing is delivered).
        let receiverOnly = getenv("SMX_BENCH_QMGR").map { String(cString: $0) } == "receiver"
        let receiver: Receiver
        if receiverOnly {
            progress("SMX_BENCH_QMGR=receiver: the receiver alone, no queue manager")
            receiver = Receiver(log: log, contentStore: content, envelopeIDs: SMXQueueManager.EnvelopeIDSource(after: nil))
        } else {
            receiver = try await manager.start()
        }

        let logBefore = log.statistics.directories[0]
        let contentBefore = content.statistics
        let txidBefore = deferred.file.committedTransaction
        progress(
            "accepting: \(plan.producers) producers, up to \(plan.messages) messages of \(plan.bodyBytes) bytes, "
                + "1-\(plan.maxRecipients) recipients over \(plan.domains) domains, \(plan.failPercent) % fail once"
        )

        // The accepting phase: every producer takes the next message number until all are
        // taken or the time is up, and measures begin → commit returned.
        let cpuStarted = processCPUNanos()
        let started = monotonicNanos()
        let deadline = started + plan.maxAcceptSeconds.nanoseconds
        let nextMessage = MessageNumbers()
        var producerResults: [QMGRProducerResult] = []
        do {
            try await withThrowingTaskGroup(of: QMGRProducerResult.self) { group in
                for _ in 0..<plan.producers {
                    group.addTask {
                        try await Self.producer(
                            receiver: receiver, plan: plan, bodies: bodies, next: nextMessage, deadline: deadline
                        )
                    }
                }
                for try await result in group { producerResults.append(result) }
            }
        } catch {
            await manager.stop()
            throw error
        }
        let accepted = monotonicNanos()
        let cpuAccepted = processCPUNanos()
        let acceptSeconds = Double(accepted - started) / 1e9
        let logAfter = log.statistics.directories[0]
        let contentAfter = content.statistics
        let messages = producerResults.reduce(0) { $0 + $1.messages }
        let recipients = producerResults.reduce(0) { $0 + $1.recipients }
        let latency = LatencySummary(nanoseconds: producerResults.flatMap(\.latencies))
        let acceptedPerSecond = Double(messages) / acceptSeconds
        let atAccepted = await manager.statistics()
        progress(
            "accepted \(messages) messages (\(recipients) recipients) in \(fixed(acceptSeconds, 2)) s: "
                + "\(fixed(acceptedPerSecond, 0)) msgs/s, p50 \(fixed(latency.p50)) us, p99 \(fixed(latency.p99)) us; "
                + "manager so far: \(atAccepted.totals.acceptedMessages) taken in, \(atAccepted.totals.delivered) delivered, "
                + "\(atAccepted.totals.passes) passes"
        )

        // Until every accepted recipient is delivered (the 10 % come back after the retry
        // step). The manager is idle between retries, so idleness alone is not the end.
        let drainDeadline = accepted + plan.maxDrainSeconds.nanoseconds
        var statistics = atAccepted
        var nextReport = accepted + 5_000_000_000
        // The agent's count is read without touching the manager; the manager's statistics
        // (a snapshot on its actor, O(open transactions)) only once the agent has delivered
        // every recipient, and every 5 s for the progress line.
        while !receiverOnly {
            let now = monotonicNanos()
            if agent.delivered >= recipients {
                await manager.waitUntilIdle()
                statistics = await manager.statistics()
                if statistics.totals.delivered >= recipients { break }
            }
            if now >= nextReport || now >= drainDeadline {
                nextReport = now + 5_000_000_000
                if let failure = await manager.failure {
                    await manager.stop()
                    throw failure
                }
                statistics = await manager.statistics()
                progress("draining: \(Self.describe(statistics, activity: manager.activity))")
            }
            if now >= drainDeadline {
                await manager.stop()
                throw QMGRBenchError.notDrained(delivered: statistics.totals.delivered, accepted: recipients)
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        let drained = monotonicNanos()
        let cpuDrained = processCPUNanos()
        let drainSeconds = Double(drained - started) / 1e9
        let txidAfter = deferred.file.committedTransaction
        let deferredCommits = Int(txidAfter - txidBefore)
        let problems = receiverOnly ? [] : await manager.verify()
        let agentStatistics = agent.statistics
        await manager.stop()
        let deliveredPerSecond = Double(statistics.totals.delivered) / drainSeconds
        progress(
            "delivered \(statistics.totals.delivered) recipients in \(fixed(drainSeconds, 2)) s from the start: "
                + "\(fixed(deliveredPerSecond, 0)) rcpts/s; \(statistics.totals.deferred) deferred once, "
                + "\(deferredCommits) deferred-queue commits, \(statistics.totals.passes) passes, "
                + "\(statistics.totals.jobsStarted) jobs; left: \(statistics.incomingTransactions) incoming transactions, "
                + "\(statistics.deferredQueue.map { "\($0)" } ?? "?") in the deferred queue; \(problems.count) invariant problems"
        )
        for problem in problems.prefix(5) { progress("  invariant problem: \(problem)") }

        try measureProbe("end")
        let fsync = probe.summary
        progress("fsync over the run: p50 \(fixed(fsync.p50)) us, p99 \(fixed(fsync.p99)) us over \(fsync.count) samples")

        let logBatches = logAfter.batches - logBefore.batches
        let logRecords = logAfter.records - logBefore.records
        let contentBatches = contentAfter.batches - contentBefore.batches
        let contentBlobs = contentAfter.blobs - contentBefore.blobs
        let acceptedPerFsync = acceptedPerSecond * fsync.p50 / 1e6

        var fields: [(String, JSON)] = [
            ("suite", .string("qmgr")),
            ("quick", .bool(plan.quick)),
            ("accepted_per_s", .number(acceptedPerSecond, decimals: 0)),
            ("delivered_per_s", .number(deliveredPerSecond, decimals: 0)),
            ("p99_accept_us", .micros(latency.p99)),
            ("fsync_us", .micros(fsync.p50)),
            ("deferred_commits_per_s", .number(Double(deferredCommits) / drainSeconds, decimals: 1)),
            ("p50_accept_us", .micros(latency.p50)),
            ("fsync_p99_us", .micros(fsync.p99)),
            ("fsync_samples", .int(fsync.count)),
            ("fsync_slices_us", .object(probe.slices.map { ($0.name, .micros($0.summary.p50)) })),
            ("producers", .int(plan.producers)),
            ("body_bytes", .int(plan.bodyBytes)),
            ("domains", .int(plan.domains)),
            ("destination_limit", .int(plan.destinationLimit)),
            ("min_compressed_chunk", .int(plan.minimumCompressedChunk)),
            ("manager_nice_increment", .int(plan.managerNiceIncrement)),
            ("agent", .string(BenchDeliveryAgent.taskPerJob ? "task per job" : "jobs of a pass in one call")),
            ("messages", .int(messages)),
            ("recipients", .int(recipients)),
            ("delivered", .int(statistics.totals.delivered)),
            ("deferred", .int(statistics.totals.deferred)),
            ("accept_s", .number(acceptSeconds, decimals: 2)),
            ("drain_s", .number(drainSeconds, decimals: 2)),
            ("deferred_commits", .int(deferredCommits)),
            ("passes", .int(statistics.totals.passes)),
            ("jobs", .int(statistics.totals.jobsStarted)),
            ("ibdb_avg_batch", .number(logBatches == 0 ? 0 : Double(logRecords) / Double(logBatches))),
            ("ibdb_syncs", .int(logAfter.syncs - logBefore.syncs)),
            ("cdb_avg_batch", .number(contentBatches == 0 ? 0 : Double(contentBlobs) / Double(contentBatches))),
            ("cdb_syncs", .int(contentAfter.syncs - contentBefore.syncs)),
            ("ibdb_avg_write_sync_us", .number(logBatches == 0 ? 0 : Double(logAfter.writeMicros - logBefore.writeMicros) / Double(logBatches), decimals: 1)),
            ("cdb_avg_pass_us", .number(contentBatches == 0 ? 0 : Double(contentAfter.passMicros - contentBefore.passMicros) / Double(contentBatches), decimals: 1)),
            ("cdb_segments_created", .int(contentAfter.segmentsCreated - contentBefore.segmentsCreated)),
            ("cdb_segments_prepared", .int(contentAfter.segmentsPrepared - contentBefore.segmentsPrepared)),
            ("cdb_segments_recycled", .int(contentAfter.segmentsRecycled - contentBefore.segmentsRecycled)),
            ("accepted_per_fsync", .number(acceptedPerFsync)),
            ("accept_cpu_us_per_msg", .number(Double(cpuAccepted - cpuStarted) / 1000 / Double(max(messages, 1)), decimals: 1)),
            ("cpu_us_per_msg", .number(Double(cpuDrained - cpuStarted) / 1000 / Double(max(messages, 1)), decimals: 1)),
            ("agent_jobs", .int(agentStatistics.jobs)),
            ("agent_temporary_failures", .int(agentStatistics.temporaryFailures)),
            ("invariant_problems", .int(problems.count)),
            ("goals", .object([("accepted_per_s", .int(20_000))])),
            ("goal_met", .bool(acceptedPerSecond >= 20_000)),
        ]
        if receiverOnly { fields.insert(("mode", .string("receiver")), at: 2) }
        let table = [
            "qmgr: \(plan.producers) producers, \(messages) messages of \(plan.bodyBytes) bytes, \(recipients) recipients\(plan.quick ? " (quick)" : "")",
            "fsync (4 KiB append + fdatasync, preallocated): p50 \(fixed(fsync.p50)) us, p99 \(fixed(fsync.p99)) us over \(fsync.count) samples",
            "",
            renderTable(
                ["metric", "value"],
                [
                    ["accepted/s", fixed(acceptedPerSecond, 0)],
                    ["delivered/s", fixed(deliveredPerSecond, 0)],
                    ["p50 accept us", fixed(latency.p50)],
                    ["p99 accept us", fixed(latency.p99)],
                    ["deferred commits/s", fixed(Double(deferredCommits) / drainSeconds)],
                    ["accept s", fixed(acceptSeconds, 2)],
                    ["drain s", fixed(drainSeconds, 2)],
                    ["passes", String(statistics.totals.passes)],
                ]
            ),
            "",
            "accepted per fsync latency: \(fixed(acceptedPerFsync)); goal accepted/s >= 20000: \(acceptedPerSecond >= 20_000 ? "met" : "not met")",
        ].joined(separator: "\n")
        return SuiteReport(fields: fields, table: table)
    }

    /// The manager's state in one line, for progress while draining.
    static func describe(_ s: QueueManagerStatistics, activity: QueueManagerActivity) -> String {
        let active = s.activeQueue.flatMap { source, states in states.filter { $0.value > 0 }.map { "\(source)/\($0.key)=\($0.value)" } }
        return "delivered \(s.totals.delivered), deferred \(s.totals.deferred), postponed \(s.totals.postponed), "
            + "timed out \(s.totals.timedOut), late \(s.totals.lateAnswers), passes \(s.totals.passes); active queue "
            + "\(s.activeQueueCount) [\(active.joined(separator: ", "))], incoming transactions \(s.incomingTransactions) "
            + "(waiting \(s.incomingWaiting)), next-try cache \(s.nextTryCacheKeys) keys, deferred queue "
            + "\(s.deferredQueue.map { "\($0)" } ?? "?"), jobs \(s.jobsInFlight), activity \(activity)"
    }

    /// One SMTP session's worth of work in a loop: MAIL FROM, 1 to 3 RCPT TO, the body,
    /// the final dot; the latency of each acceptance is begin → `commit()` returned.
    private static func producer(
        receiver: Receiver, plan: QMGRPlan, bodies: [[UInt8]], next: MessageNumbers, deadline: UInt64
    ) async throws -> QMGRProducerResult {
        var result = QMGRProducerResult()
        result.latencies.reserveCapacity(plan.messages / plan.producers + 1024)
        while true {
            let n = next.take()
            guard n < plan.messages else { break }
            var random = SplitMix64(seed: QMGRPlan.seed ^ UInt64(n) &* 0x2545_F491_4F6C_DD1D)
            let count = 1 + Int(random.next() % UInt64(plan.maxRecipients))
            let body = bodies[n % bodies.count]
            let start = monotonicNanos()
            guard start < deadline else { break }
            let message = try receiver.begin(sender: "sender\(n % 1000)@bench.example")
            for r in 0..<count {
                let domain = Int(random.next() % UInt64(plan.domains))
                try message.addRecipient("user\(n)-\(r)@d\(domain).bench.example")
            }
            try await message.appendBody(body)
            _ = try await message.commit()
            result.latencies.append(monotonicNanos() - start)
            result.messages += 1
            result.recipients += count
            result.bodyBytes += body.count
        }
        return result
    }
}

enum QMGRBenchError: Error, CustomStringConvertible {
    case notDrained(delivered: Int, accepted: Int)

    var description: String {
        switch self {
        case .notDrained(let delivered, let accepted):
            "the queue manager delivered \(delivered) of \(accepted) accepted recipients before the drain deadline"
        }
    }
}
