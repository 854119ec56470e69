import Logging
import SMXStore

/// The operator's changes to a live queue (`smx-qctl` hold, release, requeue, delete,
/// bounce), by envelope or by recipient.
///
/// **One durable commit each.** An operation reads the recipients it names from a
/// snapshot, then applies one ``DeferredQueueChange`` per recipient in one group commit of
/// the deferred queue, and returns when that commit is durable. Each change reads the
/// record again inside the commit, so a recipient another writer changed meanwhile is
/// left as that writer left it and counted ``QueueOperationResult/unchanged``.
///
/// **Safe while the queue manager runs.** The manager writes through the same group
/// commit. Take the operations from ``QueueManager/operations(logger:)`` then: they leave
/// the bodies to the manager (``releasesBodies`` false) and hand every result to its loop
/// (``onChange``), which drops the reference of each envelope removed (releasing the body
/// with its last one) and puts the new next-try keys of released, requeued and bounced
/// recipients into its next-try cache (a bounced one is then reported by the manager's
/// notifications). Keys of held and deleted recipients are left to go stale: the fill
/// skips a key whose record moved on. A delivery result that arrives later for a
/// recipient an operation removed does nothing; one for a held recipient leaves it held
/// (``DeferredQueueChange/recordAttempt(_:_:)``).
///
/// - ``hold(_:)``: deferred recipients become held (``DeferredQueueChange/hold(_:)``);
///   failed ones keep their owed notification.
/// - ``release(_:now:)``: held recipients become deferred, due at `now`.
/// - ``requeue(_:now:)``: deferred recipients become due at `now`.
/// - ``delete(_:)``: recipients leave without a notification. An envelope goes whole
///   (``DeferredQueueChange/deleteEnvelope(_:)``); a single recipient is removed and
///   counted as bounced in its envelope's counters (the store has no "deleted" reason).
///   Without a manager, a body is released after the commit when its envelope left the
///   deferred queue and the incoming log holds it no more (rule 2).
/// - ``bounce(_:now:reason:)``: deferred and held recipients fail permanently, their report
///   due at `now`, with the reply `5.0.0 bounced by the administrator`
///   (``DeferredQueueChange/fail(_:reply:reportAt:)``: no attempt is counted); the
///   queue manager's notifications (or a ``NotificationPass``) then tell their senders.
///
/// Operations work on the deferred queue only: recipients still in the incoming queue
/// (not yet tried) are not found.
public final class QueueOperations: Sendable {
    public let deferredQueue: DeferredQueue
    public let contentStore: ContentStore
    public let incomingLog: IncomingLog
    /// Told every result whose commit changed something, after the commit returned. Must
    /// not block.
    public let onChange: @Sendable (QueueOperationResult) -> Void
    /// Whether an operation releases the bodies of the envelopes it removes (false when a
    /// queue manager counts the references: it releases them).
    public let releasesBodies: Bool
    let logger: Logger

    /// The reply text of an administrative bounce, after its enhanced status code.
    public static let defaultBounceReason = "bounced by the administrator"

    public init(
        deferredQueue: DeferredQueue, contentStore: ContentStore, incomingLog: IncomingLog,
        logger: Logger = Logger(label: "smx.qmgr.ops", factory: { _ in SwiftLogNoOpLogHandler() }),
        releasesBodies: Bool = true,
        onChange: @escaping @Sendable (QueueOperationResult) -> Void = { _ in }
    ) {
        self.releasesBodies = releasesBodies
        self.deferredQueue = deferredQueue
        self.contentStore = contentStore
        self.incomingLog = incomingLog
        self.logger = logger
        self.onChange = onChange
    }

    /// Deferred recipients of `target` become held: no next try until released. Failed
    /// ones are left (their notification is owed), held ones are unchanged.
    public func hold(_ target: QueueOperationTarget) async throws(QueueOperationError) -> QueueOperationResult {
        try await perform(.hold, target) { .hold(.recipient($0.id)) }
    }

    /// Held recipients of `target` become deferred, due at `now`.
    public func release(_ target: QueueOperationTarget, now: Timestamp) async throws(QueueOperationError) -> QueueOperationResult {
        try await perform(.release, target) { .release(.recipient($0.id), nextTry: now.microsecondsSinceEpoch) }
    }

    /// Deferred recipients of `target` become due at `now` (held and failed ones are left).
    public func requeue(_ target: QueueOperationTarget, now: Timestamp) async throws(QueueOperationError) -> QueueOperationResult {
        try await perform(.requeue, target) { .requeue(.recipient($0.id), nextTry: now.microsecondsSinceEpoch) }
    }

    /// Recipients of `target` leave the deferred queue without a notification; a body goes
    /// after the commit when its envelope left both queues.
    public func delete(_ target: QueueOperationTarget) async throws(QueueOperationError) -> QueueOperationResult {
        try await perform(.delete, target) { .remove($0.id, .bounced) }
    }

    /// Deferred and held recipients of `target` fail permanently, their report due at
    /// `now`, so the next ``NotificationPass`` tells their senders. `reason` follows the
    /// enhanced status code 5.0.0 in the recipient's last reply (cut to
    /// ``DeliveryReply/maxTextBytes``); the notification's Diagnostic-Code shows it.
    public func bounce(
        _ target: QueueOperationTarget, now: Timestamp, reason: String = QueueOperations.defaultBounceReason
    ) async throws(QueueOperationError) -> QueueOperationResult {
        let reply = DeliveryReply(code: 0, truncating: "5.0.0 \(reason)")
        return try await perform(.bounce, target, applies: { $0.status != .failed }) {
            .fail(.recipient($0.id), reply: reply, reportAt: now.microsecondsSinceEpoch)
        }
    }

    /// Reads the target, commits one change per recipient it applies to (or one
    /// `deleteEnvelope` per envelope for a delete by envelope), releases bodies, reports.
    private func perform(
        _ kind: QueueOperationKind, _ target: QueueOperationTarget,
        applies: (DeferredRecipient) -> Bool = { _ in true },
        change: (DeferredRecipient) -> DeferredQueueChange
    ) async throws(QueueOperationError) -> QueueOperationResult {
        var result = QueueOperationResult(operation: kind)
        var found: [DeferredRecipient] = []
        var envelopes: [EnvelopeID] = []
        do {
            let reader = try deferredQueue.reader()
            defer { reader.close() }
            switch target {
            case .envelopes(let ids):
                for id in Set(ids).sorted() {
                    let recipients = try reader.recipients(of: id)
                    if recipients.isEmpty { result.envelopesNotFound.append(id) } else { envelopes.append(id) }
                    found += recipients
                }
            case .recipients(let ids):
                for id in Set(ids).sorted() {
                    if let recipient = try reader.recipient(id) { found.append(recipient) } else { result.recipientsNotFound.append(id) }
                }
            }
        } catch {
            throw QueueOperationError.wrapping(error) { .reading($0) }
        }
        let wholeEnvelopes = kind == .delete && !envelopes.isEmpty
        let eligible = found.filter(applies)
        result.unchanged = found.filter { !applies($0) }.map(\.id)
        let changes = wholeEnvelopes ? envelopes.map { DeferredQueueChange.deleteEnvelope($0) } : eligible.map(change)
        guard !changes.isEmpty else { return result }
        let committed: (results: [DeferredQueueChangeResult], txid: UInt64)
        do {
            committed = try await deferredQueue.apply(changes)
        } catch {
            throw QueueOperationError.wrapping(error) { .commit($0) }
        }
        result.txid = committed.txid
        if wholeEnvelopes {
            // The commit removed whatever each envelope held then; the ids are those read.
            result.changed = eligible.map(\.id)
        } else {
            for (recipient, outcome) in zip(eligible, committed.results) {
                if outcome.recipients > 0 { result.changed.append(recipient.id) } else { result.unchanged.append(recipient.id) }
            }
        }
        let removedEnvelopes = wholeEnvelopes ? envelopes : eligible.map(\.id.envelopeID)
        for (envelopeID, outcome) in zip(removedEnvelopes, committed.results) {
            guard let content = outcome.releasedContent else { continue }
            result.envelopesRemoved.append(RemovedEnvelope(envelopeID: envelopeID, content: content))
            if releasesBodies, BodyReference.releaseIfUnreferenced(content, of: envelopeID, log: incomingLog, contentStore: contentStore, logger: logger) {
                result.releasedBodies.append(content.id)
            }
        }
        result.changed.sort()
        result.unchanged.sort()
        logger.info("\(kind.rawValue): \(result.changed.count) recipient(s) changed, \(result.unchanged.count) unchanged, \(result.envelopesNotFound.count + result.recipientsNotFound.count) not found")
        if !result.changed.isEmpty { onChange(result) }
        return result
    }
}
