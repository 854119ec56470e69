import SMXStore

/// Measurements of the disk itself, taken in the same run as the engine's numbers so that
/// reports can give same-run ratios (absolute figures drift between runs and machines).
enum SyncMeasurement {
    /// Latency of one 4 KiB positional write plus `fdatasync`, appended at increasing
    /// offsets into a file preallocated with `fallocate` (as the log's segments are).
    /// `warmUp` extra samples run first and are not counted.
    static func appendLatency(
        directory: String,
        samples: Int,
        warmUp: Int = 10,
        blockSize: Int = 4096
    ) throws -> [UInt64] {
        let path = Path.join(directory, "fsync-probe")
        let handle = try preallocatedFile(path, bytes: (samples + warmUp) * blockSize)
        defer { try? handle.close() }
        let block = [UInt8](repeating: 0xA5, count: blockSize)
        var latencies: [UInt64] = []
        latencies.reserveCapacity(samples)
        try block.withUnsafeBytes { bytes in
            for i in 0..<(samples + warmUp) {
                let start = monotonicNanos()
                try handle.write(bytes, at: i * blockSize)
                try handle.sync()
                let elapsed = monotonicNanos() - start
                if i >= warmUp { latencies.append(elapsed) }
            }
        }
        try fileSystem.removeFile(path)
        return latencies
    }

    /// The append-latency probe spread over a run in slices (one before each phase), because
    /// a shared disk drifts: the pooled median is the run's figure, the slices show drift.
    struct SpreadProbe {
        let directory: String
        let samplesPerSlice: Int
        private(set) var samples: [UInt64] = []
        private(set) var slices: [(name: String, summary: LatencySummary)] = []

        init(directory: String, totalSamples: Int, slices: Int) {
            self.directory = directory
            samplesPerSlice = max(1, (totalSamples + max(1, slices) - 1) / max(1, slices))
        }

        mutating func measure(_ name: String) throws {
            let slice = try SyncMeasurement.appendLatency(directory: directory, samples: samplesPerSlice)
            samples += slice
            slices.append((name, LatencySummary(nanoseconds: slice)))
        }

        var summary: LatencySummary { LatencySummary(nanoseconds: samples) }
    }

    struct SingleWriter {
        var commits: Int
        var seconds: Double
        var latency: LatencySummary
        var commitsPerSecond: Double { Double(commits) / seconds }
    }

    /// The "no group commit" baseline: one writer frames `payload` as the log would (header,
    /// checksum, padding), writes it at the next offset of a preallocated file and calls
    /// `fdatasync`, once per commit, for the window's duration. Wraps to the start if the
    /// file fills up.
    static func singleWriter(
        directory: String,
        payload: [UInt8],
        window: Window,
        fileBytes: Int = 64 << 20
    ) throws -> SingleWriter {
        let path = Path.join(directory, "baseline.log")
        let handle = try preallocatedFile(path, bytes: fileBytes)
        defer { try? handle.close() }
        var frame: [UInt8] = []
        frame.reserveCapacity(RecordFrame.size(payloadCount: payload.count))
        var offset = FormatConstants.fileHeaderSize
        var sequence: UInt64 = 0
        var commits = 0
        var latencies: [UInt64] = []
        latencies.reserveCapacity(1 << 16)
        while true {
            let start = monotonicNanos()
            if start >= window.end { break }
            sequence += 1
            frame.removeAll(keepingCapacity: true)
            RecordFrame.append(
                to: &frame, type: LogRecordType.transaction.rawValue, flags: RecordFrame.flagBatchEnd,
                sequence: sequence, payload: payload, seed: 1
            )
            if offset + frame.count > fileBytes { offset = FormatConstants.fileHeaderSize }
            try frame.withUnsafeBytes { try handle.write($0, at: offset) }
            try handle.sync()
            offset += frame.count
            let end = monotonicNanos()
            if start >= window.measureStart { latencies.append(end - start) }
            if window.counts(completedAt: end) { commits += 1 }
        }
        try fileSystem.removeFile(path)
        return SingleWriter(commits: commits, seconds: window.seconds, latency: LatencySummary(nanoseconds: latencies))
    }

    /// Creates a file, reserves `bytes` with `fallocate` and makes that durable, so the
    /// measured syncs flush data (and extent conversion), not file growth.
    static func preallocatedFile(_ path: String, bytes: Int) throws -> any FileHandle {
        let handle = try fileSystem.openFile(path, mode: .createNew)
        do {
            try handle.allocate(offset: 0, length: bytes)
            try handle.fullSync()
            try fileSystem.syncDirectory(Path.directory(of: path))
        } catch {
            try? handle.close()
            throw error
        }
        return handle
    }
}
