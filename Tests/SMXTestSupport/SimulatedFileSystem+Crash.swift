/// What a simulated power loss does to the operations that were not durable yet. Every
/// mode is deterministic for a given seed; synced data and synced directory entries always
/// survive.
public enum CrashMode: String, CaseIterable, Sendable {
    /// Every pending operation is lost: each file keeps its durable bytes, each directory
    /// its durable entries.
    case dropAllUnsynced
    /// Each pending file operation is independently kept (applied, in order) or dropped,
    /// with probability 1/2; each directory keeps a random-length prefix of its pending
    /// entry operations (metadata is journaled in order).
    case keepSome
    /// Each pending write is cut at the 512-byte sector boundaries of the file offset and
    /// each piece is independently kept, dropped or replaced by random garbage (1/3 each);
    /// each pending truncate and allocate is kept with probability 1/2; directories as in
    /// ``keepSome``.
    case tear
}

/// The complete state of a ``SimulatedFileSystem`` at one moment: every file's durable
/// bytes and pending operations, every directory's durable entries and pending operations,
/// and the device settings (``SimulatedFileSystem/capacityBytes``,
/// ``SimulatedFileSystem/syncDelayMicroseconds``). An immutable value, cheap to take and to
/// keep (it shares pages with the file system until either changes them). Open handles,
/// locks, faults, the hook and the counters are not part of it.
public struct SimulatedImage: Sendable {
    let disk: SimulatedDisk
    let capacityBytes: Int?
    let syncDelayMicroseconds: Int

    /// The file system's ``SimulatedFileSystem/operationCount`` when the image was taken.
    /// An operation is counted before its hook runs, so an image taken in the hook of the
    /// operation with index `i` says `i + 1` (without concurrent operations), while the
    /// operation itself is not applied in it.
    public let operationCount: Int
}

extension SimulatedFileSystem {
    /// Captures the current state, durable and pending, in O(1); later operations do not
    /// change the image. Works after ``powerOff()`` too.
    public func snapshot() -> SimulatedImage {
        state.withLock { state in
            SimulatedImage(
                disk: state.disk,
                capacityBytes: state.capacityBytes,
                syncDelayMicroseconds: state.syncDelayMicroseconds,
                operationCount: state.operationCount)
        }
    }

    /// A new file system holding what survives a power loss at the moment `image` was
    /// taken, under `mode`, deterministically from `seed`. In it everything is durable (no
    /// pending operations), files and directories no longer reachable from `/` are gone,
    /// and there are no open handles, locks, faults, hook or power-off; counters start at 0.
    /// It keeps the image's ``capacityBytes`` and ``syncDelayMicroseconds`` (properties of
    /// the device). The image is not changed.
    public static func restore(
        _ image: SimulatedImage, crash mode: CrashMode, seed: UInt64
    ) -> SimulatedFileSystem {
        var state = SimulatedState()
        state.disk = CrashSimulator.survivors(of: image.disk, mode: mode, seed: seed)
        state.capacityBytes = image.capacityBytes
        state.syncDelayMicroseconds = image.syncDelayMicroseconds
        state.usedBytes = state.disk.inodes.values.reduce(0) { $0 + $1.current.count }
        return SimulatedFileSystem(seed: seed, state: state)
    }

    /// `restore(snapshot(), crash: mode, seed: seed)`: what a power loss now would leave.
    /// This file system is not changed and keeps working (call ``powerOff()`` to stop it).
    public func crash(mode: CrashMode, seed: UInt64) -> SimulatedFileSystem {
        Self.restore(snapshot(), crash: mode, seed: seed)
    }

    /// Cuts the power: from now on every ``FileSystem`` call and every call on this file
    /// system's handles throws ``StoreError/Code/io`` ("simulated power loss", errno EIO),
    /// and nothing changes any more (lock release aside). Snapshots, crashes and the
    /// inspection methods keep working. Operations already past their power check finish.
    public func powerOff() {
        state.withLock { $0.poweredOff = true }
    }

    /// Whether ``powerOff()`` was called.
    public var isPoweredOff: Bool {
        state.withLock { $0.poweredOff }
    }
}

/// Computes what survives a power loss.
enum CrashSimulator {
    static let sectorSize = 512
    static let directoryStream: UInt64 = 1
    static let fileStream: UInt64 = 2

    static func survivors(of disk: SimulatedDisk, mode: CrashMode, seed: UInt64) -> SimulatedDisk {
        var result = SimulatedDisk()
        result.directories = [:]
        result.nextInodeID = disk.nextInodeID
        result.nextDirectoryID = disk.nextDirectoryID

        // Directories first, from the root down: only what the surviving entries reach stays.
        var links: [Int: Int] = [:]
        var visit = [SimulatedDisk.rootID]
        var visited: Set<Int> = [SimulatedDisk.rootID]
        while let id = visit.popLast() {
            guard let directory = disk.directories[id] else { continue }
            var entries = directory.durable
            if mode != .dropAllUnsynced && !directory.pending.isEmpty {
                var random = SplitMix64(seed: seed, stream: directoryStream, id: id)
                let kept = random.below(directory.pending.count + 1)
                for operation in directory.pending.prefix(kept) { operation.apply(to: &entries) }
            }
            for entry in entries.values {
                switch entry {
                case .file(let inode):
                    links[inode, default: 0] += 1
                case .directory(let child):
                    if visited.insert(child).inserted { visit.append(child) }
                }
            }
            result.directories[id] = SimulatedDirectory(durable: entries, current: entries, pending: [])
        }

        for (id, count) in links {
            guard let inode = disk.inodes[id] else { continue }
            let bytes = survivingBytes(of: inode, mode: mode, seed: seed, id: id)
            result.inodes[id] = SimulatedInode(durable: bytes, current: bytes, links: count)
        }
        return result
    }

    static func survivingBytes(of inode: SimulatedInode, mode: CrashMode, seed: UInt64, id: Int) -> PagedBytes {
        var bytes = inode.durable
        if inode.pending.isEmpty { return bytes }
        var random = SplitMix64(seed: seed, stream: fileStream, id: id)
        switch mode {
        case .dropAllUnsynced:
            break
        case .keepSome:
            for operation in inode.pending where random.coin() {
                bytes.apply(operation)
            }
        case .tear:
            for operation in inode.pending {
                guard case .write(let offset, let data) = operation else {
                    if random.coin() { bytes.apply(operation) }
                    continue
                }
                var start = offset
                let end = offset + data.count
                while start < end {
                    let pieceEnd = min((start / sectorSize + 1) * sectorSize, end)
                    switch random.below(3) {
                    case 0:
                        bytes.write(data[(start - offset)..<(pieceEnd - offset)], at: start)
                    case 1:
                        break
                    default:
                        bytes.write(random.bytes(pieceEnd - start), at: start)
                    }
                    start = pieceEnd
                }
            }
        }
        return bytes
    }
}

extension SimulatedImage {
    /// The pending (not yet durable) operations on the file at `path` in this image, one
    /// line each: for debugging a crash test that failed.
    public func pendingOperations(_ path: String) -> [String] {
        guard case .file(let id)? = disk.lookup(SimulatedDisk.components(of: path)),
              let inode = disk.inodes[id] else { return ["no such file"] }
        return inode.pending.map { operation in
            switch operation {
            case .write(let offset, let bytes): "write \(offset)..<\(offset + bytes.count)"
            case .truncate(let size): "truncate \(size)"
            case .allocate(let offset, let length): "allocate \(offset)+\(length)"
            }
        }
    }
}
