/// Group commit for the B+tree file: callers hand over their changes as operations and
/// wait; one thread applies everything that arrived while the previous commit synced in a
/// single write transaction, commits it with one sync pair (pages, then meta), and wakes
/// every caller. Each caller's operations are applied together and in order, so a caller
/// sees its changes all or nothing; they may share a transaction id with others'.
///
/// Operations are checked (key and value sizes) before they are queued, so only an I/O
/// failure can fail a commit, and then it fails every caller in it (rule 6).
public enum BTreeOperation: Sendable, Equatable {
    case put(tree: String, key: [UInt8], value: [UInt8])
    case delete(tree: String, key: [UInt8])
}

final class GroupCommitter: @unchecked Sendable {
    private let condition = ConditionLock()
    private var queue: [(operations: [BTreeOperation], continuation: UnsafeContinuation<UInt64, any Error>)] = []
    private var stopping = false
    private var thread: SyncThread?
    private unowned let file: BTreeFile

    init(file: BTreeFile) {
        self.file = file
        let thread = SyncThread(name: "smx-defedb-sync") { [unowned self] in run() }
        self.thread = thread
        thread.start()
    }

    func submit(_ operations: [BTreeOperation]) async throws -> UInt64 {
        try await withUnsafeThrowingContinuation { continuation in
            condition.withLock {
                if stopping {
                    continuation.resume(throwing: StoreError(.closed, "deferred queue file is closed", path: file.configuration.path))
                    return
                }
                queue.append((operations, continuation))
                condition.signal()
            }
        }
    }

    func stop() {
        condition.withLock {
            stopping = true
            condition.broadcast()
        }
        thread?.join()
        thread = nil
    }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if queue.isEmpty {
                condition.unlock()
                return
            }
            let batch = queue
            queue = []
            condition.unlock()
            do {
                let txid = try file.write { txn -> UInt64 in
                    for entry in batch {
                        for operation in entry.operations {
                            switch operation {
                            case .put(let tree, let key, let value): try txn.put(key, value, in: tree)
                            case .delete(let tree, let key): try txn.delete(key, in: tree)
                            }
                        }
                    }
                    return txn.txid
                }
                for entry in batch { entry.continuation.resume(returning: txid) }
            } catch {
                for entry in batch { entry.continuation.resume(throwing: error) }
            }
        }
    }
}

extension BTreeFile {
    /// Applies `operations` durably, in one commit with whatever other callers submitted
    /// meanwhile; returns the id of the transaction that committed them.
    @discardableResult
    public func apply(_ operations: [BTreeOperation]) async throws -> UInt64 {
        let maxKey = BTree.maxKeySize(pageSize: pageSize)
        for operation in operations {
            switch operation {
            case .put(_, let key, let value):
                guard key.count <= maxKey, value.count < Int(Page.overflowFlag) else {
                    throw StoreError(.invalidArgument, "key of \(key.count) or value of \(value.count) bytes is too large", path: configuration.path)
                }
            case .delete(_, let key):
                guard key.count <= maxKey else {
                    throw StoreError(.invalidArgument, "key of \(key.count) bytes is too large", path: configuration.path)
                }
            }
        }
        return try await committer().submit(operations)

    }
}
