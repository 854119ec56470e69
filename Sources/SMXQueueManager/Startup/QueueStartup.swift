import SMXStore

/// Brings a queue from "stores opened" to "ready to receive and deliver" after a restart
/// or a crash (ARCHITECTURE.md rule 5; the seed's "In case of a restart IBDB is read and
/// transactions which are not closed are added to the main queue (DEFEDB)").
///
/// Each store's open already ran its own recovery (torn tails cut, damage reported and
/// quarantined). ``run(now:)`` then joins them, in this order:
///
/// 1. ``discardTransactionsWithoutBody()``: open incoming transactions whose body is
///    missing or does not verify were never acknowledged; they are closed as discarded.
/// 2. ``moveOpenTransactions(now:)``: every other open incoming transaction goes to the
///    deferred queue: its pending recipients, due at `now`, in one deferred-queue commit per
///    batch, and only once that is durable the incoming log's close records (rule 3).
///    Delivered recipients are not queued again; recipients that failed or moved before
///    the crash are already in the deferred queue (rule 3 put them there first), or have
///    left it since, and are not added either.
/// 3. ``checkDeferredBodies(alreadyValid:)``: every deferred envelope's body must exist and
///    verify; an envelope whose body is gone is dropped with its recipients and reported
///    (a damaged body is copied to the quarantine directory first).
/// 4. ``recountReferences()``: references to bodies are counted from the deferred queue and
///    the incoming log's open transactions, and every other body is released (rule 2:
///    only now is no reference left unseen).
/// 5. ``rebuildNextTryCache()``: the scheduler's window over the next-try index.
///
/// **Idempotent.** Every step reads the stores' state and writes only what is still
/// missing: a recipient already in the deferred queue is not added again, a closed
/// transaction is not seen again, a dropped envelope is gone, a released body is not
/// live. A crash anywhere in startup, followed by reopening the stores and running it
/// again, ends in the state an uninterrupted run gives (`QueueStartupCrashTests`).
///
/// **Before anything else.** Run it before a ``Receiver`` takes mail or deliveries start:
/// the recount releases every body no envelope refers to, which includes a body being
/// received.
public struct QueueStartup: Sendable {
    public struct Configuration: Sendable {
        /// Most keys the rebuilt ``NextTryCache`` holds.
        public var nextTryCacheCapacity = 100_000
        /// Envelopes per deferred-queue commit (and per incoming-log close batch, and per
        /// page of the deferred-queue walk).
        public var batchSize = 256
        /// The deferred queue's destination for a moved recipient (lower-case, 1...255
        /// bytes, no NUL). The default is the recipient's domain, or `invalid` (RFC 2606)
        /// when it has none; delivery resolves the address again in any case.
        public var destination: @Sendable (String) -> String = QueueStartup.recipientDomain
        /// Copy a damaged body's bytes to the content store's quarantine directory (when it
        /// has one) before its envelope is dropped.
        public var quarantineDamagedBodies = true

        public init() {}
    }

    /// What startup hands to the running queue manager.
    public struct Result {
        public var report: StartupReport
        /// The scheduler's window over the next-try index, filled.
        public var nextTryCache: NextTryCache
        /// References per body: the queue manager's reference counts from here on.
        public var references: [ContentID: Int]
        /// Hands out envelope ids past every id in the stores.
        public var envelopeIDs: EnvelopeIDSource
    }

    public let log: IncomingLog
    public let contentStore: ContentStore
    public let deferredQueue: DeferredQueue
    public let configuration: Configuration

    public init(log: IncomingLog, contentStore: ContentStore, deferredQueue: DeferredQueue, configuration: Configuration = Configuration()) {
        self.log = log
        self.contentStore = contentStore
        self.deferredQueue = deferredQueue
        self.configuration = configuration
    }

    /// Runs the five steps in order and reports. `now` (µs since the epoch) is when moved
    /// recipients are due. Throws ``StartupError`` naming the step whose store failed;
    /// what the earlier steps did is durable, and running again finishes the job.
    public func run(now: UInt64) async throws(StartupError) -> Result {
        let started = monotonicMicros()
        var report = try makeReport()
        var mark = monotonicMicros()
        func lap(_ step: StartupStep) {
            let end = monotonicMicros()
            report.timings.append(StartupReport.StepTiming(step: step, micros: end - mark))
            mark = end
        }

        for transaction in log.openTransactions() { report.saw(transaction.envelopeID) }
        report.discardedWithoutBody = try await discardTransactionsWithoutBody()
        lap(.discardWithoutBody)

        // Whatever is still open now passed the body check of step 1.
        let verified = Dictionary(log.openTransactions().map { ($0.content.id, $0.content) }) { first, _ in first }
        try await moveOpenTransactions(now: now, into: &report)
        lap(.moveOpenTransactions)

        try await checkDeferredBodies(alreadyValid: verified, into: &report)
        lap(.checkDeferredBodies)

        let count = try recountReferences(into: &report)
        lap(.recountReferences)

        let cache = try rebuildNextTryCache(into: &report)
        lap(.rebuildNextTryCache)

        report.deferredQueueAfter = try step(.inspectDeferredQueue) { try deferredQueueInfo() }
        report.totalMicros = monotonicMicros() - started
        return Result(
            report: report, nextTryCache: cache, references: count.references,
            envelopeIDs: EnvelopeIDSource(after: report.highestEnvelopeID)
        )
    }

    /// A report holding the stores' own recovery reports and the deferred queue as it is
    /// now, for the steps to fill (``run(now:)`` starts with it; a caller running the
    /// steps one by one does too).
    public func makeReport() throws(StartupError) -> StartupReport {
        StartupReport(
            incomingLog: log.recovery, contentStore: contentStore.recovery,
            deferredQueueBefore: try step(.inspectDeferredQueue) { try deferredQueueInfo() }
        )
    }

    // MARK: - Step 1

    /// Closes (as discarded) the open incoming transactions whose body is missing, of
    /// another size or checksum, or damaged (``IncomingLog/discardTransactionsWithoutBody(in:)``).
    public func discardTransactionsWithoutBody() async throws(StartupError) -> [IncomingLog.DiscardedTransaction] {
        try await step(.discardWithoutBody) { try await log.discardTransactionsWithoutBody(in: contentStore) }
    }

    // MARK: - Step 2

    /// Moves every open incoming transaction into the deferred queue and closes it in the
    /// incoming log, `batchSize` transactions at a time: for each batch one deferred-queue
    /// commit (awaited: durable), then one incoming-log commit of the close records
    /// (rule 3). A crash between the two leaves the transactions in both; the next run
    /// finds their recipients in the deferred queue, adds nothing, and writes the closes.
    ///
    /// Per recipient: pending → added as deferred, due at `now`, unless the deferred
    /// queue already has it; delivered → counted in the envelope's `delivered`, not added;
    /// failed permanently or moved → left to the deferred queue (rule 3 wrote it there
    /// before the incoming log's outcome; if it is not there now it was delivered or
    /// bounced from there, and adding it would deliver it twice). A transaction whose
    /// recipients all were delivered closes as completed, any other as moved.
    public func moveOpenTransactions(now: UInt64, into report: inout StartupReport) async throws(StartupError) {
        let open = log.openTransactions()
        report.openTransactions += open.count
        var start = 0
        while start < open.count {
            let batch = open[start..<min(open.count, start + max(1, configuration.batchSize))]
            start = batch.endIndex
            let plan = try step(.moveOpenTransactions) { try planMove(batch, now: now) }
            report.recipientsMoved += plan.recipientsMoved
            report.recipientsAlreadyDeferred += plan.recipientsAlreadyDeferred
            report.recipientsDelivered += plan.recipientsDelivered
            report.recipientsLeftToDeferredCopy += plan.recipientsLeftToDeferredCopy
            report.transactionsMoved += plan.changes.count
            report.unmovable += plan.unmovable
            if !plan.changes.isEmpty {
                try await step(.moveOpenTransactions) { try await deferredQueue.apply(plan.changes) }
            }
            if !plan.closes.isEmpty {
                try await step(.moveOpenTransactions) { try await log.commit(plan.closes) }
                report.transactionsClosed += plan.closes.count
            }
        }
    }

    /// What moving one batch writes.
    struct MovePlan {
        var changes: [DeferredQueueChange] = []
        var closes: [LogRecord] = []
        var unmovable: [StartupReport.UnmovableTransaction] = []
        var recipientsMoved = 0
        var recipientsAlreadyDeferred = 0
        var recipientsDelivered = 0
        var recipientsLeftToDeferredCopy = 0
    }

    func planMove(_ batch: ArraySlice<IncomingTransaction>, now: UInt64) throws -> MovePlan {
        let reader = try deferredQueue.reader()
        defer { reader.close() }
        var plan = MovePlan()
        for transaction in batch {
            let id = transaction.envelopeID
            let present = Set(try reader.recipients(of: id).map(\.id.index))
            var added: [DeferredRecipient] = []
            var delivered: UInt32 = 0
            var already = 0, left = 0
            for (index, recipient) in transaction.recipients.enumerated() {
                let recipientID = RecipientID(id, UInt32(index))
                switch recipient.state {
                case .pending where present.contains(recipientID.index):
                    already += 1
                case .pending:
                    added.append(DeferredRecipient(
                        id: recipientID, address: recipient.address, notify: recipient.notify,
                        originalRecipient: recipient.originalRecipient, destination: destination(of: recipient.address),
                        status: .deferred, nextTry: now
                    ))
                case .delivered:
                    delivered += 1
                case .failedPermanently, .movedToDeferred:
                    left += 1
                }
            }
            if !added.isEmpty {
                let envelope = DeferredTransaction(
                    envelopeID: id, sender: transaction.sender, mail: transaction.mail, content: transaction.content,
                    arrivalMicros: transaction.arrivalMicros, recipientCount: UInt32(transaction.recipients.count),
                    delivered: delivered
                )
                let change = DeferredQueueChange.add(envelope, added)
                if let problem = change.validationProblem {
                    plan.unmovable.append(StartupReport.UnmovableTransaction(envelopeID: id, problem: problem))
                    continue
                }
                plan.changes.append(change)
            }
            plan.recipientsMoved += added.count
            plan.recipientsAlreadyDeferred += already
            plan.recipientsDelivered += Int(delivered)
            plan.recipientsLeftToDeferredCopy += left
            let completed = transaction.recipients.allSatisfy { $0.state == .delivered }
            plan.closes.append(.closed(id, completed ? .completed : .movedToDeferred))
        }
        return plan
    }

    /// The configured destination, or `invalid` when it is not one the deferred queue
    /// takes.
    func destination(of address: String) -> String {
        let destination = configuration.destination(address)
        return DeferredQueueSchema.destinationProblem(destination) == nil ? destination : Self.unroutable
    }

    static let unroutable = "invalid"

    /// The default ``Configuration/destination``: the domain after the last `@`,
    /// normalized as a ``NextHop``; `invalid` when there is none.
    public static let recipientDomain: @Sendable (String) -> String = { address in
        StaticRouteResolver.domain(of: address)?.name ?? unroutable
    }

    // MARK: - Step 3

    /// Checks the body of every deferred envelope (``ContentStore/validate(_:)``) and drops
    /// (``DeferredQueueChange/deleteEnvelope(_:)``, one commit per batch) those whose body
    /// is missing, of another size or checksum, or damaged, after copying a damaged one to
    /// quarantine. `alreadyValid` names references verified earlier in this startup: they
    /// are not read again.
    public func checkDeferredBodies(alreadyValid: [ContentID: ContentReference] = [:], into report: inout StartupReport) async throws(StartupError) {
        var after: EnvelopeID?
        var findings: [ContentID: (ContentReference, ContentValidation)] = [:]
        while true {
            let reader = try step(.checkDeferredBodies) { try deferredQueue.reader() }
            let page: [DeferredTransaction]
            let recipientCounts: [EnvelopeID: Int]
            do {
                defer { reader.close() }
                page = try step(.checkDeferredBodies) { try reader.transactions(after: after, limit: max(1, configuration.batchSize)) }
                recipientCounts = Dictionary(uniqueKeysWithValues: page.map { ($0.envelopeID, Int($0.queued)) })
            }
            var drops: [DeferredQueueChange] = []
            for transaction in page {
                report.deferredEnvelopesChecked += 1
                report.saw(transaction.envelopeID)
                let content = transaction.content
                var finding: ContentValidation
                if alreadyValid[content.id] == content {
                    finding = .valid
                } else if let known = findings[content.id], known.0 == content {
                    finding = known.1
                } else {
                    finding = contentStore.validate(content)
                    findings[content.id] = (content, finding)
                    report.bodiesVerified += 1
                }
                guard finding != .valid else { continue }
                var dropped = StartupReport.DroppedEnvelope(
                    envelopeID: transaction.envelopeID, content: content, finding: finding,
                    recipients: recipientCounts[transaction.envelopeID] ?? 0, quarantinedAt: nil
                )
                if case .damaged(let problem) = finding, configuration.quarantineDamagedBodies,
                   contentStore.configuration.quarantineDirectory != nil {
                    do {
                        dropped.quarantinedAt = try contentStore.quarantine(content.id, reason: "startup: \(problem)")
                    } catch {
                        report.quarantineProblems.append("content \(content.id) of envelope \(transaction.envelopeID): \(error)")
                    }
                }
                report.droppedEnvelopes.append(dropped)
                drops.append(.deleteEnvelope(transaction.envelopeID))
            }
            if !drops.isEmpty {
                try await step(.checkDeferredBodies) { try await deferredQueue.apply(drops) }
            }
            guard page.count == max(1, configuration.batchSize), let last = page.last else { break }
            after = last.envelopeID
        }
    }

    // MARK: - Step 4

    /// References per body.
    public struct ReferenceCount: Sendable, Equatable {
        public var references: [ContentID: Int] = [:]
    }

    /// Counts the references to every body (one per deferred envelope, one per open
    /// incoming transaction) and releases every live body with none
    /// (``ContentStore/releaseAll(except:)``).
    public func recountReferences(into report: inout StartupReport) throws(StartupError) -> ReferenceCount {
        var count = ReferenceCount()
        func note(_ id: EnvelopeID, _ content: ContentID) {
            count.references[content, default: 0] += 1
            report.saw(id)
        }
        try step(.recountReferences) {
            let reader = try deferredQueue.reader()
            defer { reader.close() }
            var after: EnvelopeID?
            let limit = max(1, configuration.batchSize)
            while true {
                let page = try reader.transactions(after: after, limit: limit)
                for transaction in page { note(transaction.envelopeID, transaction.content.id) }
                guard page.count == limit, let last = page.last else { break }
                after = last.envelopeID
            }
        }
        for transaction in log.openTransactions() { note(transaction.envelopeID, transaction.content.id) }
        report.referencedBodies = count.references.count
        report.references = count.references.values.reduce(0, +)
        report.bodiesReleased = try step(.recountReferences) { try contentStore.releaseAll(except: Set(count.references.keys)) }
        return count
    }

    // MARK: - Step 5

    /// A ``NextTryCache`` of ``Configuration/nextTryCacheCapacity`` filled with the first
    /// keys of the deferred queue's next-try index.
    public func rebuildNextTryCache(into report: inout StartupReport) throws(StartupError) -> NextTryCache {
        let cache = NextTryCache(capacity: max(1, configuration.nextTryCacheCapacity))
        report.nextTryEntries = try step(.rebuildNextTryCache) { try cache.refillIfEmpty(from: deferredQueue) }
        report.nextTryCacheComplete = cache.horizon == nil
        return cache
    }

    // MARK: - Helpers

    func deferredQueueInfo() throws -> StartupReport.DeferredQueueInfo {
        let reader = try deferredQueue.reader()
        defer { reader.close() }
        let pages = deferredQueue.file.pageStatistics
        return StartupReport.DeferredQueueInfo(
            path: deferredQueue.file.configuration.path, committedTransaction: reader.txid,
            checkpoint: deferredQueue.file.checkpointNumber, counts: try reader.counts(),
            pages: pages.pages, freePages: pages.free
        )
    }

    /// Runs `body`, naming `step` in any error it throws.
    @discardableResult
    func step<T>(_ step: StartupStep, _ body: () throws -> T) throws(StartupError) -> T {
        do { return try body() } catch { throw StartupError(step: step, cause: error) }
    }

    @discardableResult
    func step<T>(_ step: StartupStep, _ body: () async throws -> T) async throws(StartupError) -> T {
        do { return try await body() } catch { throw StartupError(step: step, cause: error) }
    }
}
