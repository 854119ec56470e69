/// Receives one body as it arrives (SMTP DATA) and stores it. Not thread-safe: one task
/// uses a writer at a time.
///
/// Chunks are compressed and framed as they fill. A body that stays within the store's
/// large-body threshold is held in memory (compressed) until ``finish()``; once it grows
/// past it, the writer creates `large-<ID>.tmp` and streams every further chunk there, so
/// a 50 MB body never sits whole in memory. File work runs on the store's I/O threads,
/// never on the caller's.
///
/// ``finish()`` returns the body's ``ContentReference`` (id, size, checksum) and queues it
/// for the flusher; it is durable once ``ContentStore/waitDurable(_:)`` returns. A writer
/// neither finished nor aborted leaves no trace but a `.tmp` file, which recovery removes.
public final class ContentWriter: @unchecked Sendable {
    public let id: ContentID
    private let store: ContentStore
    private var encoder: BlobEncoder
    private var large: LargeFileState?
    private var done = false

    /// Spill granularity of a large body: frames are written in pieces of about this size.
    static let spillBytes = 1 << 20

    private final class LargeFileState: @unchecked Sendable {
        let handle: any FileHandle
        let number: UInt64
        var offset = LargeBodyFile.firstChunkOffset

        init(handle: any FileHandle, number: UInt64) {
            self.handle = handle
            self.number = number
        }
    }

    init(store: ContentStore, id: ContentID, hint: CompressionHint) {
        self.store = store
        self.id = id
        self.encoder = BlobEncoder(
            contentID: id, chunkSize: store.configuration.chunkSize, compression: store.compression, hint: hint
        )
    }

    /// Raw bytes appended so far.
    public var rawLength: UInt64 { encoder.rawLength }

    public func append(_ bytes: [UInt8]) async throws {
        try checkOpen()
        encoder.append(bytes)
        try await spillIfNeeded()
    }

    public func append(_ bytes: ArraySlice<UInt8>) async throws {
        try checkOpen()
        bytes.withUnsafeBytes { encoder.append($0) }
        try await spillIfNeeded()
    }

    /// Completes the body and queues it for the flusher. Not yet durable: pass the result
    /// to ``ContentStore/waitDurable(_:)`` (or ``IncomingLog/commit(_:bodies:in:)``).
    public func finish() async throws -> StoredContent {
        try checkOpen()
        done = true
        encoder.finishChunks()
        do {
            if large != nil || encoder.rawLength > UInt64(store.configuration.largeBodyThreshold) {
                return try await finishLarge()
            }
            let bytes = encoder.takeBytes()
            let header = encoder.header(storedLength: bytes.count - BlobFormat.headerSize, commitBatch: 0)
            let sequence = try await store.enqueueBlob(header: header, bytes: bytes)
            return StoredContent(
                reference: ContentReference(id: id, size: header.rawLength, checksum: header.bodyChecksum),
                storedBytes: bytes.count, isLargeFile: false, sequence: sequence
            )
        } catch {
            abort()
            throw error
        }
    }

    /// Discards the body (RSET, a dropped connection, a rejected message). Safe to call
    /// more than once and after a failed ``finish()``.
    public func abort() {
        done = true
        guard let large else { return }
        self.large = nil
        try? large.handle.close()
        try? store.fileSystem.removeFile(store.path(LargeBodyFile.temporaryName(id)))
    }

    private func checkOpen() throws {
        if done { throw StoreError(.invalidArgument, "content writer \(id) is finished") }
    }

    private func spillIfNeeded() async throws {
        if large == nil {
            guard encoder.rawLength > UInt64(store.configuration.largeBodyThreshold) else { return }
            let number = store.allocateSegmentNumber()
            let path = store.path(LargeBodyFile.temporaryName(id))
            let header = FileHeader(
                kind: .contentLargeBody, queueID: store.configuration.queueID, segmentNumber: number,
                createdMicros: wallClockMicros()
            )
            let fileSystem = store.fileSystem
            let handle = try await store.runIO {
                let handle = try fileSystem.openFile(path, mode: .createNew)
                do {
                    try handle.write(header.encode() + [UInt8](repeating: 0, count: BlobFormat.headerSize), at: 0)
                } catch {
                    try? handle.close()
                    try? fileSystem.removeFile(path)
                    throw error
                }
                return handle
            }
            large = LargeFileState(handle: handle, number: number)
        }
        if encoder.heldFrameBytes >= Self.spillBytes { try await spill() }
    }

    private func spill() async throws {
        guard let large else { return }
        let frames = encoder.takeFrames()
        guard !frames.isEmpty else { return }
        let offset = large.offset
        let handle = large.handle
        try await store.runIO { try handle.write(frames, at: offset) }
        large.offset += frames.count
    }

    private func finishLarge() async throws -> StoredContent {
        if large == nil { try await spillIfNeeded() }
        try await spill()
        guard let large else { throw StoreError(.closed, "large body file of \(id) is gone") }
        let storedLength = large.offset - LargeBodyFile.firstChunkOffset
        let header = encoder.header(storedLength: storedLength, commitBatch: 0)
        let bytes = header.encode(seed: large.number)
        let handle = large.handle
        try await store.runIO { try handle.write(bytes, at: LargeBodyFile.blobOffset) }
        let sequence = try store.enqueueLarge(LargeWrite(
            id: id, handle: handle, number: large.number, extent: header.extent,
            rawLength: header.rawLength, bodyChecksum: header.bodyChecksum, sequence: 0
        ))
        // The flusher owns the file now.
        self.large = nil
        return StoredContent(
            reference: ContentReference(id: id, size: header.rawLength, checksum: header.bodyChecksum),
            storedBytes: header.extent, isLargeFile: true, sequence: sequence
        )
    }
}

extension ContentStore {
    /// Runs blocking file work on the store's I/O threads.
    func runIO<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        guard let io else { throw StoreError(.invalidArgument, "content store is open read-only", path: configuration.directory) }
        return try await io.run(work)
    }

    func allocateSegmentNumber() -> UInt64 {
        condition.withLock {
            let number = nextSegmentNumber
            nextSegmentNumber += 1
            return number
        }
    }
}
