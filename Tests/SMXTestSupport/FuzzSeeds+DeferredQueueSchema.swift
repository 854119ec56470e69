import SMXStore

/// Seeds for the queue schema's fuzz target: records and keys from the real encoders.
extension FuzzSeeds {
    static func deferredRecord() -> [Seed] {
        let envelope = EnvelopeID(0x0123_4567_89AB)
        let transaction = DeferredTransaction(
            envelopeID: envelope,
            sender: "alice@exämple.org",
            mail: MailParameters(size: 12_345, body: .eightBitMIME, ret: .headers, envelopeID: "QQ314159", smtpUTF8: true),
            content: ContentReference(id: ContentID(42), size: 12_000, checksum: 0xDEAD_BEEF_CAFE_F00D),
            arrivalMicros: 1_700_000_000_000_000,
            recipientCount: 9, deferred: 2, held: 1, failed: 1, delivered: 3, bounced: 1,
            delayNotifiedMicros: 1_700_000_360_000_000
        )
        let minimal = DeferredTransaction(
            envelopeID: EnvelopeID(1), sender: "", content: ContentReference(id: ContentID(1), size: 0, checksum: 0),
            arrivalMicros: 0, recipientCount: 1, deferred: 1
        )
        let recipient = DeferredRecipient(
            id: RecipientID(envelope, 7),
            address: "bob@exämple.com",
            notify: [.failure, .delay],
            originalRecipient: "rfc822;bob@example.com",
            destination: "exämple.com",
            attempts: 3,
            firstFailureMicros: 1_700_000_000_000_000,
            lastAttemptMicros: 1_700_000_900_000_000,
            lastReply: DeliveryReply(code: 451, text: "4.7.1 greylisted, try later"),
            nextTry: 1_700_001_800_000_000,
            delayReported: true
        )
        let held = DeferredRecipient(id: RecipientID(EnvelopeID(2), 0), address: "x@y", destination: "y", status: .held, nextTry: nil)
        var failed = recipient
        failed.status = .failed
        failed.lastReply = DeliveryReply(code: 550, text: "5.1.1 no such user")
        return [
            Seed(name: "transaction", bytes: transaction.encode()),
            Seed(name: "transaction-minimal", bytes: minimal.encode()),
            Seed(name: "recipient", bytes: recipient.encode()),
            Seed(name: "recipient-held", bytes: held.encode()),
            Seed(name: "recipient-failed", bytes: failed.encode()),
            Seed(name: "key-recipient", bytes: DeferredQueueSchema.recipientKey(recipient.id)),
            Seed(name: "key-nexttry", bytes: DeferredQueueSchema.nextTryKey(recipient.nextTryKey!)),
            Seed(name: "key-destination", bytes: DeferredQueueSchema.destinationKey(recipient.destination, recipient.id)),
        ]
    }
}
