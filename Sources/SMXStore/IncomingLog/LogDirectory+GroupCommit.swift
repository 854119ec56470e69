/// Group commit (ARCHITECTURE.md, "Group commit"): callers enqueue and wait; the sync
/// thread writes whatever accumulated while its previous sync ran in one positional write
/// and makes it durable with one `fdatasync`, then wakes every waiter of the batch.
extension LogDirectory {
    /// One record of a commit, encoded by the caller before taking the lock.
    struct Item {
        var record: LogRecord
        var payload: [UInt8]

        init(_ record: LogRecord) {
            self.record = record
            self.payload = record.encodePayload()
        }

        var framedSize: Int { RecordFrame.size(payloadCount: payload.count) }
    }

    /// Enqueues `items` as one commit and returns once all of them are durable, with the
    /// sequence number of the last. Validates them against the open transactions first:
    /// a transaction must be new, an outcome or close must name an open transaction.
    func commit(_ items: [Item]) async throws -> UInt64 {
        for item in items where item.framedSize > segmentCapacity {
            throw StoreError(
                .invalidArgument,
                "record of \(item.payload.count) bytes does not fit in a \(configuration.segmentSize)-byte segment",
                path: path
            )
        }
        let bytes = items.reduce(0) { $0 + $1.framedSize }
        return try await enqueueAndWait(bytes: bytes) { directory in
            try directory.applyToLiveSet(items)
            return items
        }
    }

    /// `prepare` runs under the lock, validates, updates the live set and returns the items
    /// to enqueue. With `bytes` given, the call waits for buffer space first (back-pressure).
    private func enqueueAndWait(
        bytes: Int?,
        prepare: (LogDirectory) throws -> [Item]
    ) async throws -> UInt64 {
        while true {
            let result: EnqueueResult = try await withUnsafeThrowingContinuation { continuation in
                condition.lock()
                if let failure {
                    condition.unlock()
                    continuation.resume(throwing: Self.poisoned(path: path, cause: failure))
                    return
                }
                if closing {
                    condition.unlock()
                    continuation.resume(throwing: StoreError(.closed, "incoming log is closed", path: path))
                    return
                }
                if let bytes, pendingBytes > 0, pendingBytes + bytes > configuration.maxPendingBytes {
                    statistics.backPressureWaits += 1
                    spaceWaiters.append(continuation)
                    condition.unlock()
                    return
                }
                let items: [Item]
                do {
                    items = try prepare(self)
                } catch {
                    condition.unlock()
                    continuation.resume(throwing: error)
                    return
                }
                guard !items.isEmpty else {
                    let sequence = durableSequence
                    condition.unlock()
                    continuation.resume(returning: .durable(sequence))
                    return
                }
                for (i, item) in items.enumerated() {
                    appendPending(item, waiter: i == items.count - 1 ? continuation : nil)
                }
                pendingCommits += 1
                if pendingCommits >= wakeThreshold {
                    condition.signal()
                }
                condition.unlock()
            }
            if case .durable(let sequence) = result { return sequence }
        }
    }

    /// Queues one record for the sync thread (lock held), numbered now; `waiter` is resumed
    /// once it is durable.
    func appendPending(_ item: Item, waiter: UnsafeContinuation<EnqueueResult, any Error>?) {
        pending.append(Pending(
            type: item.record.type,
            envelopeID: item.record.envelopeID,
            sequence: sequencer.sequence(),
            payload: item.payload,
            waiter: waiter
        ))
        pendingBytes += item.framedSize
    }

    /// Checks a commit against the open transactions and applies it (lock held). All or
    /// nothing: the changes are staged and applied only when every record checks out.
    private func applyToLiveSet(_ items: [Item]) throws {
        // The batch's changes by envelope (nil: closed), applied only once all are valid. A
        // dictionary, not a list searched backwards: a manager's batch holds thousands of
        // outcomes, and a search per record made it quadratic.
        var staged: [EnvelopeID: LiveTransaction?] = [:]
        staged.reserveCapacity(items.count)
        func current(_ id: EnvelopeID) -> LiveTransaction? {
            if let entry = staged[id] { return entry }
            return live[id]
        }
        for item in items {
            switch item.record {
            case .transaction(let t):
                guard current(t.envelopeID) == nil else {
                    throw StoreError(.invalidArgument, "transaction \(t.envelopeID) is already open", path: path)
                }
                guard !t.recipients.isEmpty else {
                    throw StoreError(.invalidArgument, "transaction \(t.envelopeID) has no recipients", path: path)
                }
                guard spareSegments > 0 else {
                    throw StoreError(
                        .noSpace,
                        "incoming log is full: every segment holds open transactions; the rest is kept for outcomes",
                        path: path
                    )
                }
                staged[t.envelopeID] = .some(LiveTransaction(payload: item.payload, states: t.recipients.map(\.state)))
            case .outcome(let id, let index, let state, _):
                // Taken out of the staging, so that changing it does not copy its states.
                guard var t = staged.removeValue(forKey: id) ?? live[id] else {
                    throw StoreError(.notFound, "outcome for transaction \(id), which is not open", path: path)
                }
                guard index >= 0, index < t.states.count else {
                    throw StoreError(.invalidArgument, "transaction \(id) has no recipient \(index)", path: path)
                }
                guard t.states[index] == .pending else {
                    throw StoreError(.invalidArgument, "recipient \(index) of \(id) is already \(t.states[index])", path: path)
                }
                t.states[index] = state
                staged[id] = .some(t)
            case .closed(let id, _):
                guard current(id) != nil else {
                    throw StoreError(.notFound, "close of transaction \(id), which is not open", path: path)
                }
                staged[id] = .some(nil)
            case .carriedForward, .seal:
                throw StoreError(.invalidArgument, "\(item.record.type) records are written by the log itself", path: path)
            }
        }
        for (id, value) in staged {
            live[id] = value
        }
    }

    static func poisoned(path: String, cause: StoreError) -> StoreError {
        StoreError(
            .poisoned,
            "incoming log refuses writes after a failed write or sync; reopen it to recover",
            path: path,
            cause: cause
        )
    }

    // MARK: - The sync thread

    func startSyncThread() {
        let thread = SyncThread(name: "smx-ibdb-\(index)") { [self] in runSyncLoop() }
        self.thread = thread
        thread.start()
    }

    /// Stops the sync thread after it has written what is pending, and closes the files.
    func shutdown() {
        condition.withLock {
            closing = true
            condition.broadcast()
        }
        thread?.join()
        thread = nil
        preparer?.join()
        preparer = nil
        slots += condition.withLock { preparedSlots }
        let waiters = condition.withLock {
            let w = spaceWaiters
            spaceWaiters = []
            return w
        }
        for waiter in waiters {
            waiter.resume(throwing: StoreError(.closed, "incoming log is closed", path: path))
        }
        for slot in slots { try? slot.handle.close() }
    }

    private func runSyncLoop() {
        while true {
            condition.lock()
            while pendingHead == pending.count && !closing {
                wakeThreshold = 1
                condition.wait()
            }
            if pendingHead == pending.count {
                condition.unlock()
                return
            }
            if let wait = configuration.maxWaitMicroseconds, wait > 0,
               pendingBytes < configuration.maxBatchBytes, !closing {
                condition.wait(microseconds: wait)
            } else if configuration.adaptiveBatching {
                waitForReturningCommitters()
            }
            var batch: [Pending] = []
            var bytes = 0
            var commits = 0
            while pendingHead < pending.count {
                let size = RecordFrame.size(payloadCount: pending[pendingHead].payload.count)
                if !batch.isEmpty && bytes + size > configuration.maxBatchBytes { break }
                if pending[pendingHead].waiter != nil { commits += 1 }
                batch.append(pending[pendingHead])
                pendingHead += 1
                bytes += size
            }
            pendingCommits -= commits
            lastBatchCommits = commits
            // Busy until the batch is durable: enqueuers need not wake this thread.
            wakeThreshold = Int.max
            if pendingHead == pending.count {
                pending.removeAll(keepingCapacity: true)
                pendingHead = 0
            } else if pendingHead >= 4096 {
                pending.removeFirst(pendingHead)
                pendingHead = 0
            }
            pendingBytes -= bytes
            writingBytes = bytes
            let wakers = spaceWaiters
            spaceWaiters = []
            condition.unlock()
            for waker in wakers { waker.resume(returning: .retry) }

            do {
                let started = monotonicMicros()
                try write(batch)
                let took = Int(monotonicMicros() - started)
                batchMicrosAverage = batchMicrosAverage == 0 ? took : (batchMicrosAverage * 7 + took) / 8
                let spare = spareSegmentCount()
                condition.withLock {
                    writingBytes = 0
                    statistics.writeMicros += took
                    durableSequence = batch[batch.count - 1].sequence
                    spareSegments = spare
                    statistics.batches += 1
                    statistics.records += batch.count
                    statistics.bytes += bytes
                    statistics.largestBatch = max(statistics.largestBatch, batch.count)
                }
                for entry in batch {
                    entry.waiter?.resume(returning: .durable(entry.sequence))
                }
                requestHandOffIfNeeded()
            } catch {
                fail(batch, error: error as? StoreError ?? StoreError(.io, "\(error)", path: path))
            }
        }
    }

    /// Adaptive batching (lock held): the committers acknowledged by the previous batch
    /// usually come straight back with their next commit, but they are resumed one by one
    /// on the cooperative pool. Writing as soon as the first of them is back would split
    /// them into two alternating half-size batches, each waiting a whole extra sync. So wait
    /// until as many commits are pending as the previous batch carried, or half the average
    /// batch time has passed, whichever comes first. With a single committer (or a batch of
    /// one) this never waits.
    private func waitForReturningCommitters() {
        guard lastBatchCommits > 1, pendingCommits < lastBatchCommits, batchMicrosAverage > 0 else { return }
        let budget = min(batchMicrosAverage / 2, configuration.maxAdaptiveWaitMicroseconds)
        let deadline = monotonicMicros() + UInt64(budget)
        wakeThreshold = lastBatchCommits
        defer { wakeThreshold = Int.max }
        while pendingCommits < lastBatchCommits, !closing, pendingBytes < configuration.maxBatchBytes {
            let now = monotonicMicros()
            if now >= deadline { break }
            condition.wait(microseconds: Int(deadline - now))
        }
    }

    /// Rule 6: a failed write or sync fails its batch and everything queued behind it, and
    /// the directory refuses writes until the log is reopened.
    private func fail(_ batch: [Pending], error: StoreError) {
        logger.error("incoming log write failed; refusing writes until reopened", metadata: [
            "path": "\(path)", "error": "\(error)",
        ])
        let (queued, waiters) = condition.withLock {
            failure = error
            let queued = Array(pending[pendingHead...])
            pending.removeAll()
            pendingHead = 0
            pendingBytes = 0
            writingBytes = 0
            pendingCommits = 0
            let waiters = spaceWaiters
            spaceWaiters = []
            return (queued, waiters)
        }
        for entry in batch {
            entry.waiter?.resume(throwing: error)
        }
        let poisoned = Self.poisoned(path: path, cause: error)
        for entry in queued {
            entry.waiter?.resume(throwing: poisoned)
        }
        for waiter in waiters {
            waiter.resume(throwing: poisoned)
        }
    }
}
