import Logging

/// Opening a content store: rebuild the id → location index from hint files (or by
/// scanning segments), apply the release journal, cut the torn tail of the segment that
/// was being written at a crash, and remove unfinished and released large body files.
///
/// Torn tail or corruption: each flusher pass writes one segment and syncs it before the
/// next pass starts, and a segment is sealed (synced) before another takes writes. So
/// every segment but the newest unsealed one was fully synced, and damage there is
/// corruption. In the newest, every blob from a commit batch older than the newest batch
/// found was synced too; damage before the end of the last such blob is corruption, and
/// damage after it belongs to the unfinished batch: the tail is cut there (those bodies
/// were never acknowledged), and any blob header after the cut that still verifies is
/// zeroed so it cannot come back.
struct ContentRecovery {
    struct State {
        var report: ContentRecoveryReport
        var segments: [Int: ContentSegment]
        var current: ContentSegment?
        var freeSlots: [Int]
        var nextSlot: Int
        var index: [ContentID: BlobLocation]
        var releasedOnDisk: Set<ContentID>
        var nextContentID: UInt64
        var nextSegmentNumber: UInt64
        var commitBatch: UInt64
        var journal: JournalFile?
    }

    let fileSystem: any FileSystem
    let configuration: ContentStore.Configuration
    let reporter: (any CorruptionReporter)?
    let logger: Logger
    var report = ContentRecoveryReport()

    init(
        fileSystem: any FileSystem,
        configuration: ContentStore.Configuration,
        reporter: (any CorruptionReporter)?,
        logger: Logger
    ) {
        self.fileSystem = fileSystem
        self.configuration = configuration
        self.reporter = reporter
        self.logger = logger
    }

    private var readOnly: Bool { configuration.readOnly }
    private func path(_ name: String) -> String { Path.join(configuration.directory, name) }

    /// A scanned segment waiting for classification.
    private struct Scanned {
        var segment: ContentSegment
        var scan: ContentSegmentScan
        var bytes: [UInt8]
    }

    mutating func run() throws -> State {
        let started = monotonicMicros()
        let directory = configuration.directory
        if readOnly {
            guard try fileSystem.itemType(directory) == .directory else {
                throw StoreError(.notFound, "no content store here", path: directory)
            }
        } else {
            try fileSystem.createDirectoryDurably(directory)
        }
        let names = Set(try fileSystem.listDirectory(directory))
        var directoryDirty = false

        // The release journal.
        if names.contains(ReleaseJournal.rewriteName), !readOnly {
            try fileSystem.removeFile(path(ReleaseJournal.rewriteName))
            directoryDirty = true
        }
        var dead = Set<ContentID>()
        var journalContents: ReleaseJournal.Contents?
        if names.contains(ReleaseJournal.fileName) {
            let journalPath = path(ReleaseJournal.fileName)
            let bytes = try readWhole(journalPath)
            do {
                let contents = try ReleaseJournal.decode(bytes, queueID: configuration.queueID, path: journalPath)
                dead = Set(contents.ids)
                report.releaseMarks = contents.ids.count
                if let stopped = contents.stoppedAt {
                    report.journalStoppedAt = "offset \(stopped.offset): \(stopped.reason)"
                }
                journalContents = contents
            } catch {
                corruption(journalPath, number: nil, bytes: bytes, offset: 0, length: min(bytes.count, FormatConstants.fileHeaderSize),
                           reason: "release journal header does not verify: \(error)")
            }
        }

        // Segments: hints where valid, scans otherwise.
        var segments: [Int: ContentSegment] = [:]
        var scanned: [Scanned] = []
        var maxNumber: UInt64 = 0
        for slot in names.compactMap({ ContentSegment.slot(fromName: $0, suffix: ".cdb") }).sorted() {
            let segmentPath = path(ContentSegment.fileName(slot: slot))
            let handle = try fileSystem.openFile(segmentPath, mode: readOnly ? .readOnly : .existing)
            let segment = ContentSegment(slot: slot, path: segmentPath, number: 0, state: .free, allocated: BlobFormat.segmentDataStart)
            segment.handle = handle
            segments[slot] = segment
            let size = try handle.size()
            let head = try handle.read(at: 0, count: min(size, BlobFormat.segmentDataStart))
            let copies = [0, BlobFormat.segmentHeaderCopyOffset].map { offset -> (bytes: [UInt8], header: FileHeader?) in
                guard head.count >= offset + FormatConstants.fileHeaderSize else { return ([], nil) }
                let bytes = Array(head[offset..<(offset + FormatConstants.fileHeaderSize)])
                guard let header = try? FileHeader.decode(bytes, path: segmentPath),
                      header.kind == .contentSegment, header.queueID == configuration.queueID else { return (bytes, nil) }
                return (bytes, header)
            }
            // The copy at 512 is written only after the one at 0 is synced: without it the
            // segment never finished preparation and never held a blob.
            if copies[0].header == nil && copies[1].header == nil && copies[1].bytes.allSatisfy({ $0 == 0 }) {
                report.freeSlots += 1
                continue
            }
            guard let header = copies[0].header ?? copies[1].header else {
                segment.state = .damaged
                report.damagedSegments += 1
                corruption(segmentPath, number: nil, bytes: head, offset: 0, length: head.count,
                           reason: "neither content segment file header copy verifies (or they name another queue); segment left alone")
                continue
            }
            if !readOnly, copies[0].header != copies[1].header {
                // Preparation stopped between the two copies (finish it), or it stopped in
                // the first copy of a reused slot, or a copy rotted: either way the copy
                // that verifies (the one at 0 when both do) is the segment's header now.
                let good = copies[0].header != nil ? copies[0].bytes : copies[1].bytes
                let offset = copies[0].header != nil ? BlobFormat.segmentHeaderCopyOffset : 0
                try handle.write(good, at: offset)
                try handle.sync()
            }
            segment.number = header.segmentNumber
            maxNumber = max(maxNumber, header.segmentNumber)
            report.segments += 1
            let hintPath = path(ContentSegment.hintName(slot: slot))
            if names.contains(ContentSegment.hintName(slot: slot)),
               let hintBytes = try? readWhole(hintPath),
               let hint = try? SegmentHint.decode(hintBytes, queueID: configuration.queueID, path: hintPath),
               hint.segmentNumber == header.segmentNumber,
               Int(hint.sealOffset) + BlobFormat.headerSize <= size {
                segment.members = hint.entries.map {
                    SegmentMember(
                        id: $0.contentID, offset: Int($0.offset), extent: BlobFormat.headerSize + Int($0.storedLength),
                        rawLength: $0.rawLength, bodyChecksum: $0.bodyChecksum, commitBatch: $0.commitBatch
                    )
                }
                segment.state = .sealed
                segment.sealOffset = Int(hint.sealOffset)
                segment.sealBatch = hint.sealBatch
                segment.allocated = Int(hint.sealOffset) + BlobFormat.headerSize
                segment.hinted = true
                report.segmentsFromHints += 1
                continue
            }
            if names.contains(ContentSegment.hintName(slot: slot)), !readOnly {
                try? fileSystem.removeFile(hintPath)
            }
            let bytes = try handle.read(at: 0, count: size)
            let scan = bytes.withUnsafeBytes { ContentSegmentScan.scan($0, seed: header.segmentNumber, verifyChunks: true) }
            report.segmentsScanned += 1
            scanned.append(Scanned(segment: segment, scan: scan, bytes: bytes))
        }

        // Classify scanned segments. The flusher only ever writes to the segment with the
        // highest number (the active one, or the one it is sealing), so that is the only
        // one a crash can tear; every other one was synced whole, seal included.
        var current: ContentSegment?  // stays nil unless read-only: see adoptNewest
        let newestNumber = segments.values.map(\.number).filter { $0 > 0 }.max()
        for item in scanned {
            if item.segment.number == newestNumber {
                try adoptNewest(item)
                if item.segment.state == .active { current = item.segment }
            } else if item.scan.sealOffset != nil {
                adoptSealed(item)
            } else {
                try adoptUnsealed(item)
            }
        }

        // The index, oldest segment first so that a compacted copy supersedes its original,
        // unless the copy is damaged and the original is not.
        var index: [ContentID: BlobLocation] = [:]
        var damagedInIndex = Set<ContentID>()
        var releasedOnDisk = Set<ContentID>()
        var maxID: UInt64 = dead.map(\.rawValue).max() ?? 0
        var maxBatch: UInt64 = 0
        for segment in segments.values.sorted(by: { $0.number < $1.number }) where segment.state == .sealed || segment.state == .active {
            maxBatch = max(maxBatch, segment.sealBatch)
            for member in segment.members {
                maxID = max(maxID, member.id.rawValue)
                maxBatch = max(maxBatch, member.commitBatch)
                if dead.contains(member.id) {
                    releasedOnDisk.insert(member.id)
                    report.releasedBodies += 1
                    continue
                }
                if let older = index[member.id] {
                    report.supersededCopies += 1
                    if member.damaged && !damagedInIndex.contains(member.id) { continue }
                    segments[older.slot]?.liveBytes -= older.extent
                }
                if member.damaged { damagedInIndex.insert(member.id) } else { damagedInIndex.remove(member.id) }
                index[member.id] = BlobLocation(
                    slot: segment.slot, offset: member.offset, extent: member.extent,
                    rawLength: member.rawLength, bodyChecksum: member.bodyChecksum, seed: segment.number
                )
                segment.liveBytes += member.extent
            }
        }

        report.damagedBodies = damagedInIndex.filter { index[$0] != nil }.sorted()

        // Large body files.
        for name in names.sorted() {
            if let id = LargeBodyFile.id(fromName: name, suffix: ".tmp") {
                maxID = max(maxID, id.rawValue)
                if !readOnly {
                    try fileSystem.removeFile(path(name))
                    directoryDirty = true
                }
                report.unfinishedLargeBodiesRemoved += 1
                continue
            }
            guard let id = LargeBodyFile.id(fromName: name, suffix: ".blob") else { continue }
            maxID = max(maxID, id.rawValue)
            let filePath = path(name)
            let handle = try fileSystem.openFile(filePath, mode: .readOnly)
            defer { try? handle.close() }
            let size = try handle.size()
            let head = try handle.read(at: 0, count: min(size, LargeBodyFile.firstChunkOffset))
            guard let fileHeader = try? FileHeader.decode(head, path: filePath),
                  fileHeader.kind == .contentLargeBody, fileHeader.queueID == configuration.queueID,
                  case .success(let blob) = head.withUnsafeBytes({
                      BlobHeader.decode($0, at: LargeBodyFile.blobOffset, seed: fileHeader.segmentNumber)
                  }),
                  blob.kind == .body, blob.contentID == id, LargeBodyFile.blobOffset + blob.extent <= size
            else {
                corruption(filePath, number: nil, bytes: head, offset: 0, length: head.count,
                           reason: "large body file header does not verify; file left alone")
                continue
            }
            maxNumber = max(maxNumber, fileHeader.segmentNumber)
            if dead.contains(id) {
                if !readOnly {
                    try fileSystem.removeFile(filePath)
                    directoryDirty = true
                }
                report.releasedLargeBodiesRemoved += 1
                continue
            }
            index[id] = BlobLocation(
                slot: BlobLocation.largeFile, offset: LargeBodyFile.blobOffset, extent: blob.extent,
                rawLength: blob.rawLength, bodyChecksum: blob.bodyChecksum, seed: fileHeader.segmentNumber
            )
            report.largeBodies += 1
        }
        // Always, when writing: files created before a failed sync may have entries that
        // never reached the disk, and this run will build on them.
        if directoryDirty || !readOnly { try fileSystem.syncDirectory(directory) }

        var journal: JournalFile?
        if let contents = journalContents, !readOnly {
            if contents.stoppedAt != nil {
                // Appending after bytes that did not read would leave them between new
                // records and every later open would stop there again: start a fresh
                // generation with the marks that still matter.
                journal = try JournalFile.create(
                    fileSystem: fileSystem, directory: directory, queueID: configuration.queueID,
                    generation: contents.generation + 1, ids: Array(releasedOnDisk),
                    preallocate: configuration.journalRewriteBytes
                )
            } else {
                let handle = try fileSystem.openFile(path(ReleaseJournal.fileName), mode: .existing)
                journal = JournalFile(handle: handle, generation: contents.generation, end: contents.end, sequence: contents.lastSequence)
            }
        }
        report.liveBodies = index.count
        report.micros = monotonicMicros() - started
        let freeSlots = segments.values.filter { $0.state == .free }.map(\.slot).sorted(by: >)
        return State(
            report: report,
            segments: segments,
            current: current,
            freeSlots: freeSlots,
            nextSlot: (segments.keys.max() ?? -1) + 1,
            index: index,
            releasedOnDisk: releasedOnDisk,
            // Ids must never repeat, even for bodies a crash lost before they were synced:
            // start past every id seen and past the clock (16 ids per microsecond).
            nextContentID: max(maxID + 1, wallClockMicros() << 4),
            nextSegmentNumber: maxNumber + 1,
            commitBatch: maxBatch,
            journal: journal
        )
    }

    // MARK: - Classification

    private mutating func adoptSealed(_ item: Scanned) {
        let segment = item.segment
        for damage in item.scan.damage {
            corruption(segment.path, number: segment.number, bytes: item.bytes, offset: damage.start, length: damage.length,
                       reason: damage.problem.description)
        }
        segment.members = members(of: item.scan.blobs, in: segment, bytes: item.bytes)
        segment.state = .sealed
        segment.sealOffset = item.scan.sealOffset
        segment.sealBatch = item.scan.sealBatch ?? 0
        segment.allocated = item.scan.dataEnd
    }

    /// The segment being written at the crash: cut its torn tail.
    private mutating func adoptNewest(_ item: Scanned) throws {
        let segment = item.segment
        let scan = item.scan
        // The seal, when there is one, may belong to the unfinished batch too.
        let newestBatch = max(scan.blobs.map(\.header.commitBatch).max() ?? 0, scan.sealBatch ?? 0)
        let syncedEnd = scan.blobs.filter { $0.header.commitBatch < newestBatch }
            .map { $0.offset + $0.header.extent }.max() ?? BlobFormat.segmentDataStart
        var tornStart: Int?
        for damage in scan.damage {
            if damage.start < syncedEnd {
                corruption(segment.path, number: segment.number, bytes: item.bytes, offset: damage.start, length: damage.length,
                           reason: damage.problem.description)
            } else {
                tornStart = min(tornStart ?? damage.start, damage.start)
            }
        }
        for blob in scan.blobs where blob.problem != nil && blob.offset >= syncedEnd {
            tornStart = min(tornStart ?? blob.offset, blob.offset)
        }
        var kept = scan.blobs
        var sealed = scan.sealOffset != nil
        if let tornStart {
            sealed = false
            kept = scan.blobs.filter { $0.offset < tornStart }
            let end = item.bytes.withUnsafeBytes { ContentSegmentScan.lastNonZeroEnd($0, from: tornStart) }
            report.tornTails.append(.init(
                path: segment.path, segmentNumber: segment.number, offset: tornStart, length: max(0, end - tornStart),
                droppedBlobs: scan.blobs.count - kept.count
            ))
            segment.allocated = tornStart
            if !readOnly { try zeroVerifyingHeaders(in: item, from: tornStart) }
        } else {
            segment.allocated = scan.dataEnd
        }
        segment.members = members(of: kept, in: segment, bytes: item.bytes)
        if sealed, let sealOffset = scan.sealOffset {
            segment.state = .sealed
            segment.sealOffset = sealOffset
            segment.sealBatch = scan.sealBatch ?? 0
            segment.allocated = sealOffset + BlobFormat.headerSize
            if !readOnly, let handle = segment.handle { try handle.sync() }
            return
        }
        segment.state = .active
        guard !readOnly, let handle = segment.handle else { return }
        // New writes go to a freshly prepared segment: what this one holds past its last
        // successful sync may still be only in the page cache (a failed sync before this
        // open), and a new batch must not be judged together with it after a later crash.
        // Sealed even when empty, so its torn bytes are never read as damage later.
        let sealOffset = segment.allocated
        try handle.write(BlobHeader.seal(commitBatch: newestBatch).encode(seed: segment.number), at: sealOffset)
        try handle.sync()
        segment.state = .sealed
        segment.sealOffset = sealOffset
        segment.sealBatch = newestBatch
        segment.allocated = sealOffset + BlobFormat.headerSize
    }

    /// An unsealed segment that is not the newest: a crash between its last pass and its
    /// seal cannot leave one, so its damage is corruption; it is sealed now at the end of
    /// its data.
    private mutating func adoptUnsealed(_ item: Scanned) throws {
        adoptSealed(item)
        let segment = item.segment
        let sealOffset = item.scan.dataEnd
        segment.sealOffset = sealOffset
        segment.allocated = sealOffset + BlobFormat.headerSize
        if !readOnly, let handle = segment.handle {
            try handle.write(BlobHeader.seal(commitBatch: segment.sealBatch).encode(seed: segment.number), at: sealOffset)
            try handle.sync()
        }
    }

    /// Segment members from scanned blobs; a blob whose chunks fail is kept (reads of it
    /// fail, naming it) and reported.
    private mutating func members(of blobs: [ContentSegmentScan.Blob], in segment: ContentSegment, bytes: [UInt8]) -> [SegmentMember] {
        blobs.map { blob in
            if let problem = blob.problem {
                corruption(segment.path, number: segment.number, bytes: bytes, offset: blob.offset, length: blob.header.extent,
                           reason: "content \(blob.header.contentID): \(problem)")
            }
            return SegmentMember(
                id: blob.header.contentID, offset: blob.offset, extent: blob.header.extent,
                rawLength: blob.header.rawLength, bodyChecksum: blob.header.bodyChecksum, commitBatch: blob.header.commitBatch,
                damaged: blob.problem != nil
            )
        }
    }

    /// Zeroes every blob header at or after `start` that verifies with the segment's seed
    /// (bodies of the unfinished batch that survived the crash), and syncs.
    private func zeroVerifyingHeaders(in item: Scanned, from start: Int) throws {
        guard let handle = item.segment.handle else { return }
        var offsets: [Int] = []
        item.bytes.withUnsafeBytes { p in
            var position = start - FormatConstants.recordAlignment
            while let next = ContentSegmentScan.resynchronise(p, after: position, seed: item.segment.number) {
                offsets.append(next)
                position = next
            }
        }
        guard !offsets.isEmpty else { return }
        let zeros = [UInt8](repeating: 0, count: BlobFormat.headerSize)
        for offset in offsets { try handle.write(zeros, at: offset) }
        try handle.sync()
    }

    // MARK: - Helpers

    private func readWhole(_ path: String) throws -> [UInt8] {
        let handle = try fileSystem.openFile(path, mode: .readOnly)
        defer { try? handle.close() }
        return try handle.readAll()
    }

    private mutating func corruption(
        _ path: String, number: UInt64?, bytes: [UInt8], offset: Int, length: Int, reason: String
    ) {
        var entry = CorruptionReport(store: "cdb", path: path, segmentNumber: number, offset: offset, length: length, reason: reason)
        if let directory = configuration.quarantineDirectory, !readOnly {
            let start = max(0, min(offset, bytes.count))
            let end = min(bytes.count, start + min(length, 16 << 20))
            let name = "cdb-\(Path.name(of: path))-\(offset)"
            entry.quarantinedTo = try? Quarantine(fileSystem: fileSystem, directory: directory).keep(
                Array(bytes[start..<end]), name: name, note: entry.description + "\n"
            )
        }
        report.corruption.append(entry)
        reporter?.report(entry)
        logger.warning("content store damage", metadata: ["report": "\(entry)"])
    }
}

extension ContentStore {
    func adopt(_ state: ContentRecovery.State) {
        condition.withLock {
            segments = state.segments
            // The age of a segment found sealed counts from now.
            let opened = configuration.monotonicClock()
            for segment in segments.values { segment.sealedAtMicros = opened }
            current = state.current
            freeSlots = state.freeSlots
            nextSlot = state.nextSlot
            index = state.index
            releasedOnDisk = state.releasedOnDisk
            nextContentID = state.nextContentID
            nextSegmentNumber = state.nextSegmentNumber
            commitBatch = state.commitBatch
            journal = state.journal
        }
    }
}
