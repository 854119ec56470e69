import SMXStore

/// The bodies of the libFuzzer targets in `FuzzTests/` (one function per target), kept here
/// so `FuzzRegressionTests` can replay crash inputs and seeds through exactly the same
/// code. Every function takes any bytes and checks the decoders' contracts with
/// `precondition`: a violated invariant must crash so that libFuzzer records the input.
///
/// The decoders must be total (ARCHITECTURE.md rule 7): any input decodes or yields a typed
/// error or gap; nothing traps and nothing reads out of bounds (ASan checks the latter in
/// fuzzing builds).
public enum FuzzHarness {
    /// Inputs longer than this are cut (libFuzzer is also run with `-max_len=65536`).
    public static let maxInput = 64 * 1024

    public static func recordDecoder(_ input: UnsafeRawBufferPointer) {
        recordDecoder(Array(input.prefix(maxInput)))
    }

    public static func segmentReader(_ input: UnsafeRawBufferPointer) {
        segmentReader(Array(input.prefix(maxInput)))
    }

    public static func fileHeader(_ input: UnsafeRawBufferPointer) {
        fileHeader(Array(input.prefix(maxInput)))
    }

    // MARK: - Record payloads and record frames

    /// Byte 0 is a record type, the rest its payload, for `LogRecord.decode`; the same bytes
    /// are also read as a record frame at offset 0 by `RecordFrame.decode`, with the seed in
    /// the last 8 bytes of the input (see ``frameSeed(_:)``).
    public static func recordDecoder(_ data: [UInt8]) {
        let data = data.count > maxInput ? Array(data.prefix(maxInput)) : data
        if let type = data.first {
            checkRecordRoundTrip(type: type, payload: data[1...])
        }
        checkFrame(data)
    }

    /// The checksum seed the frame target uses: the last 8 bytes of the input (little
    /// endian) when the input is longer than a frame header, else 0. Seed files append the
    /// segment number after the frame, so their frames verify.
    public static func frameSeed(_ data: [UInt8]) -> UInt64 {
        guard data.count >= FormatConstants.recordHeaderSize + 8 else { return 0 }
        var seed: UInt64 = 0
        for (i, byte) in data.suffix(8).enumerated() { seed |= UInt64(byte) << UInt64(8 * i) }
        return seed
    }

    /// If the payload decodes, encoding the record and decoding that must give the same
    /// record, and encoding is then a fixed point (canonical bytes).
    static func checkRecordRoundTrip(type: UInt8, payload: ArraySlice<UInt8>) {
        let record: LogRecord
        do {
            record = try LogRecord.decode(type: type, payload: payload)
        } catch let error as StoreError {
            precondition(
                error.code == .corrupted || error.code == .unsupportedVersion,
                "LogRecord.decode threw an unexpected error code: \(error)"
            )
            return
        } catch {
            preconditionFailure("LogRecord.decode threw a non-StoreError: \(error)")
        }
        precondition(record.type.rawValue == type, "decoded record has type \(record.type), frame type \(type)")
        let encoded = record.encodePayload()
        precondition(encoded.count <= payload.count, "re-encoding grew the payload (\(payload.count) -> \(encoded.count))")
        let again: LogRecord
        do {
            again = try LogRecord.decode(type: type, payload: encoded)
        } catch {
            preconditionFailure("re-encoded \(record.type) record does not decode: \(error)")
        }
        precondition(again == record, "round trip changed the record: \(record) -> \(again)")
        precondition(again.encodePayload() == encoded, "encoding is not stable after a round trip")
    }

    static func checkFrame(_ data: [UInt8]) {
        let seed = frameSeed(data)
        let headerSize = FormatConstants.recordHeaderSize
        data.withUnsafeBytes { bytes in
            // Offsets outside the buffer are a typed result, not a trap.
            for offset in [-1, Int.min, bytes.count, bytes.count + 1, Int.max, max(0, bytes.count - headerSize + 1)]
            where offset < 0 || bytes.count - offset < headerSize {
                precondition(
                    RecordFrame.decode(bytes, at: offset, seed: seed) == .damaged(.truncated),
                    "decode at out-of-range offset \(offset) of \(bytes.count) bytes did not report truncation"
                )
            }
            let decoded = RecordFrame.decode(bytes, at: 0, seed: seed)
            switch decoded {
            case .zeros:
                precondition(bytes.count >= headerSize && bytes.prefix(headerSize).allSatisfy { $0 == 0 })
            case .damaged(.truncated):
                if bytes.count >= headerSize {
                    let length = Int(LittleEndian.u32(bytes, 8))
                    precondition(headerSize + length > bytes.count, "a complete frame was reported truncated")
                }
            case .damaged(.badLength(let length)):
                precondition(Int(length) > FormatConstants.maxRecordPayload)
            case .damaged(.badHeader), .damaged(.checksumMismatch):
                precondition(bytes.count >= headerSize)
            case .record(let h):
                precondition(h.type != 0 && h.flags & ~RecordFrame.flagBatchEnd == 0, "bad header accepted")
                precondition(h.length >= 0 && h.payloadOffset == headerSize, "payload offset \(h.payloadOffset)")
                precondition(h.payloadOffset + h.length <= bytes.count, "payload runs past the input")
                precondition(h.nextOffset == RecordFrame.size(payloadCount: h.length), "next offset \(h.nextOffset)")
                let frameEnd = h.payloadOffset + h.length
                var reframed: [UInt8] = []
                RecordFrame.append(
                    to: &reframed,
                    type: h.type,
                    flags: h.flags,
                    sequence: h.sequence,
                    payload: UnsafeRawBufferPointer(rebasing: bytes[h.payloadOffset..<frameEnd]),
                    seed: seed
                )
                precondition(reframed.count == h.nextOffset, "append wrote \(reframed.count) bytes for \(h.nextOffset)")
                precondition(reframed[..<frameEnd].elementsEqual(bytes[..<frameEnd]), "re-framing changed the bytes")
                precondition(reframed[frameEnd...].allSatisfy { $0 == 0 }, "padding is not zero")
                let again = reframed.withUnsafeBytes { RecordFrame.decode($0, at: 0, seed: seed) }
                precondition(again == decoded, "re-framed record decodes differently: \(again)")
                // A verified frame's payload goes through the record decoder too, which is
                // how the fuzzer reaches deep record fields from framed seeds.
                checkRecordRoundTrip(type: h.type, payload: data[h.payloadOffset..<frameEnd])
            }
        }
    }

    // MARK: - Segments

    /// `InspectedSegment.parse` over the whole input, and a ``SegmentScanner`` over the
    /// bytes after the first 64 fed at once versus in pseudo-random pieces (the push
    /// parser must produce the same events however its input is split).
    public static func segmentReader(_ data: [UInt8]) {
        let data = data.count > maxInput ? Array(data.prefix(maxInput)) : data
        let headerSize = FormatConstants.fileHeaderSize
        let segment = InspectedSegment.parse(data, path: "fuzz")
        precondition(segment.fileSize == data.count)
        guard data.count >= headerSize else {
            precondition(segment.header == nil && segment.headerError != nil && segment.entries.isEmpty)
            return
        }
        // The seed is the segment-number field whether or not the header verifies, so
        // frames in seed segments verify and the scanner gets past the first record.
        let seed = data.withUnsafeBytes { LittleEndian.u64($0, 32) }
        let totalSize = data.count - data.count % FormatConstants.recordAlignment
        let body = data[headerSize...]

        var whole = SegmentScanner(seed: seed, startOffset: headerSize, totalSize: totalSize)
        var wholeEvents = whole.feed(body)
        wholeEvents += whole.finish()
        checkEvents(wholeEvents, data: data, seed: seed, start: headerSize, end: totalSize)

        var prng = SplitMix64(seed: Checksum.xxh3(data, seed: 0x5EED))
        let pieces = chunkedEvents(body, seed: seed, totalSize: totalSize) { remaining in
            // Mostly small pieces (frames split mid-header), sometimes large ones.
            let r = prng.next()
            let limit: UInt64 = switch r & 3 {
            case 0: 8
            case 1: 64
            case 2: 512
            default: 4096
            }
            return min(remaining, 1 + Int((r >> 2) % limit))
        }
        precondition(pieces == wholeEvents, "events differ when fed in pieces")
        if body.count <= 512 {
            let bytewise = chunkedEvents(body, seed: seed, totalSize: totalSize) { _ in 1 }
            precondition(bytewise == wholeEvents, "events differ when fed one byte at a time")
        }

        if let header = segment.header {
            precondition(segment.headerError == nil && header.kind == .incomingLogSegment)
            precondition(header.segmentNumber == seed)
            // parse is this same scan plus payload decoding.
            precondition(segment.entries.count == wholeEvents.count, "parse and scanner disagree")
            for (entry, event) in zip(segment.entries, wholeEvents) {
                switch (entry, event) {
                case (.gap(let a), .gap(let b)):
                    precondition(a == b, "parse and scanner disagree on a gap")
                case (.record(let offset, let frame, let decoded), .record(let offset2, let header2, let payload)):
                    precondition(offset == offset2 && frame == header2, "parse and scanner disagree on a record")
                    switch decoded {
                    case .success(let record):
                        precondition(record.type.rawValue == frame.type)
                        precondition(
                            (try? LogRecord.decode(type: frame.type, payload: payload)) == record,
                            "record payload decodes differently"
                        )
                    case .failure(let error):
                        precondition(error.code == .corrupted || error.code == .unsupportedVersion)
                    }
                default:
                    preconditionFailure("parse and scanner disagree on the kind of an entry")
                }
            }
        } else {
            precondition(segment.headerError != nil && segment.entries.isEmpty)
        }
    }

    private static func chunkedEvents(
        _ body: ArraySlice<UInt8>,
        seed: UInt64,
        totalSize: Int,
        nextSize: (Int) -> Int
    ) -> [SegmentScanner.Event] {
        var scanner = SegmentScanner(seed: seed, startOffset: FormatConstants.fileHeaderSize, totalSize: totalSize)
        var events: [SegmentScanner.Event] = []
        var index = body.startIndex
        while index < body.endIndex {
            let size = max(1, nextSize(body.endIndex - index))
            let end = min(body.endIndex, index + size)
            events += scanner.feed(body[index..<end])
            index = end
        }
        events += scanner.finish()
        return events
    }

    /// The events of a finished scan tile `[start, end)` exactly, records verify and carry
    /// their own bytes, and a gap said to be all zeros is.
    private static func checkEvents(_ events: [SegmentScanner.Event], data: [UInt8], seed: UInt64, start: Int, end: Int) {
        var cursor = start
        for event in events {
            switch event {
            case .record(let offset, let h, let payload):
                precondition(offset == cursor, "record at \(offset), expected \(cursor)")
                precondition(h.payloadOffset == offset + FormatConstants.recordHeaderSize)
                precondition(h.nextOffset == offset + RecordFrame.size(payloadCount: h.length))
                precondition(h.nextOffset <= end, "record runs past the end of the file")
                precondition(payload.count == h.length)
                precondition(data[h.payloadOffset..<(h.payloadOffset + h.length)].elementsEqual(payload))
                let redecoded = data.withUnsafeBytes {
                    RecordFrame.decode(UnsafeRawBufferPointer(rebasing: $0[..<end]), at: offset, seed: seed)
                }
                guard case .record(let h2) = redecoded, h2 == h else {
                    preconditionFailure("a reported record does not decode in place: \(redecoded)")
                }
                cursor = h.nextOffset
            case .gap(let gap):
                precondition(gap.start == cursor, "gap at \(gap.start), expected \(cursor)")
                precondition(gap.end > gap.start && gap.end <= end, "gap \(gap.start)..<\(gap.end) of \(end)")
                if gap.allZeros {
                    precondition(data[gap.start..<gap.end].allSatisfy { $0 == 0 }, "a gap said to be zeros is not")
                }
                cursor = gap.end
            }
        }
        precondition(cursor == max(start, end), "events end at \(cursor), file at \(end)")
    }

    // MARK: - File headers

    /// `FileHeader.decode`; a header that decodes must encode back to the first 64 bytes.
    public static func fileHeader(_ data: [UInt8]) {
        let data = data.count > maxInput ? Array(data.prefix(maxInput)) : data
        let size = FormatConstants.fileHeaderSize
        let header: FileHeader
        do {
            header = try FileHeader.decode(data, path: "fuzz")
        } catch let error as StoreError {
            precondition(error.code == .corrupted || error.code == .unsupportedVersion, "unexpected error \(error)")
            if data.count > size {
                // Only the first 64 bytes count.
                precondition((try? FileHeader.decode(Array(data.prefix(size)))) == nil)
            }
            return
        } catch {
            preconditionFailure("FileHeader.decode threw a non-StoreError: \(error)")
        }
        precondition(data.count >= size)
        let encoded = header.encode()
        precondition(encoded.count == size, "encode wrote \(encoded.count) bytes")
        precondition(encoded[...].elementsEqual(data.prefix(size)), "encode does not give back the decoded bytes")
        precondition((try? FileHeader.decode(encoded)) == header, "encoded header decodes differently")
    }
}
