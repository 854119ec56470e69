import Logging

/// The deferred queue (the seed's DEFEDB): every envelope not delivered at first try, as
/// records and indexes in one ``BTreeFile`` at `<queue>/defedb/queue.db`.
///
/// Trees (``DeferredQueueSchema``): transactions by envelope id, recipients by (envelope
/// id, index), the next-try index the scheduler and ``NextTryCache`` read in due order,
/// the destination index ("a connection to this site works again", ETRN), and the hold
/// set.
///
/// **Writing.** ``apply(_:)`` checks a list of ``DeferredQueueChange``s, then runs them in
/// the file's next group commit, each reading the records it changes inside the commit's
/// transaction and keeping every index and counter consistent with them. It returns once
/// the commit is durable (pages synced, then the meta page synced): an acknowledged change
/// survives a crash, and a crash before the acknowledgement leaves all of the commit or
/// none of it. Rule 3 (deferred before incoming) is the caller's: mark a recipient moved
/// in the incoming log only after `apply` returned. A failed sync fails every change in
/// the commit and poisons the file until it is reopened (rule 6).
///
/// **Reading.** ``reader()`` pins the newest committed state; any number of readers run
/// while changes commit. The queue itself is a ``NextTrySource``: each refill reads a
/// fresh snapshot.
///
/// **Lifetime.** Open one per queue in the process that holds the queue's lock; ``close()``
/// waits for queued commits.
public final class DeferredQueue: Sendable {
    public let file: BTreeFile

    private init(file: BTreeFile) {
        self.file = file
    }

    /// Opens (creating when missing, unless read-only) the B+tree file the configuration
    /// names. The schema needs no set-up: a tree exists once it has a key.
    public static func open(
        fileSystem: any FileSystem,
        configuration: BTreeFile.Configuration,
        logger: Logger = Logger(label: "smx.defedb", factory: { _ in SwiftLogNoOpLogHandler() })
    ) throws -> DeferredQueue {
        DeferredQueue(file: try BTreeFile.open(fileSystem: fileSystem, configuration: configuration, logger: logger))
    }

    /// Opens `<queue>/defedb/queue.db` of the queue directory `queue`.
    public static func open(
        fileSystem: any FileSystem,
        queue: String,
        queueID: QueueID,
        readOnly: Bool = false,
        logger: Logger = Logger(label: "smx.defedb", factory: { _ in SwiftLogNoOpLogHandler() })
    ) throws -> DeferredQueue {
        var configuration = BTreeFile.Configuration(queueID: queueID, path: path(queue: queue))
        configuration.readOnly = readOnly
        return try open(fileSystem: fileSystem, configuration: configuration, logger: logger)
    }

    /// Where a queue directory keeps its deferred queue file.
    public static func path(queue: String) -> String {
        Path.join(queue, "defedb", "queue.db")
    }

    /// Stops taking changes after the queued ones commit; open readers keep working.
    public func close() {
        file.close()
    }

    // MARK: - Writing

    /// Applies `changes` in order, in one group commit, and returns each change's result
    /// and the committing transaction's id once the commit is durable.
    ///
    /// Throws ``StoreError/Code/invalidArgument`` (before anything is queued) when a
    /// change fails its ``DeferredQueueChange/validationProblem``; otherwise only for
    /// damage (a stored record that does not decode: ``StoreError/Code/corrupted``), a
    /// failed write or sync, or a closed or poisoned file, in which case nothing of the
    /// commit is written.
    @discardableResult
    public func apply(_ changes: [DeferredQueueChange]) async throws -> (results: [DeferredQueueChangeResult], txid: UInt64) {
        for change in changes {
            if let problem = change.validationProblem {
                throw StoreError(.invalidArgument, "deferred queue change refused: \(problem)", path: file.configuration.path)
            }
        }
        let path = file.configuration.path
        let (results, txid) = try await file.commit { txn in
            var writer = SchemaWriter(txn, path: path)
            return try changes.map { try writer.apply($0) }
        }
        return (results, txid)
    }

    /// Applies one change (see ``apply(_:)``).
    @discardableResult
    public func apply(_ change: DeferredQueueChange) async throws -> DeferredQueueChangeResult {
        try await apply([change]).results[0]
    }

    // MARK: - Reading

    /// A reader of the newest committed state; close it (or let it go) when done so the
    /// pages it pins can be reused.
    public func reader() throws -> DeferredQueueReader {
        DeferredQueueReader(try file.snapshot(), path: file.configuration.path)
    }

    // MARK: - Decoding stored records

    /// Decodes a stored transaction, naming its key in any error, and checks the record
    /// belongs under the key.
    static func decodeTransaction(_ bytes: [UInt8], id: EnvelopeID, path: String) throws -> DeferredTransaction {
        let transaction: DeferredTransaction
        do { transaction = try DeferredTransaction.decode(bytes) } catch let error as StoreError {
            throw StoreError(error.code, "transaction \(id): \(error.message)", path: path, cause: error)
        }
        guard transaction.envelopeID == id else {
            throw StoreError(.corrupted, "transaction \(id): the record names envelope \(transaction.envelopeID)", path: path)
        }
        return transaction
    }

    static func decodeRecipient(_ bytes: [UInt8], id: RecipientID, path: String) throws -> DeferredRecipient {
        let recipient: DeferredRecipient
        do { recipient = try DeferredRecipient.decode(bytes) } catch let error as StoreError {
            throw StoreError(error.code, "recipient \(id): \(error.message)", path: path, cause: error)
        }
        guard recipient.id == id else {
            throw StoreError(.corrupted, "recipient \(id): the record names recipient \(recipient.id)", path: path)
        }
        return recipient
    }
}

extension DeferredQueue: NextTrySource {
    /// Up to `limit` next-try index keys `>= from`, from the newest committed state.
    public func keys(from: NextTryKey, limit: Int) throws -> [NextTryKey] {
        let reader = try reader()
        defer { reader.close() }
        return try reader.keys(from: from, limit: limit)
    }
}
