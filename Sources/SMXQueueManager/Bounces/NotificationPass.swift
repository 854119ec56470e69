import Logging
import SMXStore

/// Finds the recipients of the deferred queue that someone must be told about, and tells
/// them: the queue manager's DSN pass (RFC 3461, RFC 3464; the seed's "DSN" sections).
///
/// - **Failures.** A recipient with status `failed` whose report time (its next try) has
///   come is reported in a failure notification to the envelope's sender, unless its
///   NOTIFY excludes failures (NEVER, or a list without FAILURE; no NOTIFY means
///   FAILURE,DELAY), then removed from the deferred queue.
/// - **Delays.** A deferred or held recipient not yet reported, whose NOTIFY asks for
///   delays (DELAY, or no NOTIFY), gets one delay notification once the message has waited
///   the warning time of its destination's retry rule; the recipients are then marked
///   reported (``DeferredQueueChange/noteDelayNotification(_:at:)``), so the warning goes
///   once. The mark is per envelope, so one notification covers every such recipient of
///   the envelope as soon as one of them is owed a warning.
/// - **Successes.** ``notifyDelivered(_:now:)`` reports recipients with NOTIFY=SUCCESS that
///   the queue manager delivered.
///
/// **Coalescing.** One notification per envelope per pass, covering its failed and its
/// delayed recipients together (a failure notification when any failed).
///
/// **Never a loop.** Notifications have the null sender. A null-sender message that fails
/// is reported once to the postmaster, in a notice whose ENVID is
/// ``postmasterNoticeEnvelopeID`` and whose recipient has NOTIFY=NEVER; when such a notice
/// fails it is dropped, logged and counted (``DroppedNotification``), as is a null-sender
/// failure when no postmaster is configured (an empty ``NotificationConfiguration/postmaster``).
/// Delays and successes of null-sender messages are not reported.
///
/// **Order of writes.** The notification is accepted through the ``Receiver`` first (body
/// and incoming-log record durable: rule 1); only then does one deferred-queue commit
/// remove the reported recipients (or mark the delayed ones), and only after that commit
/// is the body released, when the envelope left the deferred queue and the incoming log
/// holds it no more (rule 2). A crash between the two commits leaves the notification
/// queued and the recipients unchanged: the next pass sends a second notification. A
/// duplicate, never a loss.
///
/// **Concurrency.** Safe while the queue manager runs: every write goes through the
/// deferred queue's group commit, and a change that names a recipient another writer
/// removed meanwhile does nothing. Give the pass a ``Receiver`` whose admission accepts
/// (notifications about queued mail are not new load; a refused one is retried on the next
/// pass). Run one pass at a time.
public final class NotificationPass: Sendable {
    /// The ENVID of a postmaster notice: a null-sender message carrying it is itself the
    /// report of a failed null-sender message, and its own failure is dropped. (A message
    /// from elsewhere that sets it only loses its postmaster notice.)
    public static let postmasterNoticeEnvelopeID = "smx-postmaster-notice"

    public let deferredQueue: DeferredQueue
    public let contentStore: ContentStore
    public let receiver: Receiver
    public let configuration: NotificationConfiguration
    /// Gives each destination's warning time and lifetime (Will-Retry-Until).
    public let retryPolicy: RetryPolicy
    let logger: Logger
    /// Transactions read per deferred-queue snapshot while walking the queue.
    let pageSize: Int

    public init(
        deferredQueue: DeferredQueue, contentStore: ContentStore, receiver: Receiver,
        configuration: NotificationConfiguration, retryPolicy: RetryPolicy,
        logger: Logger = Logger(label: "smx.qmgr.dsn", factory: { _ in SwiftLogNoOpLogHandler() }),
        pageSize: Int = 256
    ) {
        self.deferredQueue = deferredQueue
        self.contentStore = contentStore
        self.receiver = receiver
        self.configuration = configuration
        self.retryPolicy = retryPolicy
        self.logger = logger
        self.pageSize = max(pageSize, 1)
    }

    /// One pass over the deferred queue at `now`: every notification owed is enqueued and
    /// its recipients updated, envelope by envelope. An envelope that cannot be finished
    /// (a refused enqueue, a failed commit) is listed in ``NotificationPassReport/failures``
    /// and tried again by the next pass; the pass goes on with the others.
    ///
    /// Cost: walks every transaction record; reads the recipients of envelopes with a
    /// failure due, or old enough for a delay warning.
    ///
    /// Throws ``NotificationPassError/reading(_:)`` when the deferred queue cannot be read.
    public func run(now: Timestamp) async throws(NotificationPassError) -> NotificationPassReport {
        var report = NotificationPassReport()
        let earliestWarning = retryPolicy.rules.compactMap(\.warnAfter).min()
        var after: EnvelopeID?
        while true {
            let page: [DeferredTransaction]
            do {
                let reader = try deferredQueue.reader()
                defer { reader.close() }
                page = try reader.transactions(after: after, limit: pageSize)
            } catch {
                throw NotificationPassError.wrapping(error) { .reading($0) }
            }
            for transaction in page {
                report.envelopesExamined += 1
                let delayPossible = !transaction.sender.isEmpty && (transaction.deferred > 0 || transaction.held > 0)
                    && earliestWarning.map { now >= Timestamp(microsecondsSinceEpoch: transaction.arrivalMicros) + $0 } == true
                guard transaction.failed > 0 || delayPossible else { continue }
                report.envelopesRead += 1
                do {
                    try await notify(about: transaction.envelopeID, now: now, into: &report)
                } catch {
                    if case .reading = error { throw error }
                    logger.info("envelope \(transaction.envelopeID): notification left for the next pass: \(error)")
                    report.failures.append(EnvelopeNotificationFailure(envelopeID: transaction.envelopeID, error: error))
                }
            }
            guard page.count == pageSize, let last = page.last else { break }
            after = last.envelopeID
        }
        return report
    }

    /// What one envelope's recipients call for in this pass.
    struct Plan {
        var reported: [DeferredRecipient] = []
        var delayed: [DeferredRecipient] = []
        var suppressed: [DeferredRecipient] = []
        var dropped: [DeferredRecipient] = []
        var dropReason: DroppedNotification.Reason?
        /// Every failed recipient due: reported, suppressed or dropped, all removed.
        var removed: [DeferredRecipient] { reported + suppressed + dropped }
        var removals: [RecipientID] { removed.map(\.id) }
    }

    /// Reads the envelope afresh, sends its notification if one is owed, then commits.
    func notify(about envelopeID: EnvelopeID, now: Timestamp, into report: inout NotificationPassReport) async throws(NotificationPassError) {
        let transaction: DeferredTransaction
        let recipients: [DeferredRecipient]
        do {
            let reader = try deferredQueue.reader()
            defer { reader.close() }
            guard let stored = try reader.transaction(envelopeID) else { return }
            transaction = stored
            recipients = try reader.recipients(of: envelopeID)
        } catch {
            throw NotificationPassError.wrapping(error) { .reading($0) }
        }
        let plan = plan(transaction, recipients, now: now)
        guard !plan.removals.isEmpty || !plan.delayed.isEmpty else { return }
        let sent = try await send(plan, about: transaction, now: now)

        var changes = plan.removals.sorted().map { DeferredQueueChange.remove($0, .bounced) }
        if !plan.delayed.isEmpty { changes.append(.noteDelayNotification(envelopeID, at: now.microsecondsSinceEpoch)) }
        let results: [DeferredQueueChangeResult]
        do {
            results = try await deferredQueue.apply(changes).results
        } catch {
            throw NotificationPassError.wrapping(error) { .commit($0) }
        }
        if let sent { report.sent.append(sent) }
        report.recipientsReported += plan.reported.count
        report.recipientsSuppressed += plan.suppressed.count
        report.recipientsWarned += plan.delayed.count
        if let reason = plan.dropReason {
            report.dropped.append(DroppedNotification(envelopeID: envelopeID, recipients: plan.dropped.map(\.id).sorted(), reason: reason))
            logger.info("envelope \(envelopeID): failure of \(plan.dropped.count) recipient(s) dropped without notification (\(reason))")
        }
        report.removedRecipients += plan.removals.sorted()
        for content in results.compactMap(\.releasedContent) {
            if BodyReference.releaseIfUnreferenced(content, of: envelopeID, log: receiver.log, contentStore: contentStore, logger: logger) {
                report.releasedBodies.append(content.id)
            }
        }
    }

    /// Sends the one notification `plan` owes for `transaction` (its failed and its delayed
    /// recipients together, in RCPT TO order), durable once this returns; nil when none is
    /// owed or the route drops it. The recipients are not touched: that is the caller's
    /// commit, after this returns.
    func send(_ plan: Plan, about transaction: DeferredTransaction, now: Timestamp) async throws(NotificationPassError) -> SentNotification? {
        guard !plan.reported.isEmpty || !plan.delayed.isEmpty else { return nil }
        let arrival = Timestamp(microsecondsSinceEpoch: transaction.arrivalMicros)
        let listed = (plan.reported.map { ($0.id, $0.failureStatus()) } + plan.delayed.map { recipient in
            (recipient.id, recipient.delayStatus(willRetryUntil: arrival + retryPolicy.rule(for: recipient.destination).lifetime))
        }).sorted { $0.0 < $1.0 }
        return try await send(
            about: OriginalEnvelope(transaction), envelopeID: transaction.envelopeID, content: transaction.content,
            isPostmasterNotice: false, entries: listed.map(\.1), recipients: listed.map(\.0), now: now
        )
    }

    /// Sorts one envelope's recipients: failures due (reported, suppressed by NOTIFY, or
    /// dropped), and delayed recipients owed a warning.
    func plan(_ transaction: DeferredTransaction, _ recipients: [DeferredRecipient], now: Timestamp) -> Plan {
        var plan = Plan()
        let isPostmasterNotice = Self.isPostmasterNotice(transaction)
        for recipient in recipients where recipient.status == .failed && (recipient.nextTry ?? 0) <= now.microsecondsSinceEpoch {
            if isPostmasterNotice {
                plan.dropped.append(recipient)
                plan.dropReason = .postmasterNoticeFailed
            } else if !recipient.wantsFailureNotification {
                plan.suppressed.append(recipient)
            } else if transaction.sender.isEmpty && configuration.postmaster.isEmpty {
                plan.dropped.append(recipient)
                plan.dropReason = .noPostmaster
            } else {
                plan.reported.append(recipient)
            }
        }
        guard !transaction.sender.isEmpty else { return plan }
        let arrival = Timestamp(microsecondsSinceEpoch: transaction.arrivalMicros)
        let candidates = recipients.filter {
            ($0.status == .deferred || $0.status == .held) && !$0.delayReported && $0.wantsDelayNotification
        }
        let owed = candidates.contains { recipient in
            retryPolicy.rule(for: recipient.destination).warnAfter.map { now >= arrival + $0 } == true
        }
        if owed { plan.delayed = candidates }
        return plan
    }

    /// Composes a notification of `entries` about the envelope, routes it, and enqueues it
    /// through the receiver. Returns nil when the route drops it.
    func send(
        about envelope: OriginalEnvelope, envelopeID: EnvelopeID, content: ContentReference, isPostmasterNotice: Bool,
        entries: [RecipientDeliveryStatus], recipients: [RecipientID], now: Timestamp
    ) async throws(NotificationPassError) -> SentNotification? {
        let kind = NotificationKind(actions: entries.map(\.action))
        let route = NotificationRoute.route(
            kind: kind, originalSender: envelope.sender, isPostmasterNotification: isPostmasterNotice,
            postmaster: configuration.postmaster
        )
        let deliverTo: String
        let toPostmaster: Bool
        switch route {
        case .sender(let address): (deliverTo, toPostmaster) = (address, false)
        case .postmaster(let address): (deliverTo, toPostmaster) = (address, true)
        case .drop: return nil
        }
        var notification = DeliveryStatusNotification(
            configuration: configuration, envelope: envelope, recipients: entries,
            originalMessage: originalMessage(content, of: envelopeID), deliverTo: deliverTo,
            messageID: "\(now.microsecondsSinceEpoch).\(envelopeID).\(Self.name(of: kind))@\(configuration.reportingMTA)",
            date: now, boundarySeed: envelopeID.rawValue ^ now.microsecondsSinceEpoch
        )
        let id: EnvelopeID
        do {
            id = try await enqueue(notification.render(), to: deliverTo, isPostmasterNotice: toPostmaster)
        } catch .enqueue(.messageTooLarge(let limit)) where !notification.originalMessage.isEmpty {
            // The receiver's size limit is below what the returned content needs: a refusal
            // that no later pass would get past. The report itself matters more than the
            // returned content, so it goes without it.
            logger.info("envelope \(envelopeID): notification over the receiver's \(limit) bytes, sent without the original")
            notification.originalMessage = []
            id = try await enqueue(notification.render(), to: deliverTo, isPostmasterNotice: toPostmaster)
        }
        return SentNotification(
            notificationEnvelopeID: id, originalEnvelopeID: envelopeID, kind: kind, deliverTo: deliverTo,
            isPostmasterNotice: toPostmaster, recipients: recipients
        )
    }

    /// Enqueues a rendered notification as a new message with the null sender and returns
    /// its envelope id once it is durable.
    func enqueue(_ rendered: NotificationMessage, to address: String, isPostmasterNotice: Bool) async throws(NotificationPassError) -> EnvelopeID {
        let mail = MailParameters(
            body: rendered.containsEightBitData ? .eightBitMIME : .sevenBit,
            envelopeID: isPostmasterNotice ? Self.postmasterNoticeEnvelopeID : nil,
            smtpUTF8: address.utf8.contains { $0 >= 0x80 }
        )
        var message: IncomingMessage?
        do {
            let started = try receiver.begin(sender: "", parameters: mail)
            message = started
            try started.addRecipient(address, parameters: RecipientParameters(notify: isPostmasterNotice ? [.never] : []))
            try await started.appendBody(rendered.bytes)
            return try await started.commit().envelopeID
        } catch {
            message?.abort()
            throw .enqueue(error)
        }
    }

    /// The original as the notification returns it: at most one byte more than the
    /// returned-message limit (enough for the composer to see that it is too large and
    /// return the headers), or nothing when the body cannot be read (the notification is
    /// still sent, without its third part).
    func originalMessage(_ content: ContentReference, of envelopeID: EnvelopeID) -> [UInt8] {
        let limit = UInt64(max(configuration.returnedMessageLimit, 0)) + 1
        do {
            return try contentStore.read(content.id, range: 0..<limit)
        } catch {
            logger.info("envelope \(envelopeID): body \(content.id) unreadable, notification sent without it: \(error)")
            return []
        }
    }

    static func isPostmasterNotice(_ transaction: DeferredTransaction) -> Bool {
        transaction.sender.isEmpty && transaction.mail.envelopeID == postmasterNoticeEnvelopeID
    }

    static func name(of kind: NotificationKind) -> String {
        switch kind {
        case .failure: "failure"
        case .delay: "delay"
        case .success: "success"
        }
    }

    /// ORCPT as the stores keep it, "addr-type;decoded-address" (type rfc822 when the
    /// separator is missing).
    static func originalRecipient(stored: String) -> OriginalRecipient {
        guard let semicolon = stored.firstIndex(of: ";") else { return OriginalRecipient(addressType: "rfc822", address: stored) }
        return OriginalRecipient(addressType: String(stored[..<semicolon]), address: String(stored[stored.index(after: semicolon)...]))
    }
}

extension OriginalEnvelope {
    /// The envelope as the deferred queue keeps it (no Received-From-MTA: not stored).
    init(_ transaction: DeferredTransaction) {
        self.init(
            envelopeID: transaction.mail.envelopeID, returnContent: ReturnContent(transaction.mail.ret), sender: transaction.sender,
            arrival: Timestamp(microsecondsSinceEpoch: transaction.arrivalMicros)
        )
    }
}

extension ReturnContent {
    init?(_ stored: MailParameters.Return?) {
        switch stored {
        case .full: self = .full
        case .headers: self = .headers
        case nil: return nil
        }
    }
}
