/// One schema-level change to the deferred queue. ``DeferredQueue/apply(_:)`` checks a
/// list of them, then applies them in order in one group commit: each change updates the
/// records and every index they imply together, so a reader (and a crash) sees all of a
/// commit or none of it.
///
/// Changes that name a recipient or envelope the queue no longer holds do nothing (their
/// result counts 0 recipients): a delivery result may race an operator's delete.
public enum DeferredQueueChange: Sendable, Equatable {
    /// Moves recipients of an envelope into the deferred queue (seed: "write transaction
    /// and recipient record" on a failed attempt; on restart, the incoming log's open
    /// transactions). The transaction record is written when the queue does not have it;
    /// otherwise the stored one is kept and only its counters change. A recipient already
    /// in the queue is left as it is (rule 3: the deferred copy wins), so replaying an
    /// add after a crash is harmless. The transaction's `deferred`, `held` and `failed`
    /// counters are the queue's to keep: the ones passed in are ignored.
    case add(DeferredTransaction, [DeferredRecipient])
    /// Records a delivery attempt: one more attempt, its time and reply, the first-failure
    /// time if there was none, and the outcome. A held recipient stays held; a failed one
    /// stays failed.
    case recordAttempt(RecipientID, DeliveryAttempt)
    /// Removes a recipient (delivered, or its failure reported) and counts it in its
    /// transaction; the transaction goes with its last recipient, and the result carries
    /// its ``ContentReference`` for the caller to release once the commit is durable.
    case remove(RecipientID, RemovalReason)
    /// Deferred recipients become held: their next-try entries go, hold-set entries come.
    /// Failed recipients are not held (their bounce is still owed).
    case hold(RecipientSelector)
    /// Held recipients become deferred, due at `nextTry`.
    case release(RecipientSelector, nextTry: UInt64)
    /// Deferred recipients become due at `nextTry` ("a connection to this site works
    /// again", ETRN, `smx-qctl requeue`). Held and failed ones are left alone.
    case requeue(RecipientSelector, nextTry: UInt64)
    /// A delay DSN was sent at `at` for this envelope: the transaction records the time,
    /// and its deferred and held recipients are marked as reported.
    case noteDelayNotification(EnvelopeID, at: UInt64)
    /// Removes an envelope and all its recipients (operator delete); the result carries
    /// the body to release.
    case deleteEnvelope(EnvelopeID)
    /// Deferred and held recipients fail without an attempt (operator bounce): status
    /// failed, `reply` as their last reply, their report due at `reportAt`. Attempts and
    /// attempt times are left as they were; failed recipients are left alone.
    case fail(RecipientSelector, reply: DeliveryReply, reportAt: UInt64)
}

/// What a delivery attempt of one recipient came to.
public struct DeliveryAttempt: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// A temporary failure: try again at `nextTry`.
        case retry(nextTry: UInt64)
        /// A permanent failure (or the queue lifetime ran out): the recipient becomes
        /// ``DeferredRecipient/Status/failed``, its bounce due at `reportAt`.
        case failed(reportAt: UInt64)
    }

    /// When the attempt was made (µs since the epoch).
    public var atMicros: UInt64
    public var reply: DeliveryReply?
    public var outcome: Outcome

    public init(atMicros: UInt64, reply: DeliveryReply?, outcome: Outcome) {
        self.atMicros = atMicros
        self.reply = reply
        self.outcome = outcome
    }
}

/// Why a recipient leaves the deferred queue.
public enum RemovalReason: Sendable, Equatable {
    /// Delivered: counted in the transaction's `delivered`.
    case delivered
    /// Its failure was reported in a DSN: counted in `bounced`.
    case bounced
}

/// What one ``DeferredQueueChange`` did.
public struct DeferredQueueChangeResult: Sendable, Equatable {
    /// Recipients the change added, updated or removed.
    public var recipients: Int
    /// The body of an envelope the change removed from the queue: release it (drop the
    /// reference in the content store) after the commit returned, never before (rule 2).
    public var releasedContent: ContentReference?
    /// An ``DeferredQueueChange/add(_:_:)`` that created the envelope's record (it was not
    /// in the queue): the envelope now holds a reference to its body.
    public var createdEnvelope: Bool

    public init(recipients: Int = 0, releasedContent: ContentReference? = nil, createdEnvelope: Bool = false) {
        self.recipients = recipients
        self.releasedContent = releasedContent
        self.createdEnvelope = createdEnvelope
    }
}

extension DeferredQueueChange {
    /// Why the change cannot be applied, or nil. ``DeferredQueue/apply(_:)`` checks every
    /// change before it queues any, so that applying one throws only for damage.
    public var validationProblem: String? {
        switch self {
        case .add(let transaction, let recipients):
            if recipients.isEmpty { return "add of envelope \(transaction.envelopeID) without recipients" }
            var stored = transaction
            stored.deferred = 0
            stored.held = 0
            stored.failed = 0
            if let problem = stored.validationProblem { return "transaction \(transaction.envelopeID): \(problem)" }
            if stored.accounted + UInt64(recipients.count) > UInt64(transaction.recipientCount) {
                return "envelope \(transaction.envelopeID): \(recipients.count) recipients added to \(stored.accounted) accounted of \(transaction.recipientCount)"
            }
            var seen = Set<UInt32>()
            for recipient in recipients {
                if recipient.id.envelopeID != transaction.envelopeID {
                    return "recipient \(recipient.id) added to envelope \(transaction.envelopeID)"
                }
                if recipient.id.index >= transaction.recipientCount {
                    return "recipient \(recipient.id): index past the envelope's \(transaction.recipientCount) recipients"
                }
                if !seen.insert(recipient.id.index).inserted { return "recipient \(recipient.id) added twice" }
                if let problem = recipient.validationProblem { return "recipient \(recipient.id): \(problem)" }
            }
            return nil
        case .recordAttempt(let id, let attempt):
            if let reply = attempt.reply, !reply.isValid {
                return "recipient \(id): reply code \(reply.code) or text of \(reply.text.utf8.count) bytes"
            }
            return nil
        case .fail(let selector, let reply, _):
            if !reply.isValid { return "reply code \(reply.code) or text of \(reply.text.utf8.count) bytes" }
            if case .destination(let destination) = selector, let problem = DeferredQueueSchema.destinationProblem(destination) {
                return problem
            }
            return nil
        case .hold(let selector), .release(let selector, _), .requeue(let selector, _):
            if case .destination(let destination) = selector, let problem = DeferredQueueSchema.destinationProblem(destination) {
                return problem
            }
            return nil
        case .remove, .noteDelayNotification, .deleteEnvelope:
            return nil
        }
    }
}
