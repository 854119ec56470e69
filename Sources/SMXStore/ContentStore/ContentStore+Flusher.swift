/// Group commit for bodies: writers enqueue finished blobs; one dedicated thread writes
/// whatever accumulated while its previous pass ran and makes it durable, then wakes every
/// waiter of the pass.
///
/// A pass writes to one segment only: the blobs placed there (contiguous, one positional
/// write) and, when the segment is full, its seal; then one `fdatasync`. Large bodies
/// finished meanwhile ride along: one `fdatasync` each, a rename from `.tmp` to `.blob`,
/// and one directory sync for all. A segment taking its first writes has its file header
/// written and synced first, so a torn header never hides synced bodies.
enum PendingWrite {
    case blob(BlobWrite)
    case seal(slot: Int, offset: Int, sequence: UInt64)
    case large(LargeWrite)

    var sequence: UInt64 {
        switch self {
        case .blob(let b): b.sequence
        case .seal(_, _, let s): s
        case .large(let l): l.sequence
        }
    }

    var slot: Int? {
        switch self {
        case .blob(let b): b.slot
        case .seal(let slot, _, _): slot
        case .large: nil
        }
    }

    /// Bytes this write puts into a segment.
    var bytes: Int {
        switch self {
        case .blob(let b): b.bytes.count
        case .seal: BlobFormat.headerSize
        case .large: 0
        }
    }
}

struct BlobWrite {
    var slot: Int
    var offset: Int
    /// Header fields; the flusher fills in the commit batch and seals it with the seed.
    var header: BlobHeader
    /// Header space plus chunk frames.
    var bytes: [UInt8]
    var sequence: UInt64
    /// Set for compaction's copies: where the body was when it was read.
    var copiedFrom: BlobLocation?
}

struct LargeWrite {
    var id: ContentID
    var handle: any FileHandle
    var number: UInt64
    var extent: Int
    var rawLength: UInt64
    var bodyChecksum: UInt64
    var sequence: UInt64
}

extension ContentStore {
    // MARK: - Enqueueing

    /// Places a finished blob in the active segment (rolling over to a new one when it does
    /// not fit) and queues it for the flusher; waits for room when too much is pending.
    func enqueueBlob(
        header: BlobHeader,
        bytes: [UInt8],
        copiedFrom: BlobLocation? = nil
    ) async throws -> UInt64 {
        while true {
            let sequence: UInt64? = try await withUnsafeThrowingContinuation { continuation in
                condition.lock()
                do {
                    try checkWritable()
                    if pendingBytes > 0, pendingBytes + bytes.count > configuration.maxPendingBytes {
                        statistics_.backPressureWaits += 1
                        spaceWaiters.append(continuation)
                        condition.unlock()
                        return
                    }
                    let (segment, offset) = try placeBlob(extent: bytes.count)
                    enqueuedSequence += 1
                    pending.append(.blob(BlobWrite(
                        slot: segment.slot, offset: offset, header: header, bytes: bytes,
                        sequence: enqueuedSequence, copiedFrom: copiedFrom
                    )))
                    pendingBytes += bytes.count
                    if copiedFrom == nil { inFlight.insert(header.contentID) }
                    let sequence = enqueuedSequence
                    if pending.count - pendingHead >= wakeThreshold { condition.signal() }
                    condition.unlock()
                    continuation.resume(returning: sequence)
                } catch {
                    condition.unlock()
                    continuation.resume(throwing: error)
                }
            }
            if let sequence { return sequence }
        }
    }

    /// Returns once everything queued up to `sequence` is durable.
    func waitDurable(sequence: UInt64) async throws {
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
            condition.lock()
            if durableSequence >= sequence {
                condition.unlock()
                continuation.resume()
            } else if let failure {
                condition.unlock()
                continuation.resume(throwing: poisonedError(failure))
            } else {
                durabilityWaiters.append((sequence, continuation))
                condition.unlock()
            }
        }
    }

    /// Queues a finished large body file for its sync and rename.
    func enqueueLarge(_ write: LargeWrite) throws -> UInt64 {
        try condition.withLock {
            try checkWritable()
            enqueuedSequence += 1
            var write = write
            write.sequence = enqueuedSequence
            pending.append(.large(write))
            inFlight.insert(write.id)
            if pending.count - pendingHead >= wakeThreshold { condition.signal() }
            return enqueuedSequence
        }
    }

    /// Lock held: room for `extent` bytes in the active segment, sealing it and taking a
    /// new one when it is full.
    private func placeBlob(extent: Int) throws -> (ContentSegment, Int) {
        if let segment = current, segment.allocated + extent + BlobFormat.headerSize <= configuration.segmentSize {
            let offset = segment.allocated
            segment.allocated += extent
            return (segment, offset)
        }
        let segment = try takeSlot()
        if let old = current {
            enqueuedSequence += 1
            pending.append(.seal(slot: old.slot, offset: old.allocated, sequence: enqueuedSequence))
            pendingBytes += BlobFormat.headerSize
            old.allocated += BlobFormat.headerSize
        }
        segment.number = nextSegmentNumber
        nextSegmentNumber += 1
        segment.state = .active
        segment.allocated = BlobFormat.segmentDataStart + extent
        segment.needsPreparation = true
        current = segment
        return (segment, BlobFormat.segmentDataStart)
    }

    /// Lock held: a free slot (a recycled one, or one the preparer made), or a new one
    /// while under the configured maximum. Starts preparing the slot after it when none
    /// is free.
    private func takeSlot() throws -> ContentSegment {
        defer { prepareSlotIfNeeded() }
        if let slot = freeSlots.popLast(), let segment = segments[slot] {
            segment.members = []
            segment.liveBytes = 0
            segment.sealOffset = nil
            segment.hinted = false
            return segment
        }
        guard segments.count + (slotBeingPrepared == nil ? 0 : 1) < configuration.maxSegments else {
            throw StoreError(
                .noSpace,
                "content store is full: \(segments.count) segments in use, none free",
                path: configuration.directory
            )
        }
        let slot = nextSlot
        nextSlot += 1
        let segment = ContentSegment(
            slot: slot, path: path(ContentSegment.fileName(slot: slot)), number: 0, state: .active,
            allocated: BlobFormat.segmentDataStart
        )
        segment.needsCreation = true
        segments[slot] = segment
        return segment
    }

    // MARK: - The flusher thread

    func startFlusher() {
        let thread = SyncThread(name: "smx-cdb-sync") { [self] in runFlusher() }
        flusher = thread
        thread.start()
    }

    private func runFlusher() {
        while true {
            condition.lock()
            while pendingHead == pending.count && !closing && !housekeepingRequested {
                wakeThreshold = 1
                condition.wait()
            }
            if pendingHead == pending.count {
                let stop = closing
                housekeepingRequested = false
                condition.unlock()
                housekeeping(idle: true)
                if stop {
                    sealActiveSegmentOnClose()
                    return
                }
                continue
            }
            if configuration.adaptiveBatching { waitForReturningWriters() }
            var pass: [PendingWrite] = []
            var slot: Int?
            var bytes = 0
            while pendingHead < pending.count {
                let item = pending[pendingHead]
                if let s = item.slot {
                    if slot == nil { slot = s } else if s != slot { break }
                }
                if !pass.isEmpty && bytes + item.bytes > configuration.maxBatchBytes { break }
                pass.append(item)
                bytes += item.bytes
                pendingHead += 1
            }
            if pendingHead == pending.count {
                pending.removeAll(keepingCapacity: true)
                pendingHead = 0
            } else if pendingHead >= 4096 {
                pending.removeFirst(pendingHead)
                pendingHead = 0
            }
            pendingBytes -= bytes
            writingBytes = bytes
            lastPassWrites = pass.count
            // Busy until the pass is durable: enqueuers need not wake this thread.
            wakeThreshold = Int.max
            let segment = slot.flatMap { segments[$0] }
            var batch: UInt64 = 0
            if segment != nil {
                commitBatch += 1
                batch = commitBatch
            }
            let number = segment?.number ?? 0
            let wakers = spaceWaiters
            spaceWaiters = []
            condition.unlock()
            for waker in wakers { waker.resume(returning: nil) }

            do {
                let started = monotonicMicros()
                let syncs = try write(pass, to: segment, number: number, batch: batch)
                let took = Int(monotonicMicros() - started)
                passMicrosAverage = passMicrosAverage == 0 ? took : (passMicrosAverage * 7 + took) / 8
                let waiters = condition.withLock {
                    writingBytes = 0
                    statistics_.passMicros += took
                    return complete(pass, segment: segment, number: number, syncs: syncs)
                }
                for waiter in waiters { waiter.resume() }
                housekeeping(idle: false)
            } catch {
                condition.withLock { writingBytes = 0 }
                fail(error as? StoreError ?? StoreError(.io, "\(error)", path: configuration.directory))
            }
        }
    }

    /// A clean close seals the active segment in a batch of its own, so that damage found
    /// in it at the next open is known to be corruption, not a torn tail. The next open
    /// starts a new segment either way.
    private func sealActiveSegmentOnClose() {
        let work = condition.withLock { () -> (ContentSegment, UInt64)? in
            guard failure == nil, let segment = current, segment.state == .active, !segment.needsPreparation,
                  segment.handle != nil else { return nil }
            commitBatch += 1
            return (segment, commitBatch)
        }
        guard let (segment, batch) = work, let handle = segment.handle else { return }
        do {
            try handle.write(BlobHeader.seal(commitBatch: batch).encode(seed: segment.number), at: segment.allocated)
            try handle.sync()
            condition.withLock {
                segment.state = .sealed
                segment.sealOffset = segment.allocated
                segment.sealBatch = batch
                segment.sealedAtMicros = configuration.monotonicClock()
                segment.allocated += BlobFormat.headerSize
                current = nil
            }
        } catch {
            logger.warning("could not seal the active content segment at close", metadata: ["error": "\(error)"])
        }
    }

    /// Adaptive batching (lock held), as in the incoming log: the writers acknowledged by
    /// the previous pass come back one by one from the cooperative pool with their next
    /// body. Starting as soon as the first is back splits them into two alternating
    /// half-size passes, each waiting an extra sync; so wait until as many writes are
    /// pending as the previous pass carried, or half the average pass time, whichever
    /// comes first. Never waits with a single writer.
    private func waitForReturningWriters() {
        guard lastPassWrites > 1, pending.count - pendingHead < lastPassWrites, passMicrosAverage > 0 else { return }
        let budget = min(passMicrosAverage / 2, configuration.maxAdaptiveWaitMicroseconds)
        let deadline = monotonicMicros() + UInt64(budget)
        wakeThreshold = lastPassWrites
        defer { wakeThreshold = Int.max }
        while pending.count - pendingHead < lastPassWrites, !closing, pendingBytes < configuration.maxBatchBytes {
            let now = monotonicMicros()
            if now >= deadline { break }
            condition.wait(microseconds: Int(deadline - now))
        }
    }

    /// Writes and syncs one pass; returns the number of syncs it made.
    private func write(_ pass: [PendingWrite], to segment: ContentSegment?, number: UInt64, batch: UInt64) throws -> Int {
        var syncs = 0
        var directoryDirty = false
        // A failed pass must not leak the large bodies' handles (closing twice is harmless).
        defer {
            for case .large(let large) in pass { try? large.handle.close() }
        }
        if let segment, segment.needsPreparation {
            syncs += try prepare(segment, number: number)
        }
        var buffer: [UInt8] = []
        var start = -1
        for item in pass {
            switch item {
            case .blob(let blob):
                if start < 0 { start = blob.offset }
                precondition(blob.offset == start + buffer.count, "blobs of a pass are contiguous")
                let at = buffer.count
                buffer.append(contentsOf: blob.bytes)
                var header = blob.header
                header.commitBatch = batch
                buffer.withUnsafeMutableBytes { header.store(into: $0, at: at, seed: number) }
            case .seal(_, let offset, _):
                if start < 0 { start = offset }
                precondition(offset == start + buffer.count, "a seal follows the segment's last blob")
                buffer.append(contentsOf: BlobHeader.seal(commitBatch: batch).encode(seed: number))
            case .large:
                break
            }
        }
        if let segment, let handle = segment.handle, !buffer.isEmpty {
            try handle.write(buffer, at: start)
            try handle.sync()
            syncs += 1
        }
        for item in pass {
            guard case .large(let large) = item else { continue }
            try large.handle.sync()
            try large.handle.close()
            try fileSystem.rename(path(LargeBodyFile.temporaryName(large.id)), to: path(LargeBodyFile.name(large.id)))
            syncs += 1
            directoryDirty = true
        }
        if directoryDirty {
            try fileSystem.syncDirectory(configuration.directory)
            syncs += 1
        }
        return syncs
    }

    /// Writes (and syncs) a segment's file header before its first blobs: a new file is
    /// created and preallocated, a reused slot gets its new segment number. Both header
    /// copies, one after the other, each synced: a crash tears at most one.
    private func prepare(_ segment: ContentSegment, number: UInt64) throws -> Int {
        var syncs = 0
        if segment.needsCreation {
            let handle = try fileSystem.openFile(segment.path, mode: .createIfMissing)
            segment.handle = handle
            try handle.allocate(offset: 0, length: configuration.segmentSize)
        }
        guard let handle = segment.handle else {
            throw StoreError(.closed, "segment slot \(segment.slot) has no open file", path: segment.path)
        }
        let header = FileHeader(
            kind: .contentSegment, queueID: configuration.queueID, segmentNumber: number, createdMicros: wallClockMicros()
        ).encode()
        try handle.write(header, at: 0)
        try handle.sync()
        try handle.write(header, at: BlobFormat.segmentHeaderCopyOffset)
        try handle.sync()
        syncs += 2
        if segment.needsCreation {
            try fileSystem.syncDirectory(configuration.directory)
            syncs += 1
        }
        condition.withLock {
            if segment.needsCreation { statistics_.segmentsCreated += 1 }
            segment.needsCreation = false
            segment.needsPreparation = false
        }
        return syncs
    }

    /// Lock held: the pass is durable; make its bodies visible and collect its waiters.
    private func complete(
        _ pass: [PendingWrite],
        segment: ContentSegment?,
        number: UInt64,
        syncs: Int
    ) -> [UnsafeContinuation<Void, any Error>] {
        for item in pass {
            switch item {
            case .blob(let blob):
                guard let segment else { continue }
                let id = blob.header.contentID
                let location = BlobLocation(
                    slot: segment.slot, offset: blob.offset, extent: blob.bytes.count,
                    rawLength: blob.header.rawLength, bodyChecksum: blob.header.bodyChecksum, seed: number
                )
                segment.members.append(SegmentMember(
                    id: id, offset: blob.offset, extent: blob.bytes.count, rawLength: blob.header.rawLength,
                    bodyChecksum: blob.header.bodyChecksum, commitBatch: commitBatch
                ))
                if let from = blob.copiedFrom {
                    statistics_.compactedBlobs += 1
                    if index[id] == from {
                        index[id] = location
                        segments[from.slot]?.liveBytes -= from.extent
                        segment.liveBytes += location.extent
                    } else {
                        releasedOnDisk.insert(id)
                    }
                } else {
                    inFlight.remove(id)
                    statistics_.blobs += 1
                    statistics_.rawBytes += Int(blob.header.rawLength)
                    statistics_.storedBytes += blob.bytes.count
                    if releasedInFlight.remove(id) != nil {
                        releasedOnDisk.insert(id)
                        journalPending.append(id)
                    } else {
                        index[id] = location
                        segment.liveBytes += location.extent
                    }
                }
            case .seal(let slot, let offset, _):
                if let sealed = segments[slot] {
                    sealed.state = .sealed
                    sealed.sealOffset = offset
                    sealed.sealBatch = commitBatch
                    sealed.sealedAtMicros = configuration.monotonicClock()
                    housekeepingRequested = true
                }
            case .large(let large):
                inFlight.remove(large.id)
                statistics_.blobs += 1
                statistics_.largeBodies += 1
                statistics_.rawBytes += Int(large.rawLength)
                statistics_.storedBytes += large.extent
                if releasedInFlight.remove(large.id) != nil {
                    largeFilesToRemove.append(large.id)
                    journalPending.append(large.id)
                } else {
                    index[large.id] = BlobLocation(
                        slot: BlobLocation.largeFile, offset: LargeBodyFile.blobOffset, extent: large.extent,
                        rawLength: large.rawLength, bodyChecksum: large.bodyChecksum, seed: large.number
                    )
                }
            }
        }
        statistics_.batches += 1
        statistics_.syncs += syncs
        if let last = pass.last { durableSequence = last.sequence }
        var ready: [UnsafeContinuation<Void, any Error>] = []
        durabilityWaiters.removeAll { waiter in
            guard waiter.sequence <= durableSequence else { return false }
            ready.append(waiter.continuation)
            return true
        }
        return ready
    }

    /// Rule 6: a failed write or sync fails everything waiting and queued, and the store
    /// refuses writes until reopened.
    func fail(_ error: StoreError) {
        logger.error("content store write failed; refusing writes until reopened", metadata: [
            "path": "\(configuration.directory)", "error": "\(error)",
        ])
        let (waiters, spaces) = condition.withLock {
            failure = error
            pending.removeAll()
            pendingHead = 0
            pendingBytes = 0
            let waiters = durabilityWaiters.map(\.continuation)
            durabilityWaiters = []
            let spaces = spaceWaiters
            spaceWaiters = []
            return (waiters, spaces)
        }
        for waiter in waiters { waiter.resume(throwing: error) }
        for waiter in spaces { waiter.resume(throwing: poisonedError(error)) }
    }
}
