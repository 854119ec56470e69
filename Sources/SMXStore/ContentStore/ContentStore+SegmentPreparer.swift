/// Segment files made ahead of time, zero-filled.
///
/// A new segment file is preallocated with `fallocate`, which leaves *unwritten* extents:
/// the first write into one changes the file's extent map, so every `fdatasync` of a pass
/// into a fresh segment also writes metadata, a second dependent I/O. On this project's
/// test machine (ext4, virtio disk), a 48 KiB append plus `fdatasync` took 514 µs into
/// unwritten space and 270 µs as an overwrite, and with the incoming log syncing beside
/// it, 790–890 µs against 430–540 µs. Postgres zero-fills new WAL segments, and the
/// incoming log zero-fills its segments, for the same reason.
///
/// So when the flusher moves to a segment and no free slot is left for the next one, a
/// helper thread (`smx-cdb-prep`) creates the next slot's file, preallocates it, writes
/// zeros over all of it past the header area (syncing every `zeroFillSyncBytes`, so the
/// disk never takes the whole segment in one flush, which would hold up the stores' group
/// commits behind it),
/// syncs it and the directory, and then hands it over as a free slot. A recycled slot
/// needs none of this: its blocks were written in its earlier life.
///
/// **Crash safety.** The file holds no header until the flusher prepares it as a segment
/// (both header copies zero), so at any point of a crash recovery finds it free (or, if
/// the create itself was lost, absent). It takes a slot number nothing else uses.
///
/// **Failure.** Preparing is only ahead of need: an error is logged and the slot is given
/// up (its number is not reused in this open; a partly written file is a free slot at the
/// next open). The flusher then creates segments as before.
extension ContentStore {
    /// Zeros written between two syncs while preparing a segment.
    static let zeroFillSyncBytes = 1 << 20

    /// Lock held: starts the preparer for the next slot when nothing is free or being
    /// prepared and the store may grow by one more segment file.
    func prepareSlotIfNeeded() {
        guard configuration.prepareSegmentsAhead, !configuration.readOnly, !closing, !closed, failure == nil,
              freeSlots.isEmpty, slotBeingPrepared == nil,
              segments.count + 1 < configuration.maxSegments
        else { return }
        // A thread started before has finished (it cleared `slotBeingPrepared` last).
        preparer?.join()
        let slot = nextSlot
        nextSlot += 1
        slotBeingPrepared = slot
        let thread = SyncThread(name: "smx-cdb-prep") { [self] in prepare(slot: slot) }
        preparer = thread
        thread.start()
    }

    /// The preparer thread: makes the zero-filled file of `slot` and hands it over.
    private func prepare(slot: Int) {
        let filePath = path(ContentSegment.fileName(slot: slot))
        var handle: (any FileHandle)?
        do {
            let file = try fileSystem.openFile(filePath, mode: .createNew)
            handle = file
            try file.allocate(offset: 0, length: configuration.segmentSize)
            try zeroFill(file)
            try file.fullSync()
            try fileSystem.syncDirectory(configuration.directory)
        } catch {
            logger.warning("could not prepare a content segment ahead of time", metadata: [
                "path": "\(filePath)", "error": "\(error)",
            ])
            try? handle?.close()
            condition.withLock {
                slotBeingPrepared = nil
                statistics_.segmentPreparationFailures += 1
            }
            return
        }
        let keep = condition.withLock { () -> Bool in
            slotBeingPrepared = nil
            guard !closing, !closed else { return false }
            let segment = ContentSegment(slot: slot, path: filePath, number: 0, state: .free, allocated: BlobFormat.segmentDataStart)
            segment.handle = handle
            segments[slot] = segment
            // Free slots go last in, first out: the next segment takes this one unless a
            // slot is recycled meanwhile (whose blocks are written already too).
            freeSlots.append(slot)
            statistics_.segmentsCreated += 1
            statistics_.segmentsPrepared += 1
            return true
        }
        // Closing: the file stays behind as a free slot for the next open.
        if !keep { try? handle?.close() }
    }

    /// Writes zeros from the end of the header area to the end of the segment. The
    /// header area (both copies) is left as `fallocate` made it, reading as zeros: a torn
    /// write of zeros there could leave garbage that recovery would have to call a damaged
    /// header, where a header area never written reads as a free slot. The flusher writes
    /// it (and the first blocks, with it) when the slot becomes a segment.
    private func zeroFill(_ handle: any FileHandle) throws {
        try handle.writeZeros(BlobFormat.segmentDataStart..<configuration.segmentSize, syncingEvery: Self.zeroFillSyncBytes)
    }
}
