/// Compaction: a sealed segment whose live fraction fell below the threshold has its live
/// bodies copied forward into the active segment; once the copies are durable the index
/// points at them (one step, under the lock) and the old segment, now all dead, is
/// recycled when no reader holds it. A crash at any point leaves each body in its old
/// place, its new place, or both (recovery keeps the newer copy): none is lost, and
/// content ids never change.
public struct CompactionReport: Sendable, Equatable {
    public var segmentsCompacted = 0
    public var bodiesCopied = 0
    public var bytesCopied = 0
    /// Bodies left in place because their bytes do not verify (reported as corruption).
    public var damagedBodies: [ContentID] = []
}

extension ContentStore {
    /// Compacts up to `limit` sealed segments whose live fraction is below
    /// `configuration.compactionLiveFraction`, emptiest first, however recently sealed
    /// (the background compaction waits `compactionMinimumAge`).
    @discardableResult
    public func compact(limit: Int = 1) async throws -> CompactionReport {
        while !condition.withLock({
            if compactionRunning { return false }
            compactionRunning = true
            return true
        }) {
            try await Task.sleep(nanoseconds: 1_000_000)
        }
        defer { condition.withLock { compactionRunning = false } }
        return try await compactCandidates(limit: limit)
    }

    /// Lock held: sealed segments worth compacting, emptiest first. With `sealedBefore`
    /// (monotonic µs), only those sealed before then (background compaction).
    func compactionCandidates(sealedBefore: UInt64? = nil) -> [ContentSegment] {
        segments.values
            .filter { segment in
                segment.state == .sealed && segment.usedBytes > 0 && segment.liveFraction < configuration.compactionLiveFraction
                    && segment.sealedAtMicros <= (sealedBefore ?? .max)
            }
            .sorted { $0.liveFraction < $1.liveFraction }
    }

    /// Monotonic µs before which a segment must have been sealed for background compaction.
    private var backgroundSealedBefore: UInt64 {
        let age = configuration.compactionMinimumAge.wholeMicroseconds
        let now = configuration.monotonicClock()
        return now > age ? now - age : 0
    }

    /// Called by the flusher after a pass: starts a background compaction when one is due.
    func startCompactionIfDue() {
        let start = condition.withLock { () -> Bool in
            guard configuration.automaticCompaction, !compactionRunning, failure == nil, !closing,
                  compactionCandidates(sealedBefore: backgroundSealedBefore).contains(where: { $0.liveBytes > 0 })
            else { return false }
            compactionRunning = true
            return true
        }
        guard start else { return }
        Task.detached { [self] in
            do {
                _ = try await compactCandidates(limit: 1, background: true)
            } catch {
                logger.warning("background compaction stopped", metadata: ["error": "\(error)"])
            }
            condition.withLock { compactionRunning = false }
        }
    }

    private func compactCandidates(limit: Int, background: Bool = false) async throws -> CompactionReport {
        var report = CompactionReport()
        let candidates = condition.withLock {
            compactionCandidates(sealedBefore: background ? backgroundSealedBefore : nil).prefix(limit)
        }
        for segment in candidates {
            try await compact(segment, into: &report)
        }
        return report
    }

    private func compact(_ segment: ContentSegment, into report: inout CompactionReport) async throws {
        let (live, handle, number) = try condition.withLock { () throws -> ([(ContentID, BlobLocation)], (any FileHandle)?, UInt64) in
            try checkWritable()
            segment.pins += 1
            let live = segment.members.compactMap { member -> (ContentID, BlobLocation)? in
                guard let location = index[member.id], location.slot == segment.slot, location.offset == member.offset else {
                    return nil
                }
                return (member.id, location)
            }
            return (live, segment.handle, segment.number)
        }
        defer { unpin(segment) }
        guard let handle else { return }
        var lastSequence: UInt64 = 0
        for (id, location) in live {
            let bytes = try await runIO { try handle.read(at: location.offset, count: location.extent) }
            let problem: BlobProblem? = bytes.withUnsafeBytes { p in
                switch BlobHeader.decode(p, at: 0, seed: number) {
                case .failure(let problem): return problem
                case .success(let header):
                    guard header.contentID == id, header.extent == location.extent else { return .badHeader("names another body") }
                    return ContentSegmentScan.checkChunks(p, at: 0, header: header)
                }
            }
            if let problem {
                report.damagedBodies.append(id)
                let entry = CorruptionReport(
                    store: "cdb", path: segment.path, segmentNumber: number, offset: location.offset, length: location.extent,
                    reason: "content \(id): \(problem); left in place by compaction"
                )
                reporter?.report(entry)
                logger.warning("content store damage", metadata: ["report": "\(entry)"])
                continue
            }
            let header = bytes.withUnsafeBytes { p -> BlobHeader in
                guard case .success(let h) = BlobHeader.decode(p, at: 0, seed: number) else { preconditionFailure("decoded above") }
                return h
            }
            lastSequence = try await enqueueBlob(header: header, bytes: bytes, copiedFrom: location)
            report.bodiesCopied += 1
            report.bytesCopied += bytes.count
        }
        if lastSequence > 0 { try await waitDurable(sequence: lastSequence) }
        condition.withLock {
            statistics_.compactedSegments += 1
            housekeepingRequested = true
            condition.signal()
        }
        report.segmentsCompacted += 1
    }
}
