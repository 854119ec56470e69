/// What the tools see: every blob with its place, sizes, state and (on request) checksum
/// status; a full ``verify()``; ``validate(_:)`` for recovery's check of an envelope's
/// body; and ``quarantine(_:)`` to copy a damaged body's bytes to `corrupt/`.
public struct BlobInfo: Sendable, Equatable {
    public enum State: String, Sendable {
        /// The index points here.
        case live
        /// Released by the queue manager; the bytes wait for the segment to be recycled.
        case released
        /// Compaction copied the body to a newer segment; this is the old copy.
        case superseded
    }

    public var id: ContentID
    public var path: String
    public var segmentNumber: UInt64?
    public var offset: Int
    /// Header and chunk frames.
    public var extent: Int
    public var rawLength: UInt64
    public var bodyChecksum: UInt64
    public var state: State
    public var isLargeFile: Bool
    /// With `verify`: nil when every chunk and the body checksum verify, else why not.
    public var problem: String?
    /// False when the blob was not checked.
    public var checked: Bool
}

/// One finding of ``ContentStore/verify()``.
public struct ContentProblem: Sendable, Equatable, CustomStringConvertible {
    public var id: ContentID?
    public var path: String
    public var offset: Int?
    public var detail: String

    public var description: String {
        var text = "cdb: \(path)"
        if let offset { text += " offset \(offset)" }
        if let id { text += " content \(id)" }
        return text + ": " + detail
    }
}

public struct ContentVerification: Sendable, Equatable {
    public var bodiesChecked = 0
    public var rawBytesChecked: UInt64 = 0
    public var problems: [ContentProblem] = []
    public var isClean: Bool { problems.isEmpty }
}

/// Whether an envelope's content reference is backed by a body that verifies.
public enum ContentValidation: Sendable, Equatable {
    case valid
    case missing
    case sizeMismatch(stored: UInt64)
    case checksumMismatch
    case damaged(String)
}

extension ContentStore {
    /// Every blob on disk (live, released, superseded) and every large body. With
    /// `verify`, each one's chunks are decoded and checked against its checksums.
    public func inspect(verify: Bool = false) -> [BlobInfo] {
        var infos: [BlobInfo] = []
        let (segmentList, largeIDs) = condition.withLock { () -> ([(ContentSegment, [SegmentMember])], [(ContentID, BlobLocation)]) in
            let list = segments.values.filter { $0.state == .sealed || $0.state == .active }
                .sorted { $0.number < $1.number }.map { ($0, $0.members) }
            let large = index.filter { $0.value.isLargeFile }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            return (list, large)
        }
        for (segment, members) in segmentList {
            for member in members {
                let state: BlobInfo.State = condition.withLock {
                    guard let location = index[member.id] else { return .released }
                    return location.slot == segment.slot && location.offset == member.offset ? .live : .superseded
                }
                var info = BlobInfo(
                    id: member.id, path: segment.path, segmentNumber: segment.number, offset: member.offset,
                    extent: member.extent, rawLength: member.rawLength, bodyChecksum: member.bodyChecksum,
                    state: state, isLargeFile: false, problem: nil, checked: false
                )
                if verify, let handle = segment.handle {
                    info.problem = Self.verifyBlob(handle: handle, offset: member.offset, extent: member.extent, seed: segment.number)
                    info.checked = true
                }
                infos.append(info)
            }
        }
        for (id, location) in largeIDs {
            var info = BlobInfo(
                id: id, path: path(LargeBodyFile.name(id)), segmentNumber: location.seed, offset: location.offset,
                extent: location.extent, rawLength: location.rawLength, bodyChecksum: location.bodyChecksum,
                state: .live, isLargeFile: true, problem: nil, checked: false
            )
            if verify {
                info.problem = verifyByReading(id)
                info.checked = true
            }
            infos.append(info)
        }
        return infos
    }

    /// Checks every live body (every chunk's checksum, decompression, the body checksum)
    /// and the store's own bookkeeping: live bytes per segment, members in order inside
    /// their segment, every index entry backed by a member, at most one active segment,
    /// the free slots (and the one being prepared) consistent with the segments.
    public func verify() -> ContentVerification {
        var result = ContentVerification()
        let ids = condition.withLock { index.keys.sorted() }
        for id in ids {
            guard let location = condition.withLock({ index[id] }) else { continue }
            result.bodiesChecked += 1
            result.rawBytesChecked += location.rawLength
            if let problem = verifyByReading(id) {
                let filePath = location.isLargeFile ? path(LargeBodyFile.name(id)) : segmentPath(location.slot)
                result.problems.append(ContentProblem(id: id, path: filePath, offset: location.offset, detail: problem))
            }
        }
        result.problems += condition.withLock { bookkeepingProblems() }
        return result
    }

    /// Lock held.
    func bookkeepingProblems() -> [ContentProblem] {
        var problems: [ContentProblem] = []
        var live: [Int: Int] = [:]
        for (id, location) in index where !location.isLargeFile {
            live[location.slot, default: 0] += location.extent
            guard let segment = segments[location.slot] else {
                problems.append(ContentProblem(id: id, path: configuration.directory, offset: nil, detail: "index names missing slot \(location.slot)"))
                continue
            }
            if !segment.members.contains(where: { $0.id == id && $0.offset == location.offset }) {
                problems.append(ContentProblem(id: id, path: segment.path, offset: location.offset, detail: "index entry without a blob"))
            }
        }
        var active = 0
        for segment in segments.values {
            if segment.state == .active { active += 1 }
            if segment.state == .free || segment.state == .damaged {
                if !segment.members.isEmpty || segment.liveBytes != 0 {
                    problems.append(ContentProblem(id: nil, path: segment.path, offset: nil, detail: "\(segment.state) segment holds bodies"))
                }
                continue
            }
            if segment.liveBytes != live[segment.slot, default: 0] {
                problems.append(ContentProblem(
                    id: nil, path: segment.path, offset: nil,
                    detail: "live bytes \(segment.liveBytes), index says \(live[segment.slot, default: 0])"
                ))
            }
            var end = BlobFormat.segmentDataStart
            for member in segment.members {
                if member.offset < end || member.offset % FormatConstants.recordAlignment != 0 {
                    problems.append(ContentProblem(id: member.id, path: segment.path, offset: member.offset, detail: "blob overlaps the one before"))
                }
                end = member.offset + member.extent
            }
            if end > (segment.sealOffset ?? segment.allocated) {
                problems.append(ContentProblem(id: nil, path: segment.path, offset: end, detail: "blobs run past the segment's end"))
            }
        }
        if active > 1 {
            problems.append(ContentProblem(id: nil, path: configuration.directory, offset: nil, detail: "\(active) active segments"))
        }
        // Free slots: each listed once, each a free segment; the slot being prepared is
        // reserved, not yet a segment; no slot at or past the next new one.
        if Set(freeSlots).count != freeSlots.count {
            problems.append(ContentProblem(id: nil, path: configuration.directory, offset: nil, detail: "a free slot is listed twice: \(freeSlots)"))
        }
        for slot in freeSlots where segments[slot]?.state != .free {
            problems.append(ContentProblem(
                id: nil, path: segmentPath(slot), offset: nil, detail: "listed as free but \(segments[slot].map { "\($0.state)" } ?? "not a segment")"
            ))
        }
        if let slot = slotBeingPrepared, segments[slot] != nil || slot >= nextSlot {
            problems.append(ContentProblem(id: nil, path: segmentPath(slot), offset: nil, detail: "slot being prepared is already a segment or not reserved"))
        }
        if let highest = segments.keys.max(), highest >= nextSlot {
            problems.append(ContentProblem(id: nil, path: segmentPath(highest), offset: nil, detail: "slot at or past the next new slot \(nextSlot)"))
        }
        return problems
    }

    /// Whether `reference` (from an envelope) is backed by a live body of that size and
    /// checksum whose bytes all verify.
    public func validate(_ reference: ContentReference) -> ContentValidation {
        guard let location = condition.withLock({ index[reference.id] }) else { return .missing }
        guard location.rawLength == reference.size else { return .sizeMismatch(stored: location.rawLength) }
        guard location.bodyChecksum == reference.checksum else { return .checksumMismatch }
        if let problem = verifyByReading(reference.id) { return .damaged(problem) }
        return .valid
    }

    /// Copies the blob of `id` (live or not) into the quarantine directory with a note;
    /// returns the copy's path. Does not release the body.
    public func quarantine(_ id: ContentID, reason: String) throws -> String {
        guard let directory = configuration.quarantineDirectory else {
            throw StoreError(.invalidArgument, "no quarantine directory configured", path: configuration.directory)
        }
        let blob = inspect().first { $0.id == id && $0.state == .live } ?? inspect().first { $0.id == id }
        guard let blob else { throw StoreError(.notFound, "no content \(id)", path: configuration.directory) }
        let handle = try fileSystem.openFile(blob.path, mode: .readOnly)
        defer { try? handle.close() }
        let bytes = try handle.read(at: blob.offset, count: blob.extent)
        let note = CorruptionReport(
            store: "cdb", path: blob.path, segmentNumber: blob.segmentNumber, offset: blob.offset, length: blob.extent,
            reason: "content \(id): \(reason)"
        ).description
        return try Quarantine(fileSystem: fileSystem, directory: directory).keep(
            bytes, name: "cdb-\(id)-\(Path.name(of: blob.path))-\(blob.offset)", note: note + "\n"
        )
    }

    func verifyByReading(_ id: ContentID) -> String? {
        do {
            let reader = try openReader(id)
            defer { reader.close() }
            while try reader.readChunk() != nil {}
            return nil
        } catch let error as StoreError {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    static func verifyBlob(handle: any FileHandle, offset: Int, extent: Int, seed: UInt64) -> String? {
        do {
            let bytes = try handle.read(at: offset, count: extent)
            let result = bytes.withUnsafeBytes { BlobDecoder.decode($0, at: 0, seed: seed, verifyOnly: true) }
            if case .failure(let problem) = result { return problem.description }
            return nil
        } catch {
            return "\(error)"
        }
    }

    func segmentPath(_ slot: Int) -> String { path(ContentSegment.fileName(slot: slot)) }
}
