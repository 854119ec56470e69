/// Streams one body back, verifying each chunk's checksum as it goes and the whole body's
/// checksum at the end. For delivery agents; reads are positional and block the calling
/// thread (run them off Swift's cooperative pool, e.g. on a NIO thread pool).
///
/// A reader keeps the segment it reads from alive: compaction may copy the body elsewhere
/// meanwhile, but the old slot is not reused until every reader of it is closed. Close
/// readers promptly (``close()``, or let the reader go).
///
/// Every failure names the file, the offset and the content id: a ``StoreError`` with code
/// `corrupted` for bytes that do not verify, `io` for a failed read.
public final class ContentReader: @unchecked Sendable {
    public let id: ContentID
    public let rawLength: UInt64
    public let bodyChecksum: UInt64
    let path: String
    private let handle: any FileHandle
    private let ownsHandle: Bool
    private let header: BlobHeader
    private let blobEnd: Int
    private let compression: ChunkCompression
    private var release: (() -> Void)?

    private var nextChunk = 0
    private var position: Int
    private var window: [UInt8] = []
    private var windowStart = 0
    private var chunk: [UInt8] = []
    private var chunkOffset = 0
    private var delivered: UInt64 = 0
    private let checksum = StreamingChecksum()
    /// False once a chunk was skipped (random access): the body checksum cannot be checked.
    private var checksumUsable = true

    /// Bytes read ahead from the file at a time.
    static let windowBytes = 1 << 20

    init(
        id: ContentID,
        location: BlobLocation,
        path: String,
        handle: any FileHandle,
        ownsHandle: Bool,
        compression: ChunkCompression,
        release: (() -> Void)?
    ) throws {
        self.id = id
        self.path = path
        self.handle = handle
        self.ownsHandle = ownsHandle
        self.compression = compression
        self.release = release
        self.rawLength = location.rawLength
        self.bodyChecksum = location.bodyChecksum
        self.blobEnd = location.offset + location.extent
        self.position = location.offset + BlobFormat.headerSize
        do {
            let headerBytes: [UInt8]
            do {
                headerBytes = try handle.read(at: location.offset, count: BlobFormat.headerSize)
            } catch {
                throw StoreError(.io, "reading content \(id) at offset \(location.offset)", path: path, cause: error as? StoreError)
            }
            let decoded = headerBytes.withUnsafeBytes { BlobHeader.decode($0, at: 0, seed: location.seed) }
            switch decoded {
            case .failure(let problem):
                throw Self.corrupted(id, path: path, offset: location.offset, problem.description)
            case .success(let h):
                guard h.kind == .body, h.contentID == id, h.rawLength == location.rawLength,
                      h.bodyChecksum == location.bodyChecksum, h.extent == location.extent
                else {
                    throw Self.corrupted(id, path: path, offset: location.offset, "blob header names another body")
                }
                header = h
            }
        } catch {
            release?()
            self.release = nil
            if ownsHandle { try? handle.close() }
            throw error
        }
    }

    deinit { close() }

    /// Stops reading and lets the store reuse the space once nobody else reads it.
    public func close() {
        release?()
        release = nil
        if ownsHandle { try? handle.close() }
    }

    /// Up to `maxCount` next bytes of the body; empty at the end.
    public func read(maxCount: Int) throws -> [UInt8] {
        precondition(maxCount > 0, "maxCount must be positive")
        var out: [UInt8] = []
        while out.count < maxCount {
            if chunkOffset == chunk.count {
                guard try decodeNextChunk() else { break }
            }
            let take = min(maxCount - out.count, chunk.count - chunkOffset)
            out.append(contentsOf: chunk[chunkOffset..<(chunkOffset + take)])
            chunkOffset += take
        }
        return out
    }

    /// The next chunk's bytes, or nil at the end.
    public func readChunk() throws -> [UInt8]? {
        if chunkOffset == chunk.count {
            guard try decodeNextChunk() else { return nil }
        }
        let rest = Array(chunk[chunkOffset...])
        chunkOffset = chunk.count
        return rest
    }

    /// The rest of the body.
    public func readAll() throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Int(min(rawLength - min(rawLength, delivered), 16 << 20)) + chunk.count)
        while let piece = try readChunk() { out.append(contentsOf: piece) }
        return out
    }

    /// Moves to raw offset `offset` (any byte), skipping whole chunks by their frame headers
    /// without decoding them (their checksums are not checked, and the body checksum is not
    /// checked at the end). Only forward.
    public func skip(to offset: UInt64) throws {
        let size = UInt64(header.chunkSize)
        let target = min(offset, rawLength)
        let currentStart = delivered - UInt64(chunk.count)
        if target >= currentStart && target <= delivered && !chunk.isEmpty {
            chunkOffset = Int(target - currentStart)
            return
        }
        precondition(target >= delivered, "ContentReader only moves forward")
        while UInt64(nextChunk) < UInt64(header.chunkCount), UInt64(nextChunk + 1) * size <= target {
            let head = try readFrame(minimum: BlobFormat.chunkHeaderSize)
            let stored = head.bytes.withUnsafeBytes { Int(LittleEndian.u32($0, head.start + 8)) }
            guard stored <= BlobFormat.maxChunkSize, position + BlobFormat.chunkFrameSize(storedCount: stored) <= blobEnd else {
                throw Self.corrupted(id, path: path, offset: position, "chunk \(nextChunk) frame length \(stored)")
            }
            position += BlobFormat.chunkFrameSize(storedCount: stored)
            delivered += UInt64(header.rawLength(ofChunk: nextChunk))
            nextChunk += 1
            checksumUsable = false
        }
        chunk = []
        chunkOffset = 0
        if delivered < target, try decodeNextChunk() {
            chunkOffset = Int(target - (delivered - UInt64(chunk.count)))
        }
    }

    private func decodeNextChunk() throws -> Bool {
        guard nextChunk < Int(header.chunkCount) else {
            if position != blobEnd {
                throw Self.corrupted(id, path: path, offset: position, "chunks end before the blob does")
            }
            if checksumUsable && checksum.digest() != bodyChecksum {
                throw Self.corrupted(id, path: path, offset: blobEnd, "body checksum mismatch")
            }
            chunk = []
            chunkOffset = 0
            return false
        }
        let frameStart = position
        let head = try readFrame(minimum: min(blobEnd - position, BlobFormat.chunkHeaderSize + BlobFormat.maxChunkSize + 8))
        let rawCount = header.rawLength(ofChunk: nextChunk)
        if chunk.count != rawCount { chunk = [UInt8](repeating: 0, count: rawCount) }
        let header = self.header
        let index = nextChunk
        let compression = self.compression
        let result = head.bytes.withUnsafeBytes { p in
            chunk.withUnsafeMutableBytes { out in
                BlobDecoder.decodeChunk(p, at: head.start, index: index, of: header, compression: compression, into: out)
            }
        }
        switch result {
        case .failure(let problem):
            throw Self.corrupted(id, path: path, offset: frameStart, problem.description)
        case .success(let frame):
            position += frame.frameSize
            guard position <= blobEnd else {
                throw Self.corrupted(id, path: path, offset: frameStart, "chunk \(index) runs past the blob")
            }
        }
        chunk.withUnsafeBytes { checksum.update($0) }
        delivered += UInt64(rawCount)
        nextChunk += 1
        chunkOffset = 0
        return true
    }

    /// The window holding at least `minimum` bytes from `position` (fewer only at the end
    /// of the blob), refilled from the file when needed.
    private func readFrame(minimum: Int) throws -> (bytes: [UInt8], start: Int) {
        let need = min(minimum, blobEnd - position)
        if position < windowStart || position + need > windowStart + window.count {
            let count = min(blobEnd - position, max(Self.windowBytes, need))
            do {
                window = try handle.read(at: position, count: count)
            } catch {
                throw StoreError(.io, "reading content \(id) at offset \(position)", path: path, cause: error as? StoreError)
            }
            windowStart = position
            guard window.count >= need else {
                throw Self.corrupted(id, path: path, offset: position + window.count, "file ends inside the blob")
            }
        }
        return (window, position - windowStart)
    }

    static func corrupted(_ id: ContentID, path: String, offset: Int, _ what: String) -> StoreError {
        StoreError(.corrupted, "content \(id) at offset \(offset): \(what)", path: path)
    }
}

extension ContentStore {
    /// A streaming reader for a live body. Throws `notFound` for an unknown or released id.
    public func openReader(_ id: ContentID) throws -> ContentReader {
        let (location, segment): (BlobLocation, ContentSegment?) = try condition.withLock {
            guard let location = index[id] else {
                throw StoreError(.notFound, "no content \(id)", path: configuration.directory)
            }
            if location.isLargeFile { return (location, nil) }
            guard let segment = segments[location.slot], segment.handle != nil else {
                throw StoreError(.notFound, "content \(id) is in a closed segment", path: configuration.directory)
            }
            segment.pins += 1
            return (location, segment)
        }
        if let segment, let handle = segment.handle {
            return try ContentReader(
                id: id, location: location, path: segment.path, handle: handle, ownsHandle: false,
                compression: readCompression, release: { [weak self] in self?.unpin(segment) }
            )
        }
        let filePath = path(LargeBodyFile.name(id))
        let handle = try fileSystem.openFile(filePath, mode: .readOnly)
        return try ContentReader(
            id: id, location: location, path: filePath, handle: handle, ownsHandle: true,
            compression: readCompression, release: nil
        )
    }

    /// The whole body, verified.
    public func read(_ id: ContentID) throws -> [UInt8] {
        let reader = try openReader(id)
        defer { reader.close() }
        return try reader.readAll()
    }

    /// Bytes `range` of the body (clamped to its length), decoding only the chunks that
    /// hold them; each is verified against its checksum.
    public func read(_ id: ContentID, range: Range<UInt64>) throws -> [UInt8] {
        let reader = try openReader(id)
        defer { reader.close() }
        let upper = min(range.upperBound, reader.rawLength)
        guard range.lowerBound < upper else { return [] }
        try reader.skip(to: range.lowerBound)
        var out: [UInt8] = []
        out.reserveCapacity(Int(upper - range.lowerBound))
        while UInt64(out.count) < upper - range.lowerBound {
            let piece = try reader.read(maxCount: Int(upper - range.lowerBound) - out.count)
            if piece.isEmpty { break }
            out.append(contentsOf: piece)
        }
        return out
    }

    func unpin(_ segment: ContentSegment) {
        condition.withLock {
            segment.pins -= 1
            if segment.pins == 0, segment.state == .sealed, segment.liveBytes == 0 {
                housekeepingRequested = true
                condition.signal()
            }
        }
    }
}
