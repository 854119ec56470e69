import SMXStore

/// One SMTP transaction being received: made by ``Receiver/begin(sender:parameters:)``,
/// then ``addRecipient(_:parameters:)`` per RCPT TO, ``appendBody(_:)-(ArraySlice<UInt8>)``
/// as DATA (or BDAT) arrives, and ``commit()`` at the end, or ``abort()`` (RSET, QUIT, a
/// dropped connection, a rejected message).
///
/// **Memory.** The body goes straight into a ``ContentWriter``: bodies up to the content
/// store's large-body threshold are held compressed, larger ones spill to their own file
/// as they arrive, so a session holds at most about one threshold's worth of a body.
///
/// **Lifetime.** Belongs to one session and is used by one task at a time (like the
/// ``ContentWriter`` under it). Every path ends in `commit()` returning, an error, or
/// `abort()`; any of them releases the unfinished body, so nothing leaks. A message that
/// is simply dropped leaves at most a large body's `.tmp` file, which the content store's
/// recovery removes.
public final class IncomingMessage: @unchecked Sendable {
    public enum State: Equatable, Sendable {
        /// Taking recipients (after MAIL FROM).
        case recipients
        /// Taking body bytes; no more recipients.
        case body
        /// `commit()` is running.
        case committing
        /// Acknowledged: body and envelope durable.
        case committed
        /// Discarded (abort, an error, a refusal); nothing of it is kept.
        case aborted
    }

    public let envelopeID: EnvelopeID
    /// The reverse-path without angle brackets; empty for the null sender.
    public let sender: String
    public let parameters: MailParameters
    public private(set) var recipients: [Recipient] = []
    public private(set) var state: State = .recipients
    private let receiver: Receiver
    private var writer: ContentWriter?

    init(receiver: Receiver, envelopeID: EnvelopeID, sender: String, parameters: MailParameters) {
        self.receiver = receiver
        self.envelopeID = envelopeID
        self.sender = sender
        self.parameters = parameters
    }

    /// Body bytes received so far.
    public var bodyBytes: UInt64 { writer?.rawLength ?? 0 }

    /// Adds a recipient (RCPT TO), the forward-path without angle brackets. Recipients are
    /// numbered in the order added; the stores name them by that index.
    ///
    /// Throws ``ReceiveError/tooManyRecipients(limit:)`` past the limit (the recipients so
    /// far stay: RFC 5321 lets the client go on), ``ReceiveError/invalidParameter(_:)`` for
    /// an empty address or one (or an ORCPT) the deferred queue cannot store, and
    /// ``ReceiveError/badSequence(_:)`` once the body started or the message ended.
    public func addRecipient(_ address: String, parameters: RecipientParameters = RecipientParameters()) throws(ReceiveError) {
        guard state == .recipients else { throw .badSequence("RCPT TO after the body started or the message ended (\(state))") }
        guard recipients.count < receiver.configuration.maxRecipients else {
            throw .tooManyRecipients(limit: receiver.configuration.maxRecipients)
        }
        let limit = DeferredQueueSchema.maxAddressBytes
        guard !address.isEmpty, address.utf8.count <= limit else {
            throw .invalidParameter("recipient address of \(address.utf8.count) bytes (1 to \(limit))")
        }
        if let orcpt = parameters.originalRecipient, orcpt.utf8.count > limit {
            throw .invalidParameter("ORCPT of \(orcpt.utf8.count) bytes (at most \(limit))")
        }
        recipients.append(Recipient(address: address, notify: parameters.notify, originalRecipient: parameters.originalRecipient))
    }

    /// Appends body bytes. The first call ends the recipients. Waits only for the content
    /// store's bounded back-pressure or a large body's file write.
    ///
    /// Throws ``ReceiveError/noRecipients`` (nothing changes: the message still takes
    /// recipients), ``ReceiveError/messageTooLarge(limit:)`` when the
    /// body would pass the limit, ``ReceiveError/storage(_:)`` when the content store
    /// fails, ``ReceiveError/badSequence(_:)`` after the message ended. After a size or
    /// storage error the message is aborted.
    public func appendBody(_ bytes: ArraySlice<UInt8>) async throws(ReceiveError) {
        switch state {
        case .recipients:
            guard !recipients.isEmpty else { throw .noRecipients }
            state = .body
        case .body:
            break
        case .committing, .committed, .aborted:
            throw .badSequence("body bytes after the message ended (\(state))")
        }
        let limit = receiver.configuration.maxMessageBytes
        guard UInt64(bytes.count) <= limit, bodyBytes <= limit - UInt64(bytes.count) else {
            discard()
            throw .messageTooLarge(limit: limit)
        }
        do {
            if writer == nil { writer = try receiver.contentStore.makeWriter() }
            try await writer?.append(bytes)
        } catch {
            discard()
            throw .wrapping(error)
        }
    }

    public func appendBody(_ bytes: [UInt8]) async throws(ReceiveError) {
        try await appendBody(bytes[...])
    }

    /// Ends the message (the final dot) and returns once its body and its incoming-log
    /// record are both durable (rule 1; ``IncomingLog/commit(_:bodies:in:)``). Only a
    /// return means "acknowledge": on any error the client gets a failure reply and the
    /// message is aborted.
    ///
    /// Throws ``ReceiveError/noRecipients``, ``ReceiveError/refused(_:)`` (admission's
    /// second stage; the first lets messages under way finish), ``ReceiveError/storage(_:)``
    /// when either store failed, ``ReceiveError/badSequence(_:)`` when the message already
    /// ended. After a storage failure the body is released once no live envelope refers to
    /// it (rule 2): when the log kept the record although the body's sync failed, the
    /// record is closed as discarded first; if that fails too, startup's recount releases
    /// the body after the next open.
    public func commit() async throws(ReceiveError) -> AcceptedMessage {
        guard state == .recipients || state == .body else {
            throw .badSequence("commit after the message ended (\(state))")
        }
        guard !recipients.isEmpty else {
            discard()
            throw .noRecipients
        }
        if case .refuse(let reason) = receiver.admission.admission() {
            discard()
            throw .refused(reason)
        }
        state = .committing
        let store = receiver.contentStore
        let stored: StoredContent
        do {
            let writer = try self.writer ?? store.makeWriter()
            self.writer = writer
            stored = try await writer.finish()
            self.writer = nil
        } catch {
            discard()
            throw .wrapping(error)
        }
        let transaction = IncomingTransaction(
            envelopeID: envelopeID, arrivalMicros: receiver.clock(), sender: sender, mail: parameters,
            content: stored.reference, recipients: recipients
        )
        let receipt: IncomingLog.CommitReceipt
        do {
            receipt = try await receiver.log.commit([.transaction(transaction)], bodies: [stored], in: store)
        } catch {
            state = .aborted
            await releaseUnacknowledged(stored)
            throw .wrapping(error)
        }
        state = .committed
        let accepted = AcceptedMessage(envelopeID: envelopeID, receipt: receipt, transaction: transaction, storedBytes: stored.storedBytes)
        receiver.onAccepted(accepted)
        return accepted
    }

    /// Discards the message (RSET, QUIT, a dropped connection): the unfinished body is
    /// released and nothing was written to the incoming log. Safe to call more than once.
    /// Does nothing once `commit()` has started: from the final dot on, the commit decides
    /// (a client that drops the connection then may get its message delivered, and will
    /// send it again: a duplicate, never a loss).
    public func abort() {
        guard state != .committing, state != .committed else { return }
        discard()
    }

    /// Releases the unfinished body and ends the message, whatever its state.
    private func discard() {
        writer?.abort()
        writer = nil
        state = .aborted
    }

    /// A commit failed: make sure no live envelope refers to the body, then release it.
    private func releaseUnacknowledged(_ stored: StoredContent) async {
        let log = receiver.log
        if log.transaction(envelopeID) != nil {
            do {
                try await log.commit(.closed(envelopeID, .discarded))
            } catch {
                return
            }
        }
        _ = try? receiver.contentStore.release(stored.id)
    }
}
