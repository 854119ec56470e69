import SMXStore

/// Seeded random ``DeferredQueueChange``s for model-based and crash tests of
/// ``DeferredQueue``: new envelopes, recipients added to envelopes already queued (and
/// replayed adds), attempts with retries and permanent failures, removals, holds,
/// releases, requeues by recipient, envelope and destination, delay notifications and
/// deletes, some naming envelopes or recipients the queue does not hold. The queue size
/// stays around `targetRecipients`: removals grow likelier as it fills.
public struct DeferredQueueWorkload: Sendable {
    public var rng: SplitMix64
    public var targetRecipients: Int
    /// The clock: advances with every change, so times are mostly increasing but collide.
    public var now: UInt64 = 1_700_000_000_000_000
    private var nextEnvelope: UInt64 = 1

    public static let destinations = ["a.example", "b.example", "mx.c.example", "d", "xn--bcher-kva.example", "öl.example"]

    public init(seed: UInt64, targetRecipients: Int = 200) {
        rng = SplitMix64(seed: seed)
        self.targetRecipients = targetRecipients
    }

    private mutating func time(around base: UInt64, spread: Int) -> UInt64 {
        // Coarse steps (whole seconds) so that recipients share next-try times.
        base + UInt64(rng.below(spread)) * 1_000_000
    }

    private mutating func text(_ maxBytes: Int) -> String {
        let pieces = ["a", "b", "ä", "@", ".", "x", "€", "z", "0", " ", "𝄞"]
        var out = ""
        let target = rng.below(maxBytes + 1)
        while out.utf8.count < target {
            let piece = pieces[rng.below(pieces.count)]
            if out.utf8.count + piece.utf8.count > maxBytes { break }
            out += piece
        }
        return out
    }

    public mutating func reply() -> DeliveryReply? {
        switch rng.below(4) {
        case 0: return nil
        case 1: return DeliveryReply(code: 0, text: "connect to mx: " + text(40))
        default:
            return DeliveryReply(code: [421, 450, 451, 452, 550, 554][rng.below(6)], truncating: "4.7.1 " + text(rng.below(10) == 0 ? 600 : 60))
        }
    }

    public mutating func destination() -> String {
        Self.destinations[rng.below(Self.destinations.count)]
    }

    public mutating func recipient(_ id: RecipientID) -> DeferredRecipient {
        let status: DeferredRecipient.Status = switch rng.below(10) {
        case 0: .held
        case 1: .failed
        default: .deferred
        }
        let attempted = rng.below(3) != 0
        return DeferredRecipient(
            id: id,
            address: "r\(id.index)-" + text(30) + "@" + destination(),
            notify: NotifyFlags(rawValue: UInt8(rng.below(16))),
            originalRecipient: rng.below(4) == 0 ? "rfc822;" + text(40) : nil,
            destination: destination(),
            status: status,
            attempts: attempted ? UInt32(1 + rng.below(5)) : 0,
            firstFailureMicros: attempted ? now - 3_600_000_000 : nil,
            lastAttemptMicros: attempted ? now : nil,
            lastReply: attempted ? reply() : nil,
            nextTry: status == .held ? nil : time(around: now, spread: 600),
            delayReported: rng.below(8) == 0
        )
    }

    private mutating func transaction(_ id: EnvelopeID, recipientCount: UInt32) -> DeferredTransaction {
        DeferredTransaction(
            envelopeID: id,
            sender: rng.below(6) == 0 ? "" : "s-" + text(40) + "@example.org",
            mail: MailParameters(
                size: rng.coin() ? UInt64(rng.below(50_000_000)) : nil,
                body: MailParameters.Body.allCases[rng.below(4)],
                ret: rng.coin() ? MailParameters.Return.allCases[rng.below(2)] : nil,
                envelopeID: rng.below(3) == 0 ? "ENV" + text(20) : nil,
                smtpUTF8: rng.coin()
            ),
            content: ContentReference(id: ContentID(id.rawValue &* 7 &+ 3), size: UInt64(rng.below(1 << 20)), checksum: rng.next()),
            arrivalMicros: now - UInt64(rng.below(1000)) * 1_000_000,
            recipientCount: recipientCount,
            delayNotifiedMicros: rng.below(5) == 0 ? now : nil
        )
    }

    /// An envelope id the queue may hold (mostly one of `model`'s), or a new one.
    private mutating func someEnvelope(_ model: DeferredQueueModel) -> EnvelopeID {
        if model.transactions.isEmpty || rng.below(20) == 0 { return EnvelopeID(nextEnvelope + UInt64(rng.below(3))) }
        return model.transactions.keys.sorted()[rng.below(model.transactions.count)]
    }

    private mutating func someRecipient(_ model: DeferredQueueModel) -> RecipientID {
        if model.recipients.isEmpty || rng.below(20) == 0 {
            return RecipientID(someEnvelope(model), UInt32(rng.below(4)))
        }
        return model.recipients.keys.sorted()[rng.below(model.recipients.count)]
    }

    private mutating func selector(_ model: DeferredQueueModel) -> RecipientSelector {
        switch rng.below(3) {
        case 0: .recipient(someRecipient(model))
        case 1: .envelope(someEnvelope(model))
        default: .destination(destination())
        }
    }

    /// The next change, given what the queue holds now.
    public mutating func next(_ model: DeferredQueueModel) -> DeferredQueueChange {
        now += UInt64(rng.below(3)) * 1_000_000
        let fill = model.recipients.count * 100 / max(1, targetRecipients)
        let roll = rng.below(100)
        let newEnvelope = max(3, 35 - fill / 4)
        let moreRecipients = newEnvelope + 5
        let attempt = moreRecipients + 20
        let remove = attempt + min(45, 8 + fill / 4)
        if roll < newEnvelope {
            let id = EnvelopeID(nextEnvelope)
            nextEnvelope += 1
            let total = UInt32(1 + rng.below(rng.below(10) == 0 ? 40 : 6))
            var indexes = Array(0..<total).filter { _ in rng.below(3) != 0 }
            if indexes.isEmpty { indexes = [UInt32(rng.below(Int(total)))] }
            var t = transaction(id, recipientCount: total)
            let spare = Int(total) - indexes.count
            t.delivered = UInt32(rng.below(spare + 1))
            t.bounced = UInt32(rng.below(spare - Int(t.delivered) + 1))
            return .add(t, indexes.map { recipient(RecipientID(id, $0)) })
        }
        if roll < moreRecipients, let envelopeID = model.transactions.keys.sorted().randomElement(using: &rng) {
            // More recipients of a queued envelope, sometimes ones it already has (a
            // replayed add), under another transaction record (the stored one is kept).
            let stored = model.transactions[envelopeID]!
            var t = transaction(envelopeID, recipientCount: stored.recipientCount)
            t.recipientCount = stored.recipientCount + UInt32(rng.below(2))
            let indexes = Array(0..<t.recipientCount).filter { _ in rng.below(3) == 0 }
            guard !indexes.isEmpty else { return .noteDelayNotification(envelopeID, at: now) }
            return .add(t, indexes.map { recipient(RecipientID(envelopeID, $0)) })
        }
        if roll < attempt {
            let outcome: DeliveryAttempt.Outcome = rng.below(6) == 0
                ? .failed(reportAt: time(around: now, spread: 10)) : .retry(nextTry: time(around: now, spread: 3600))
            return .recordAttempt(someRecipient(model), DeliveryAttempt(atMicros: now, reply: reply(), outcome: outcome))
        }
        if roll < remove {
            return .remove(someRecipient(model), rng.coin() ? .delivered : .bounced)
        }
        switch rng.below(13) {
        case 12: return .fail(selector(model), reply: reply() ?? DeliveryReply(code: 0, truncating: "5.0.0 bounced"), reportAt: now)
        case 0, 1, 2: return .hold(selector(model))
        case 3, 4, 5: return .release(selector(model), nextTry: time(around: now, spread: 60))
        case 6, 7, 8: return .requeue(selector(model), nextTry: now)
        case 9, 10: return .noteDelayNotification(someEnvelope(model), at: now)
        default: return .deleteEnvelope(someEnvelope(model))
        }
    }
}
