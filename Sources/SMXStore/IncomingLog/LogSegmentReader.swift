/// Reads one incoming-log segment file into its header, its verified records and the gaps
/// between them, with every record's place and checksum status. Recovery interprets the
/// result (``SegmentContents``); `smx-qdump` and `smx-fsck` print it as it is.
public struct InspectedSegment: Sendable {
    public enum Entry: Sendable {
        /// A frame whose checksum verified; `record` is its decoded payload, or why the
        /// payload did not decode.
        case record(offset: Int, frame: RecordFrame.Header, record: Result<LogRecord, StoreError>)
        /// Bytes that hold no valid frame (zeros, a torn write, damage, stale bytes).
        case gap(SegmentScanner.Gap)
    }

    public var path: String
    public var fileSize: Int
    public var header: FileHeader?
    /// Why the header did not verify; such a slot holds nothing the log can use.
    public var headerError: StoreError?
    public var entries: [Entry]

    public static func read(fileSystem: any FileSystem, path: String) throws -> InspectedSegment {
        let handle = try fileSystem.openFile(path, mode: .readOnly)
        defer { try? handle.close() }
        let bytes = try handle.readAll()
        return parse(bytes, path: path)
    }

    /// Parses the bytes of a segment file (total: never traps on any input).
    public static func parse(_ bytes: [UInt8], path: String) -> InspectedSegment {
        var segment = InspectedSegment(path: path, fileSize: bytes.count, header: nil, headerError: nil, entries: [])
        do {
            let header = try FileHeader.decode(Array(bytes.prefix(FormatConstants.fileHeaderSize)), path: path)
            guard header.kind == .incomingLogSegment else {
                throw StoreError(.corrupted, "file header: kind is \(header.kind), not an incoming log segment", path: path)
            }
            segment.header = header
        } catch let error as StoreError {
            segment.headerError = error
            return segment
        } catch {
            segment.headerError = StoreError(.corrupted, "\(error)", path: path)
            return segment
        }
        let usable = bytes.count - bytes.count % FormatConstants.recordAlignment
        var scanner = SegmentScanner(seed: segment.header!.segmentNumber, totalSize: usable)
        var events = scanner.feed(bytes[FormatConstants.fileHeaderSize..<max(usable, FormatConstants.fileHeaderSize)])
        events += scanner.finish()
        segment.entries = events.map { event in
            switch event {
            case .gap(let gap):
                return .gap(gap)
            case .record(let offset, let frame, let payload):
                let decoded: Result<LogRecord, StoreError>
                do {
                    decoded = .success(try LogRecord.decode(type: frame.type, payload: payload))
                } catch let error as StoreError {
                    decoded = .failure(error)
                } catch {
                    decoded = .failure(StoreError(.corrupted, "\(error)"))
                }
                return .record(offset: offset, frame: frame, record: decoded)
            }
        }
        return segment
    }
}

/// What recovery takes from one segment: the records it trusts, in order, the damage it
/// stepped over, and (for the newest segment) where the log ends.
struct SegmentContents {
    struct Entry {
        var offset: Int
        var sequence: UInt64
        var record: LogRecord
    }

    struct Damage {
        var offset: Int
        var length: Int
        var reason: String
    }

    var entries: [Entry] = []
    var damage: [Damage] = []
    /// Offset just past the last trusted record: where appends continue.
    var endOffset: Int
    /// The segment ends with a seal record: nothing may be appended to it.
    var sealed = false
    /// Bytes after `endOffset` that held frames of an unacknowledged, torn final write.
    var tornTailBytes = 0
    /// Whether anything but zeros follows `endOffset` (stale or torn bytes to clear).
    var dirtyTail = false
    /// Highest sequence in any verified frame, trusted or not.
    var maxSequence: UInt64 = 0

    /// Applies the rules of ARCHITECTURE.md "Torn tails and corruption".
    ///
    /// - An older segment must end with a seal: every gap before the seal is damage, and
    ///   the scan resumes at the next valid frame; bytes after the seal are ignored.
    /// - In the newest segment, a gap followed only by frames of one write batch (no frame
    ///   after a batch-end flag) is a torn final write: the log ends at the gap. A gap with a
    ///   complete later batch after it is damage, reported and stepped over.
    init(_ segment: InspectedSegment, isNewest: Bool) {
        endOffset = FormatConstants.fileHeaderSize
        let items = segment.entries
        for item in items {
            if case .record(_, let frame, _) = item { maxSequence = max(maxSequence, frame.sequence) }
        }
        for (i, item) in items.enumerated() {
            switch item {
            case .record(let offset, let frame, let decoded):
                switch decoded {
                case .success(.seal):
                    sealed = true
                    endOffset = frame.nextOffset
                    return
                case .success(let record):
                    entries.append(Entry(offset: offset, sequence: frame.sequence, record: record))
                case .failure(let error):
                    damage.append(Damage(offset: offset, length: frame.nextOffset - offset, reason: "undecodable record: \(error.message)"))
                }
                endOffset = frame.nextOffset
            case .gap(let gap):
                let recordsFollow = items[(i + 1)...].contains { if case .record = $0 { true } else { false } }
                if !recordsFollow {
                    if isNewest {
                        dirtyTail = !gap.allZeros
                        return
                    }
                    damage.append(Damage(
                        offset: gap.start,
                        length: gap.length,
                        reason: gap.allZeros
                            ? "segment ends without a seal record"
                            : "segment ends without a seal record: \(gap.problem?.description ?? "unreadable bytes")"
                    ))
                    return
                }
                if isNewest && !hasBatchEndBeforeLast(items, after: i) {
                    // Only the frames of one unacknowledged write follow: a torn tail.
                    for case .record(_, let frame, _) in items[(i + 1)...] {
                        tornTailBytes = max(tornTailBytes, frame.nextOffset - gap.start)
                    }
                    dirtyTail = true
                    return
                }
                damage.append(Damage(
                    offset: gap.start,
                    length: gap.length,
                    reason: gap.problem?.description ?? "unexpected zero bytes"
                ))
            }
        }
    }

    /// Whether, among the records after index `i`, a batch-end flag sits on a record that
    /// is not the last record: then a complete later write follows the gap at `i`.
    private func hasBatchEndBeforeLast(_ items: [InspectedSegment.Entry], after i: Int) -> Bool {
        var flags: [Bool] = []
        for item in items[(i + 1)...] {
            if case .record(_, let frame, _) = item { flags.append(frame.isBatchEnd) }
        }
        return flags.dropLast().contains(true)
    }
}
