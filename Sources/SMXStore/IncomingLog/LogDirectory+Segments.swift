/// Segment files: appending a batch, sealing a full segment, recycling or creating the next
/// one, and asking for live transactions to be moved out of the oldest. Sync thread only.
extension LogDirectory {
    /// Writes `batch` in order, spilling into a new segment when the current one is full.
    /// Each physical write ends with a frame flagged as a batch end (the seal, when the
    /// segment is left), so recovery can tell a torn final write from damage.
    func write(_ batch: [Pending]) throws {
        let sealSize = RecordFrame.size(payloadCount: 1)
        var start = 0
        while start < batch.count {
            let room = currentSealed ? 0 : configuration.segmentSize - writeOffset - sealSize
            var end = start
            var used = 0
            while end < batch.count {
                let size = RecordFrame.size(payloadCount: batch[end].payload.count)
                if used + size > room { break }
                used += size
                end += 1
            }
            let rollover = end < batch.count
            writeBuffer.removeAll(keepingCapacity: true)
            for i in start..<end {
                let last = i == end - 1 && !rollover
                RecordFrame.append(
                    to: &writeBuffer,
                    type: batch[i].type.rawValue,
                    flags: last ? RecordFrame.flagBatchEnd : 0,
                    sequence: batch[i].sequence,
                    payload: batch[i].payload,
                    seed: currentSegment
                )
            }
            if rollover && !currentSealed {
                let sequence = end > start ? batch[end - 1].sequence : lastWrittenSequence
                RecordFrame.append(
                    to: &writeBuffer,
                    type: LogRecordType.seal.rawValue,
                    flags: RecordFrame.flagBatchEnd,
                    sequence: sequence,
                    payload: LogRecord.seal.encodePayload(),
                    seed: currentSegment
                )
            }
            if !writeBuffer.isEmpty {
                let handle = slots[currentSlot].handle
                try writeBuffer.withUnsafeBytes { try handle.write($0, at: writeOffset) }
                writeOffset += writeBuffer.count
                try handle.sync()
                condition.withLock { statistics.syncs += 1 }
            }
            for i in start..<end {
                ledger.apply(batch[i].type, batch[i].envelopeID, sequence: batch[i].sequence, in: currentSegment)
                lastWrittenSequence = batch[i].sequence
            }
            if end > start {
                syncedSequence = batch[end - 1].sequence
                condition.withLock { durableSequence = syncedSequence }
            }
            if rollover {
                currentSealed = true
                try startNewSegment(baseSequence: batch[end].sequence)
            }
            start = end
        }
    }

    /// Makes the next segment current: a slot never used or left unreadable, else the
    /// oldest segment that may be recycled, else a new file. Its header is synced before
    /// any record goes in, so a half-written header never hides live records.
    func startNewSegment(baseSequence: UInt64) throws {
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            // A slot left behind by a crash while it was being created may be short.
            let handle = slots[free].handle
            if try handle.size() < configuration.segmentSize {
                try handle.allocate(offset: 0, length: configuration.segmentSize)
                try zeroFill(handle)
                try handle.fullSync()
            }
        } else if let old = ledger.oldestRecyclable(durableSequence: syncedSequence, current: currentSegment) {
            slot = old.slot
            ledger.remove(segment: old.number)
            handOffRequested.remove(old.number)
            condition.withLock { statistics.recycledSegments += 1 }
        } else if let prepared = takePreparedSlot() {
            slot = prepared
        } else if slots.count < configuration.maxSegmentsPerDirectory {
            slot = try createSlot()
        } else {
            throw StoreError(
                .noSpace,
                "incoming log is full: all \(slots.count) segments hold open transactions",
                path: path
            )
        }
        let number = sequencer.segmentNumber()
        let header = FileHeader(
            kind: .incomingLogSegment,
            queueID: queueID,
            segmentNumber: number,
            baseSequence: baseSequence,
            createdMicros: wallClockMicros()
        )
        let handle = slots[slot].handle
        try handle.write(header.encode(), at: 0)
        try handle.sync()
        ledger.add(segment: number, slot: slot)
        currentSegment = number
        currentSlot = slot
        currentSealed = false
        writeOffset = FormatConstants.fileHeaderSize
        condition.withLock { statistics.syncs += 1 }
        prepareSlotIfNeeded()
    }

    /// Creates and preallocates a new segment file; its directory entry is synced.
    func createSlot() throws -> Int {
        let slot = try createSlotFile(named: Self.slotName(nextSlotName))
        nextSlotName += 1
        slots.append(slot)
        condition.withLock { statistics.createdSegments += 1 }
        return slots.count - 1
    }

    /// Creates a zero-filled segment file and makes it and its directory entry durable.
    /// Touches no state of the directory, so the preparer thread can run it.
    private func createSlotFile(named name: String) throws -> Slot {
        let filePath = Path.join(path, name)
        let handle = try fileSystem.openFile(filePath, mode: .createNew)
        do {
            try handle.allocate(offset: 0, length: configuration.segmentSize)
            try zeroFill(handle)
            try handle.fullSync()
            try fileSystem.syncDirectory(path)
        } catch {
            try? handle.close()
            throw error
        }
        return Slot(path: filePath, handle: handle)
    }

    /// A slot the preparer made ready, now owned by the sync thread.
    private func takePreparedSlot() -> Int? {
        guard let prepared = condition.withLock({ preparedSlots.popLast() }) else { return nil }
        slots.append(prepared)
        return slots.count - 1
    }

    /// Creating a segment writes its whole size and syncs it; done on the sync thread that
    /// would stall every commit for as long. So when the next rollover would have to create
    /// one (no free, prepared or recyclable slot), a helper thread creates it now.
    func prepareSlotIfNeeded() {
        let (ready, inFlight) = condition.withLock { (preparedSlots.count, preparationInFlight) }
        guard !inFlight, ready == 0, freeSlots.isEmpty,
              slots.count + 1 < configuration.maxSegmentsPerDirectory,
              ledger.oldestRecyclable(durableSequence: syncedSequence, current: currentSegment) == nil
        else { return }
        preparer?.join()
        let name = Self.slotName(nextSlotName)
        nextSlotName += 1
        condition.withLock { preparationInFlight = true }
        let thread = SyncThread(name: "smx-ibdb-prep-\(index)") { [self] in
            do {
                let slot = try createSlotFile(named: name)
                condition.withLock {
                    preparedSlots.append(slot)
                    statistics.createdSegments += 1
                    preparationInFlight = false
                }
            } catch {
                logger.warning("could not prepare a segment ahead of time", metadata: [
                    "path": "\(path)", "error": "\(error)",
                ])
                condition.withLock { preparationInFlight = false }
            }
        }
        preparer = thread
        thread.start()
    }

    /// Writes zeros over the new segment past its header. `fallocate` alone leaves
    /// unwritten extents, and the first write into one changes file metadata, so every
    /// `fdatasync` would commit the file system's journal; after zero-filling, appends are
    /// plain overwrites and a sync flushes data only. The header area is left as
    /// `fallocate` made it, reading as zeros: zeros torn there by a power loss could leave
    /// garbage, which recovery would have to report as an unreadable header, where a header
    /// never written reads as a free slot. `startSegment` writes it (and so its block).
    private func zeroFill(_ handle: any FileHandle) throws {
        try handle.writeZeros(FormatConstants.fileHeaderSize..<configuration.segmentSize)
    }

    /// Segments the directory can still move on to without refusing anything.
    func spareSegmentCount() -> Int {
        var spare = freeSlots.count + max(0, configuration.maxSegmentsPerDirectory - slots.count)
        if spare == 0, ledger.oldestRecyclable(durableSequence: syncedSequence, current: currentSegment) != nil {
            spare = 1
        }
        return spare
    }

    /// When more segments are in use than the target, hands the open transactions of the
    /// oldest segment that is mostly dead to the hand-off (once per segment). Carrying
    /// forward is done right here: fresh copies go behind whatever is pending, without a
    /// waiter, so the next batch writes them and the log stays bounded however busy the
    /// machine is. A handler is called, and runs on a task of its own.
    func requestHandOffIfNeeded() {
        let carryForward: Bool
        switch configuration.handOff {
        case .carryForward: carryForward = true
        case .handler: carryForward = false
        case .none: return
        }
        guard ledger.count > configuration.targetSegmentsPerDirectory else { return }
        guard let oldest = ledger.handOffCandidate(
                excluding: currentSegment, maxLiveFraction: configuration.handOffMaxLiveFraction
              ),
              !handOffRequested.contains(oldest.number)
        else { return }
        handOffRequested.insert(oldest.number)
        let handed: [LiveTransaction] = condition.withLock {
            statistics.handOffs += 1
            let entries = oldest.homed.sorted().compactMap { live[$0] }
            guard carryForward else { return entries }
            guard failure == nil else { return [] }
            for entry in entries { appendPending(Item(.carriedForward(entry.transaction)), waiter: nil) }
            return []
        }
        if !handed.isEmpty { onHandOff?(handed.map(\.transaction)) }
    }
}
