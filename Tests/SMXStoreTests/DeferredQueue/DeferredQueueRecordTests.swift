import Testing
import SMXStore
import SMXTestSupport

/// The transaction and recipient records and the schema's keys: round trips, canonical
/// bytes, key order, and hostile bytes (truncations, every single-byte change, noise), which
/// must decode or throw a typed error, never trap.
@Suite struct DeferredQueueRecordTests {
    static let fullTransaction = DeferredTransaction(
        envelopeID: EnvelopeID(0x0123_4567_89AB),
        sender: "alice@exämple.org",
        mail: MailParameters(size: 12_345, body: .eightBitMIME, ret: .headers, envelopeID: "QQ314159", smtpUTF8: true),
        content: ContentReference(id: ContentID(42), size: 12_000, checksum: 0xDEAD_BEEF_CAFE_F00D),
        arrivalMicros: 1_700_000_000_000_000,
        recipientCount: 9, deferred: 2, held: 1, failed: 1, delivered: 3, bounced: 1,
        delayNotifiedMicros: 1_700_000_360_000_000
    )

    static let minimalTransaction = DeferredTransaction(
        envelopeID: EnvelopeID(1), sender: "", content: ContentReference(id: ContentID(1), size: 0, checksum: 0),
        arrivalMicros: 0, recipientCount: 1, deferred: 1
    )

    static let fullRecipient = DeferredRecipient(
        id: RecipientID(EnvelopeID(0x0123_4567_89AB), 7),
        address: "bob@exämple.com",
        notify: [.failure, .delay],
        originalRecipient: "rfc822;bob@example.com",
        destination: "exämple.com",
        status: .deferred,
        attempts: 3,
        firstFailureMicros: 1_700_000_000_000_000,
        lastAttemptMicros: 1_700_000_900_000_000,
        lastReply: DeliveryReply(code: 451, text: "4.7.1 greylisted, try later"),
        nextTry: 1_700_001_800_000_000,
        delayReported: true
    )

    static let heldRecipient = DeferredRecipient(
        id: RecipientID(EnvelopeID(2), 0), address: "x@y", destination: "y", status: .held, nextTry: nil
    )

    static var records: [(String, [UInt8])] {
        [
            ("transaction", fullTransaction.encode()),
            ("transaction-minimal", minimalTransaction.encode()),
            ("recipient", fullRecipient.encode()),
            ("recipient-held", heldRecipient.encode()),
        ]
    }

    @Test func recordsRoundTrip() throws {
        for transaction in [Self.fullTransaction, Self.minimalTransaction] {
            let bytes = transaction.encode()
            #expect(bytes[0] == DeferredQueueSchema.recordVersion)
            let decoded = try DeferredTransaction.decode(bytes)
            #expect(decoded == transaction)
            #expect(decoded.encode() == bytes)
        }
        for recipient in [Self.fullRecipient, Self.heldRecipient] {
            let bytes = recipient.encode()
            #expect(bytes[0] == DeferredQueueSchema.recordVersion)
            let decoded = try DeferredRecipient.decode(bytes)
            #expect(decoded == recipient)
            #expect(decoded.encode() == bytes)
        }
        #expect(Self.minimalTransaction.encode().count == 84 + 1)
        #expect(Self.heldRecipient.encode().count == 46 + 4 + 2)
    }

    @Test func randomRecordsRoundTrip() throws {
        var workload = DeferredQueueWorkload(seed: 77)
        var model = DeferredQueueModel()
        for _ in 0..<1500 {
            let change = workload.next(model)
            _ = model.apply(change)
            guard case .add(let transaction, let recipients) = change else { continue }
            if let stored = model.transactions[transaction.envelopeID] {
                #expect(try DeferredTransaction.decode(stored.encode()) == stored)
            }
            for recipient in recipients {
                let bytes = recipient.encode()
                #expect(try DeferredRecipient.decode(bytes) == recipient)
            }
        }
    }

    /// Decodes `bytes` with both decoders; any error must be a corrupted or
    /// unsupported-version StoreError.
    static func decodeBoth(_ bytes: [UInt8]) -> (transaction: Bool, recipient: Bool) {
        func check<T>(_ body: () throws -> T) -> Bool {
            do {
                _ = try body()
                return true
            } catch let error as StoreError {
                #expect(error.code == .corrupted || error.code == .unsupportedVersion, "\(error)")
                return false
            } catch {
                Issue.record("not a StoreError: \(error)")
                return false
            }
        }
        return (check { try DeferredTransaction.decode(bytes) }, check { try DeferredRecipient.decode(bytes) })
    }

    @Test func truncatedRecordsAreRefused() {
        for (name, bytes) in Self.records {
            for length in 0..<bytes.count {
                let (t, r) = Self.decodeBoth(Array(bytes.prefix(length)))
                #expect(!t && !r, "\(name) cut to \(length) bytes decoded")
            }
            let (t, r) = Self.decodeBoth(bytes + [0])
            #expect(!t && !r, "\(name) with a trailing byte decoded")
        }
    }

    @Test func everySingleByteChangeDecodesOrThrowsTyped() {
        for (name, bytes) in Self.records {
            for offset in 0..<bytes.count {
                for value in [UInt8(0), 1, 0x7F, 0x80, 0xFF, bytes[offset] ^ 0x20] where value != bytes[offset] {
                    var mutated = bytes
                    mutated[offset] = value
                    let (t, r) = Self.decodeBoth(mutated)
                    // What decodes is canonical: it encodes back to the same bytes.
                    if t { #expect((try? DeferredTransaction.decode(mutated).encode()) == mutated, "\(name) @\(offset)") }
                    if r { #expect((try? DeferredRecipient.decode(mutated).encode()) == mutated, "\(name) @\(offset)") }
                }
            }
        }
    }

    @Test func unknownVersionIsUnsupported() {
        var bytes = Self.fullRecipient.encode()
        bytes[0] = 2
        #expect(throws: StoreError.self) { try DeferredRecipient.decode(bytes) }
        do { _ = try DeferredRecipient.decode(bytes) } catch let error as StoreError {
            #expect(error.code == .unsupportedVersion)
        } catch {}
    }

    @Test func noiseNeverTraps() {
        var rng = SplitMix64(seed: 5)
        for _ in 0..<20_000 {
            var bytes = rng.bytes(rng.below(200))
            if !bytes.isEmpty && rng.coin() { bytes[0] = 1 }
            _ = Self.decodeBoth(bytes)
        }
    }

    @Test func inconsistentRecordsAreRefused() {
        var held = Self.heldRecipient
        held.nextTry = 5
        #expect(held.validationProblem != nil)
        #expect(throws: StoreError.self) { try DeferredRecipient.decode(held.encode()) }
        var deferred = Self.fullRecipient
        deferred.nextTry = nil
        #expect(throws: StoreError.self) { try DeferredRecipient.decode(deferred.encode()) }
        var upper = Self.fullRecipient
        upper.destination = "Example.com"
        #expect(upper.validationProblem != nil)
        var overCounted = Self.fullTransaction
        overCounted.recipientCount = 3
        #expect(throws: StoreError.self) { try DeferredTransaction.decode(overCounted.encode()) }
        #expect(DeliveryReply(code: 199, text: "").isValid == false)
        #expect(DeliveryReply(code: 250, truncating: String(repeating: "€", count: 400)).text.utf8.count <= DeliveryReply.maxTextBytes)
    }

    @Test func keysSortInLogicalOrder() {
        var rng = SplitMix64(seed: 9)
        var keys: [NextTryKey] = []
        for _ in 0..<500 {
            keys.append(NextTryKey(nextTry: rng.next() >> UInt64(rng.below(64)), envelopeID: EnvelopeID(rng.next() >> 40), recipient: UInt32(rng.below(5)) << UInt32(rng.below(28))))
        }
        let byBytes = keys.sorted { DeferredQueueSchema.nextTryKey($0).lexicographicallyPrecedes(DeferredQueueSchema.nextTryKey($1)) }
        #expect(byBytes == keys.sorted())
        for key in keys { #expect(DeferredQueueSchema.decodeNextTryKey(DeferredQueueSchema.nextTryKey(key)) == key) }
        let ids = keys.map { RecipientID($0.envelopeID, $0.recipient) }
        let idsByBytes = ids.sorted { DeferredQueueSchema.recipientKey($0).lexicographicallyPrecedes(DeferredQueueSchema.recipientKey($1)) }
        #expect(idsByBytes == ids.sorted())
        // Destinations sort by name first, whatever their lengths.
        let a = DeferredQueueSchema.destinationKey("a.example", RecipientID(EnvelopeID(.max), .max))
        let b = DeferredQueueSchema.destinationKey("a.example.net", RecipientID(EnvelopeID(0), 0))
        #expect(a.lexicographicallyPrecedes(b))
        let decoded = DeferredQueueSchema.decodeDestinationKey(b)
        #expect(decoded?.destination == "a.example.net" && decoded?.id == RecipientID(EnvelopeID(0), 0))
        #expect(DeferredQueueSchema.decodeDestinationKey([0] + DeferredQueueSchema.recipientKey(RecipientID(EnvelopeID(1), 1))) == nil)
        #expect(DeferredQueueSchema.decodeDestinationKey([1, 2]) == nil)
    }
}
