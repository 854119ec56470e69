/// Opening a log directory: read every segment, apply the torn-tail and damage rules,
/// rebuild the open transactions and the segment ledger, clear a torn tail, and carry on
/// appending where the log ended.
extension LogDirectory {
    /// What a directory scan found, before the log starts writing.
    struct Scan {
        struct Segment {
            var slot: Int
            var header: FileHeader
            var contents: SegmentContents
        }

        var path: String
        var slots: [Slot] = []
        /// Slots with no usable header: free for the next segment.
        var freeSlots: [Int] = []
        /// Segments with a valid header, oldest first.
        var segments: [Segment] = []
        var nextSlotName = 0
        var corruption: [CorruptionReport] = []

        var maxSequence: UInt64 {
            segments.reduce(0) { max($0, $1.contents.maxSequence, $1.header.baseSequence) }
        }

        var maxSegmentNumber: UInt64 {
            segments.reduce(0) { max($0, $1.header.segmentNumber) }
        }
    }

    /// Reads and interprets every segment file in `path`. Opens the files for writing
    /// unless `readOnly`. Damage goes to `reporter` and, with `quarantine`, its bytes are
    /// copied to the quarantine directory.
    static func scan(
        fileSystem: any FileSystem,
        path: String,
        queueID: QueueID?,
        readOnly: Bool,
        reporter: (any CorruptionReporter)?,
        quarantine: Quarantine?
    ) throws -> Scan {
        var scan = Scan(path: path)
        if !readOnly {
            try fileSystem.createDirectoryDurably(path)
        }
        let names = try fileSystem.listDirectory(path).filter { $0.hasPrefix("segment-") && $0.hasSuffix(".log") }
        var inspected: [(slot: Int, segment: InspectedSegment)] = []
        for name in names {
            if let number = Int(name.dropFirst("segment-".count).dropLast(".log".count)) {
                scan.nextSlotName = max(scan.nextSlotName, number + 1)
            }
            let filePath = Path.join(path, name)
            let handle = try fileSystem.openFile(filePath, mode: readOnly ? .readOnly : .existing)
            let bytes = try handle.readAll()
            scan.slots.append(Slot(path: filePath, handle: handle))
            let slot = scan.slots.count - 1
            let segment = InspectedSegment.parse(bytes, path: filePath)
            if let header = segment.header, queueID == nil || header.queueID == queueID {
                inspected.append((slot, segment))
                continue
            }
            let headerBytes = bytes.prefix(FormatConstants.fileHeaderSize)
            if let header = segment.header {
                scan.corruption.append(CorruptionReport(
                    store: "ibdb", path: filePath, segmentNumber: header.segmentNumber, offset: 0,
                    length: bytes.count,
                    reason: "segment belongs to queue \(header.queueID), not \(queueID.map { "\($0)" } ?? "?"); left untouched"
                ))
                continue
            }
            scan.freeSlots.append(slot)
            if headerBytes.contains(where: { $0 != 0 }) {
                // A header torn while a segment was being recycled, or damage. Either way the
                // file's records cannot be verified without the segment number.
                scan.corruption.append(CorruptionReport(
                    store: "ibdb", path: filePath, offset: 0, length: FormatConstants.fileHeaderSize,
                    reason: "unreadable segment header (\(segment.headerError?.message ?? "")): a segment being started when the power failed, or damage; slot will be reused"
                ))
            }
        }
        inspected.sort { $0.segment.header!.segmentNumber < $1.segment.header!.segmentNumber }
        for (i, item) in inspected.enumerated() {
            let header = item.segment.header!
            let contents = SegmentContents(item.segment, isNewest: i == inspected.count - 1)
            for damage in contents.damage {
                var report = CorruptionReport(
                    store: "ibdb", path: item.segment.path, segmentNumber: header.segmentNumber,
                    offset: damage.offset, length: damage.length, reason: damage.reason
                )
                if let quarantine, damage.length > 0 {
                    let handle = scan.slots[item.slot].handle
                    let bytes = try handle.read(at: damage.offset, count: damage.length)
                    report.quarantinedTo = try? quarantine.keep(
                        bytes,
                        name: "ibdb-\(header.segmentNumber)-\(damage.offset)",
                        note: "\(report)\n"
                    )
                }
                scan.corruption.append(report)
            }
            scan.segments.append(Scan.Segment(slot: item.slot, header: header, contents: contents))
        }
        for report in scan.corruption { reporter?.report(report) }
        return scan
    }

    /// Takes over a scan: rebuilds the live set and the ledger, clears a torn tail, makes
    /// sure there is a current segment, and starts the sync thread.
    func start(from scan: Scan, onHandOff: (@Sendable ([IncomingTransaction]) -> Void)?) throws -> RecoveryReport.Directory {
        self.onHandOff = onHandOff
        slots = scan.slots
        freeSlots = scan.freeSlots
        nextSlotName = scan.nextSlotName
        var report = RecoveryReport.Directory(path: path)
        report.segments = scan.segments.count
        report.damagedRegions = scan.corruption.count
        var open: [EnvelopeID: IncomingTransaction] = [:]
        for segment in scan.segments {
            ledger.add(segment: segment.header.segmentNumber, slot: segment.slot)
            for entry in segment.contents.entries {
                report.records += 1
                ledger.apply(entry.record.type, entry.record.envelopeID, sequence: entry.sequence, in: segment.header.segmentNumber)
                Self.fold(entry.record, into: &open)
                lastWrittenSequence = max(lastWrittenSequence, entry.sequence)
            }
        }
        live = open.mapValues(LiveTransaction.init)
        syncedSequence = lastWrittenSequence
        durableSequence = lastWrittenSequence
        if let newest = scan.segments.last {
            currentSegment = newest.header.segmentNumber
            currentSlot = newest.slot
            writeOffset = newest.contents.endOffset
            currentSealed = newest.contents.sealed
            report.endSegment = currentSegment
            report.endOffset = writeOffset
            report.tornTailBytes = newest.contents.tornTailBytes
            if newest.contents.dirtyTail && !currentSealed {
                try clearTail()
            }
        } else {
            try startNewSegment(baseSequence: sequencer.sequence())
        }
        report.openTransactions = live.count
        spareSegments = spareSegmentCount()
        prepareSlotIfNeeded()
        startSyncThread()
        return report
    }

    /// Zeroes what follows the end of the log in the newest segment, as far as one write
    /// batch can reach, so frames of a torn write can never be read as records after new
    /// appends land in front of them.
    private func clearTail() throws {
        let end = min(configuration.segmentSize, writeOffset + configuration.maxBatchBytes + 2 * RecordFrame.size(payloadCount: 1))
        guard end > writeOffset else { return }
        let handle = slots[currentSlot].handle
        try handle.write([UInt8](repeating: 0, count: end - writeOffset), at: writeOffset)
        try handle.sync()
    }

    /// Applies one replayed record to a set of open transactions.
    static func fold(_ record: LogRecord, into live: inout [EnvelopeID: IncomingTransaction]) {
        switch record {
        case .transaction(let t), .carriedForward(let t):
            live[t.envelopeID] = t
        case .outcome(let id, let index, let state, _):
            if var t = live[id], index < t.recipients.count {
                t.recipients[index].state = state
                live[id] = t
            }
        case .closed(let id, _):
            live[id] = nil
        case .seal:
            break
        }
    }
}
