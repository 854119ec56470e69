import SMXStore

/// The queue schema's fuzz target: the deferred queue's record and key decoders. As in
/// ``FuzzHarness``, every contract is a `precondition`.
extension FuzzHarness {
    public static func deferredRecord(_ input: UnsafeRawBufferPointer) {
        deferredRecord(Array(input.prefix(maxInput)))
    }

    /// The input is read as a transaction record, a recipient record, and as each kind of
    /// key. A record either decodes or throws a corrupted or unsupported-version
    /// ``StoreError``; what decodes is valid and canonical (it encodes back to the input);
    /// a key that decodes encodes back to the input.
    public static func deferredRecord(_ data: [UInt8]) {
        let data = data.count > maxInput ? Array(data.prefix(maxInput)) : data
        func expectTyped(_ error: any Error, _ what: String) {
            guard let error = error as? StoreError else { preconditionFailure("\(what) threw a non-StoreError: \(error)") }
            precondition(error.code == .corrupted || error.code == .unsupportedVersion, "\(what) threw \(error)")
        }
        do {
            let transaction = try DeferredTransaction.decode(data)
            precondition(transaction.validationProblem == nil, "a decoded transaction is invalid")
            precondition(transaction.encode() == data, "transaction record is not canonical")
            precondition((try? DeferredTransaction.decode(transaction.encode())) == transaction, "transaction does not round-trip")
        } catch {
            expectTyped(error, "DeferredTransaction.decode")
        }
        do {
            let recipient = try DeferredRecipient.decode(data)
            precondition(recipient.validationProblem == nil, "a decoded recipient is invalid")
            precondition(recipient.encode() == data, "recipient record is not canonical")
            precondition((try? DeferredRecipient.decode(recipient.encode())) == recipient, "recipient does not round-trip")
        } catch {
            expectTyped(error, "DeferredRecipient.decode")
        }
        if let id = DeferredQueueSchema.decodeTransactionKey(data) {
            precondition(DeferredQueueSchema.transactionKey(id) == data, "transaction key does not round-trip")
        }
        if let id = DeferredQueueSchema.decodeRecipientKey(data) {
            precondition(DeferredQueueSchema.recipientKey(id) == data, "recipient key does not round-trip")
        }
        if let key = DeferredQueueSchema.decodeNextTryKey(data) {
            precondition(DeferredQueueSchema.nextTryKey(key) == data, "next-try key does not round-trip")
        }
        if let entry = DeferredQueueSchema.decodeDestinationKey(data) {
            precondition(DeferredQueueSchema.destinationKey(entry.destination, entry.id) == data, "destination key does not round-trip")
        }
    }
}
