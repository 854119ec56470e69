/// Splits the bytes of a log-structured file (after its ``FileHeader``) into valid record
/// frames and the gaps between them, without deciding what a gap means: a clean end of
/// data, a torn tail or damage. The store's reader decides that, knowing whether the
/// segment is the newest one or a sealed older one.
///
/// The scanner is a push parser: bytes may be fed in pieces of any size, down to one byte
/// at a time, and the events are the same as when the whole file is fed at once. A gap
/// ends at the first later aligned offset holding a valid frame whose sequence number is
/// above every sequence seen so far (LevelDB's reader resynchronises the same way); a
/// frame left by a recycled file's earlier life never verifies, because checksums are
/// seeded with the segment number.
public struct SegmentScanner {
    /// A run of bytes that holds no valid record.
    public struct Gap: Equatable, Sendable {
        /// File offsets `[start, end)`.
        public var start: Int
        public var end: Int
        /// Every byte in the gap is zero (preallocated space never written).
        public var allZeros: Bool
        /// What was wrong with the frame at `start`; `nil` for zeros.
        public var problem: RecordFrame.Problem?

        public var length: Int { end - start }
    }

    public enum Event: Equatable, Sendable {
        /// A frame that verified; `offset` is where its header starts.
        case record(offset: Int, header: RecordFrame.Header, payload: [UInt8])
        case gap(Gap)
    }

    public let seed: UInt64
    public let startOffset: Int
    /// The file's size when known: frames may not extend past it.
    public let totalSize: Int?
    public let maxPayload: Int

    private var buffer: [UInt8] = []
    /// Next offset to examine (file offset).
    private var position: Int
    private var gap: Gap?
    private var lastSequence: UInt64?
    /// Bytes hashed while resynchronising over the current gap.
    private var resyncHashed = 0
    private var finished = false

    public init(
        seed: UInt64,
        startOffset: Int = FormatConstants.fileHeaderSize,
        totalSize: Int? = nil,
        maxPayload: Int = FormatConstants.maxRecordPayload
    ) {
        precondition(startOffset % FormatConstants.recordAlignment == 0)
        self.seed = seed
        self.startOffset = startOffset
        self.totalSize = totalSize
        self.maxPayload = maxPayload
        self.position = startOffset
    }

    /// The file offset just past the bytes fed so far.
    public var fedEnd: Int { startOffset + buffer.count }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [Event] {
        precondition(!finished, "feed after finish")
        if let totalSize {
            let room = max(0, totalSize - fedEnd)
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes.prefix(room)))
        } else {
            buffer.append(contentsOf: bytes)
        }
        return scan()
    }

    public mutating func feed(_ bytes: [UInt8]) -> [Event] {
        bytes.withUnsafeBytes { feed($0) }
    }

    public mutating func feed(_ bytes: ArraySlice<UInt8>) -> [Event] {
        bytes.withUnsafeBytes { feed($0) }
    }

    /// No more bytes will come: everything undecided is decided.
    public mutating func finish() -> [Event] {
        finished = true
        var events = scan()
        let end = fedEnd
        if var open = gap {
            if open.allZeros {
                open.allZeros = allZero(from: min(position, end), to: end)
            }
            open.end = end
            events.append(.gap(open))
            gap = nil
        } else if position < end {
            events.append(.gap(Gap(
                start: position,
                end: end,
                allZeros: allZero(from: position, to: end),
                problem: allZero(from: position, to: end) ? nil : .truncated
            )))
        }
        position = max(position, end)
        return events
    }

    private func allZero(from start: Int, to end: Int) -> Bool {
        guard start < end else { return true }
        for i in (start - startOffset)..<(end - startOffset) where buffer[i] != 0 {
            return false
        }
        return true
    }

    private var payloadLimit: (Int) -> Int {
        { [totalSize, maxPayload] offset in
            guard let totalSize else { return maxPayload }
            return max(0, min(maxPayload, totalSize - offset - FormatConstants.recordHeaderSize))
        }
    }

    /// Whether a frame at `offset` that decoded as truncated might still complete.
    private func mayComplete(at offset: Int) -> Bool {
        if finished { return false }
        if let totalSize, offset + FormatConstants.recordHeaderSize > totalSize { return false }
        return true
    }

    private mutating func scan() -> [Event] {
        var events: [Event] = []
        let limit = payloadLimit
        buffer.withUnsafeBytes { all in
            let end = fedEnd
            while position < end {
                let window = UnsafeRawBufferPointer(rebasing: all[(position - startOffset)...])
                if let open = gap, window.count >= FormatConstants.recordHeaderSize,
                   !worthVerifying(window, gapStart: open.start) {
                    // Not a resynchronisation candidate: step over without hashing.
                    let step = FormatConstants.recordAlignment
                    if open.allZeros && !allZero(from: position, to: min(end, position + step)) {
                        gap!.allZeros = false
                    }
                    position += step
                    continue
                }
                let decoded = RecordFrame.decode(window, at: 0, seed: seed, maxPayload: limit(position))
                if gap != nil, case .damaged(.checksumMismatch) = decoded {
                    resyncHashed += FormatConstants.recordHeaderSize + Int(LittleEndian.u32(window, 8))
                }
                if var open = gap {
                    // Resynchronising: only a verified frame with a new sequence ends the gap.
                    if case .record(let h) = decoded, lastSequence.map({ h.sequence > $0 }) ?? true {
                        open.end = position
                        events.append(.gap(open))
                        gap = nil
                        emit(h, at: position, from: all, into: &events)
                        continue
                    }
                    if case .damaged(.truncated) = decoded, mayComplete(at: position) { return }
                    let step = min(FormatConstants.recordAlignment, end - position)
                    guard step == FormatConstants.recordAlignment || finished else { return }
                    if open.allZeros && !allZero(from: position, to: position + step) {
                        open.allZeros = false
                    }
                    gap = open
                    position += step
                    continue
                }
                switch decoded {
                case .record(let h):
                    emit(h, at: position, from: all, into: &events)
                case .zeros:
                    gap = Gap(start: position, end: position, allZeros: true, problem: nil)
                    resyncHashed = 0
                case .damaged(.truncated) where mayComplete(at: position):
                    return
                case .damaged(let problem):
                    gap = Gap(start: position, end: position, allZeros: false, problem: problem)
                    resyncHashed = 0
                }
            }
        }
        return events
    }

    /// Whether the frame header at the start of `window` could end the current gap and so
    /// deserves its checksum computed. Bounds the work of resynchronising over hostile bytes:
    /// a region of forged headers that each claim a large payload would otherwise cost a
    /// hash of that payload at every aligned offset (quadratic in the segment size). Once
    /// the hashing spent on a gap exceeds a budget proportional to the gap's length, only
    /// candidates with small payloads are still verified. The decision depends only on the
    /// bytes and offsets, never on how the input was split into pieces.
    private func worthVerifying(_ window: UnsafeRawBufferPointer, gapStart: Int) -> Bool {
        let sequence = LittleEndian.u64(window, 16)
        if let lastSequence, sequence <= lastSequence { return false }
        let length = Int(LittleEndian.u32(window, 8))
        if length <= Self.alwaysVerifiedPayload { return true }
        return resyncHashed <= Self.resyncBudgetFactor * (position - gapStart) + Self.resyncBudgetBase
    }

    static let alwaysVerifiedPayload = 4096
    static let resyncBudgetFactor = 16
    static let resyncBudgetBase = 1 << 20

    private mutating func emit(
        _ h: RecordFrame.Header,
        at offset: Int,
        from all: UnsafeRawBufferPointer,
        into events: inout [Event]
    ) {
        var header = h
        header.payloadOffset = offset + FormatConstants.recordHeaderSize
        header.nextOffset = offset + (h.nextOffset - 0)
        let payloadStart = header.payloadOffset - startOffset
        let payload = Array(all[payloadStart..<(payloadStart + h.length)])
        events.append(.record(offset: offset, header: header, payload: payload))
        lastSequence = max(lastSequence ?? 0, h.sequence)
        position = header.nextOffset
    }
}
