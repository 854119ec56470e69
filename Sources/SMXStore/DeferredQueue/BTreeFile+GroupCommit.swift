/// Group commit for the B+tree file: callers hand over their changes and wait; one thread
/// runs everything that arrived while the previous commit synced in a single write
/// transaction, commits it once, and wakes every caller. Each caller's changes run
/// together and in order, so a caller sees them all or nothing; callers in one commit
/// share its transaction id.
///
/// A caller's changes are either operations (``BTreeFile/apply(_:)``, checked for tree
/// name, key and value sizes before they are queued) or a closure
/// (``BTreeFile/commit(_:)``) that may read what earlier callers in the same transaction
/// wrote. A closure that throws fails
/// the whole commit, every caller in it, and nothing is written: callers check their
/// arguments before they queue, so only damaged pages and I/O failures throw there.
public enum BTreeOperation: Sendable, Equatable {
    case put(tree: String, key: [UInt8], value: [UInt8])
    case delete(tree: String, key: [UInt8])
}

final class GroupCommitter: @unchecked Sendable {
    /// One caller's share of a commit: runs its changes, then is told the outcome.
    private struct Entry {
        var run: (WriteTransaction) throws -> Void
        var finish: (Result<UInt64, any Error>) -> Void
    }

    private let condition = ConditionLock()
    private var queue: [Entry] = []
    private var stopping = false
    private var thread: SyncThread?
    private unowned let file: BTreeFile

    init(file: BTreeFile) {
        self.file = file
        let thread = SyncThread(name: "smx-defedb-sync") { [unowned self] in run() }
        self.thread = thread
        thread.start()
    }

    /// Queues `body` for the next commit; returns its result once the commit is durable.
    func submit<R: Sendable>(_ body: @escaping @Sendable (WriteTransaction) throws -> R) async throws -> (R, UInt64) {
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<(R, UInt64), any Error>) in
            // Written by the commit thread before `finish`, read only in `finish`.
            let result = ResultBox<R>()
            let entry = Entry(
                run: { txn in result.value = try body(txn) },
                finish: { outcome in
                    switch outcome {
                    case .success(let txid): continuation.resume(returning: (result.value!, txid))
                    case .failure(let error): continuation.resume(throwing: error)
                    }
                }
            )
            condition.withLock {
                if stopping {
                    continuation.resume(throwing: StoreError(.closed, "deferred queue file is closed", path: file.configuration.path))
                    return
                }
                queue.append(entry)
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
                    for entry in batch { try entry.run(txn) }
                    return txn.txid
                }
                for entry in batch { entry.finish(.success(txid)) }
            } catch {
                for entry in batch { entry.finish(.failure(error)) }
            }
        }
    }
}

/// A value handed from the commit thread to the waiting caller.
private final class ResultBox<R>: @unchecked Sendable {
    var value: R?
}

extension BTreeFile {
    /// Applies `operations` durably, in one commit with whatever other callers submitted
    /// meanwhile; returns the id of the transaction that committed them.
    @discardableResult
    public func apply(_ operations: [BTreeOperation]) async throws -> UInt64 {
        for operation in operations {
            try WriteTransaction.check(operation, pageSize: pageSize, path: configuration.path)
        }
        return try await committer().submit { txn in
            for operation in operations { try txn.apply(operation) }
        }.1
    }

    /// Runs `body` in the next group commit (after the changes of callers queued before
    /// it, in the same transaction) and returns its result once the commit is durable,
    /// with the committing transaction's id. If `body` or any other caller's changes
    /// throw, or the commit fails, every caller of that commit gets the error and nothing
    /// is written. Check arguments before calling: `body` should throw only for damage.
    public func commit<R: Sendable>(_ body: @escaping @Sendable (WriteTransaction) throws -> R) async throws -> (result: R, txid: UInt64) {
        let (result, txid) = try await committer().submit(body)
        return (result, txid)
    }
}
