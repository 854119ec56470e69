/// The flusher's work between passes: release marks into the journal, removal of released
/// large body files, hint files for sealed segments, recycling of segments whose bodies
/// are all dead, journal rewrites, and starting a compaction when one is due.
extension ContentStore {
    func housekeeping(idle: Bool) {
        do {
            try writeReleaseMarks(idle: idle)
        } catch {
            fail(error as? StoreError ?? StoreError(.io, "\(error)", path: configuration.directory))
            return
        }
        removeReleasedLargeFiles()
        writeHints()
        recycleDeadSegments()
        startCompactionIfDue()
    }

    /// Appends pending release marks; syncs them when idle or when many are unsynced.
    private func writeReleaseMarks(idle: Bool) throws {
        let ids = condition.withLock {
            let ids = journalPending
            journalPending = []
            return ids
        }
        if !ids.isEmpty {
            if journal == nil {
                journal = try JournalFile.create(
                    fileSystem: fileSystem, directory: configuration.directory, queueID: configuration.queueID,
                    generation: 1, ids: [], preallocate: configuration.journalRewriteBytes
                )
                condition.withLock { statistics_.syncs += 3 }
            }
            try journal?.append(ids)
        }
        guard let journal else { return }
        if journal.unsyncedBytes > 0, idle || journal.unsyncedBytes >= 64 * 1024 {
            try journal.sync()
            condition.withLock { statistics_.syncs += 1 }
        }
        if journal.end > configuration.journalRewriteBytes {
            try rewriteJournal(journal)
        }
    }

    /// Writes a fresh generation holding only the marks of blobs still on disk. The
    /// directory is synced first so that removed large files stay removed.
    private func rewriteJournal(_ old: JournalFile) throws {
        try fileSystem.syncDirectory(configuration.directory)
        let keep = condition.withLock { Array(releasedOnDisk) }
        let fresh = try JournalFile.create(
            fileSystem: fileSystem, directory: configuration.directory, queueID: configuration.queueID,
            generation: old.generation + 1, ids: keep, preallocate: configuration.journalRewriteBytes
        )
        try? old.handle.close()
        journal = fresh
        condition.withLock { statistics_.syncs += 4 }
    }

    private func removeReleasedLargeFiles() {
        let ids = condition.withLock {
            let ids = largeFilesToRemove
            largeFilesToRemove = []
            return ids
        }
        for id in ids {
            do {
                try fileSystem.removeFile(path(LargeBodyFile.name(id)))
            } catch {
                logger.warning("could not remove a released large body", metadata: ["id": "\(id)", "error": "\(error)"])
            }
        }
    }

    /// Hint files are an optimisation: written without a sync (a torn one fails its
    /// checksum and the segment is scanned instead); a failure is only logged.
    private func writeHints() {
        let work = condition.withLock {
            segments.values.filter { $0.state == .sealed && !$0.hinted && $0.sealOffset != nil }.map {
                (segment: $0, hint: SegmentHint(
                    segmentNumber: $0.number, sealOffset: UInt64($0.sealOffset!), sealBatch: $0.sealBatch,
                    entries: $0.members.map {
                        SegmentHint.Entry(
                            contentID: $0.id, offset: UInt64($0.offset), rawLength: $0.rawLength,
                            storedLength: UInt64($0.extent - BlobFormat.headerSize), bodyChecksum: $0.bodyChecksum,
                            commitBatch: $0.commitBatch
                        )
                    }
                ))
            }
        }
        for (segment, hint) in work {
            let hintPath = path(ContentSegment.hintName(slot: segment.slot))
            do {
                let handle = try fileSystem.openFile(hintPath, mode: .createIfMissing)
                defer { try? handle.close() }
                try handle.truncate(to: 0)
                try handle.write(hint.encode(queueID: configuration.queueID, createdMicros: wallClockMicros()), at: 0)
                condition.withLock { if segment.number == hint.segmentNumber { segment.hinted = true } }
            } catch {
                logger.warning("could not write a segment hint", metadata: ["path": "\(hintPath)", "error": "\(error)"])
            }
        }
    }

    /// Frees sealed segments with no live body and no reader: their slot takes new writes
    /// later (with a new segment number, so old blobs never verify there again).
    private func recycleDeadSegments() {
        let dead = condition.withLock {
            segments.values.filter { $0.state == .sealed && $0.liveBytes == 0 && $0.pins == 0 }
        }
        for segment in dead {
            try? fileSystem.removeFile(path(ContentSegment.hintName(slot: segment.slot)))
            condition.withLock {
                guard segment.state == .sealed, segment.liveBytes == 0, segment.pins == 0 else { return }
                for member in segment.members { releasedOnDisk.remove(member.id) }
                segment.members = []
                segment.state = .free
                segment.hinted = false
                freeSlots.append(segment.slot)
                statistics_.segmentsRecycled += 1
            }
        }
    }
}

/// The open release journal (see ``ReleaseJournal``). Flusher thread only.
final class JournalFile {
    let handle: any FileHandle
    let generation: UInt64
    var end: Int
    var sequence: UInt64
    var unsyncedBytes = 0

    init(handle: any FileHandle, generation: UInt64, end: Int, sequence: UInt64) {
        self.handle = handle
        self.generation = generation
        self.end = end
        self.sequence = sequence
    }

    /// Writes generation `generation` holding `ids` into `releases.new`, syncs it, renames
    /// it over `releases` and syncs the directory.
    static func create(
        fileSystem: any FileSystem,
        directory: String,
        queueID: QueueID,
        generation: UInt64,
        ids: [ContentID],
        preallocate: Int
    ) throws -> JournalFile {
        let temporary = Path.join(directory, ReleaseJournal.rewriteName)
        let final = Path.join(directory, ReleaseJournal.fileName)
        var bytes = FileHeader(
            kind: .contentReleaseJournal, queueID: queueID, segmentNumber: generation, createdMicros: wallClockMicros()
        ).encode()
        var sequence: UInt64 = 0
        var start = 0
        while start < ids.count {
            let end = min(ids.count, start + ReleaseJournal.maxIDsPerRecord)
            sequence += 1
            ReleaseJournal.appendRecord(to: &bytes, ids: ids[start..<end], sequence: sequence, generation: generation)
            start = end
        }
        let handle = try fileSystem.openFile(temporary, mode: .createIfMissing)
        do {
            try handle.truncate(to: 0)
            try handle.allocate(offset: 0, length: max(preallocate, bytes.count))
            try handle.write(bytes, at: 0)
            try handle.fullSync()
            try fileSystem.rename(temporary, to: final)
            try fileSystem.syncDirectory(directory)
        } catch {
            try? handle.close()
            throw error
        }
        return JournalFile(handle: handle, generation: generation, end: bytes.count, sequence: sequence)
    }

    func append(_ ids: [ContentID]) throws {
        var bytes: [UInt8] = []
        var start = 0
        while start < ids.count {
            let stop = min(ids.count, start + ReleaseJournal.maxIDsPerRecord)
            sequence += 1
            ReleaseJournal.appendRecord(to: &bytes, ids: ids[start..<stop], sequence: sequence, generation: generation)
            start = stop
        }
        try handle.write(bytes, at: end)
        end += bytes.count
        unsyncedBytes += bytes.count
    }

    func sync() throws {
        try handle.sync()
        unsyncedBytes = 0
    }
}
