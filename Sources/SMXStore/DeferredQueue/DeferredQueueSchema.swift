/// The deferred queue's schema on top of ``BTreeFile``: tree names, key layouts, record
/// versions and the bounds decoders apply (`docs/format/defedb.md`, "Queue schema",
/// describes the same bytes; change both together).
///
/// Keys are big-endian so that byte order is logical order: transactions by envelope id,
/// recipients by (envelope id, index), the next-try index by (next try, envelope id,
/// index), the destination index by (destination, envelope id, index), the hold set by
/// (envelope id, index). Index and hold-set values are empty: the key is the entry.
public enum DeferredQueueSchema {
    /// Envelope id → ``DeferredTransaction`` record.
    public static let transactions = "queue.transactions"
    /// (envelope id, index) → ``DeferredRecipient`` record.
    public static let recipients = "queue.recipients"
    /// (next try, envelope id, index) → empty: recipients in the order they are due.
    public static let nextTry = "queue.nexttry"
    /// (destination, 0x00, envelope id, index) → empty: recipients by where they go.
    public static let destinations = "queue.destinations"
    /// (envelope id, index) → empty: the held recipients.
    public static let hold = "queue.hold"

    public static let allTrees = [transactions, recipients, nextTry, destinations, hold]

    /// First byte of every record value written by this code.
    public static let recordVersion: UInt8 = 1

    /// Longest sender, address and ORCPT, in UTF-8 bytes.
    public static let maxAddressBytes = 1024
    /// Longest ENVID (RFC 3461 allows 100 characters; kept with room for xtext decoding).
    public static let maxEnvelopeIDBytes = 255
    /// Longest destination, in bytes (a domain name is at most 255).
    public static let maxDestinationBytes = 255

    // MARK: - Keys

    public static let transactionKeySize = 8
    public static let recipientKeySize = 12
    public static let nextTryKeySize = 20

    static func appendBigEndian<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    static func bigEndianU64(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }

    static func bigEndianU32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }

    public static func transactionKey(_ id: EnvelopeID) -> [UInt8] {
        var key: [UInt8] = []
        key.reserveCapacity(transactionKeySize)
        appendBigEndian(id.rawValue, to: &key)
        return key
    }

    public static func recipientKey(_ id: RecipientID) -> [UInt8] {
        var key: [UInt8] = []
        key.reserveCapacity(recipientKeySize)
        appendBigEndian(id.envelopeID.rawValue, to: &key)
        appendBigEndian(id.index, to: &key)
        return key
    }

    /// The first recipient key of an envelope (index 0); its recipients are the keys that
    /// start with the transaction key.
    public static func firstRecipientKey(_ id: EnvelopeID) -> [UInt8] {
        recipientKey(RecipientID(id, 0))
    }

    public static func nextTryKey(_ key: NextTryKey) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(nextTryKeySize)
        appendBigEndian(key.nextTry, to: &bytes)
        appendBigEndian(key.envelopeID.rawValue, to: &bytes)
        appendBigEndian(key.recipient, to: &bytes)
        return bytes
    }

    /// The destination bytes, a 0x00 separator (destinations hold no NUL, so the index
    /// sorts by destination first), then the recipient key.
    public static func destinationKey(_ destination: String, _ id: RecipientID) -> [UInt8] {
        destinationPrefix(destination) + recipientKey(id)
    }

    /// Every destination-index key of `destination` starts with these bytes.
    public static func destinationPrefix(_ destination: String) -> [UInt8] {
        Array(destination.utf8) + [0]
    }

    public static func holdKey(_ id: RecipientID) -> [UInt8] { recipientKey(id) }

    // MARK: - Decoding keys

    public static func decodeTransactionKey(_ key: [UInt8]) -> EnvelopeID? {
        guard key.count == transactionKeySize else { return nil }
        return EnvelopeID(bigEndianU64(key[...]))
    }

    public static func decodeRecipientKey(_ key: [UInt8]) -> RecipientID? {
        guard key.count == recipientKeySize else { return nil }
        return recipientID(key[...])
    }

    public static func decodeNextTryKey(_ key: [UInt8]) -> NextTryKey? {
        guard key.count == nextTryKeySize else { return nil }
        return NextTryKey(
            nextTry: bigEndianU64(key[0..<8]),
            envelopeID: EnvelopeID(bigEndianU64(key[8..<16])),
            recipient: bigEndianU32(key[16..<20])
        )
    }

    /// (destination, recipient) of a destination-index key; nil when the key is not one.
    public static func decodeDestinationKey(_ key: [UInt8]) -> (destination: String, id: RecipientID)? {
        let split = key.count - recipientKeySize - 1
        guard split >= 1, split <= maxDestinationBytes, key[split] == 0 else { return nil }
        let name = key[..<split]
        guard !name.contains(0), let destination = String(validating: name, as: UTF8.self) else { return nil }
        return (destination, recipientID(key[(split + 1)...]))
    }

    private static func recipientID(_ bytes: ArraySlice<UInt8>) -> RecipientID {
        let start = bytes.startIndex
        return RecipientID(
            EnvelopeID(bigEndianU64(bytes[start..<(start + 8)])),
            bigEndianU32(bytes[(start + 8)..<(start + 12)])
        )
    }

    // MARK: - Argument checks shared by writers and decoders

    /// Why `destination` cannot be stored, or nil: 1...255 bytes, no NUL, no upper-case
    /// ASCII letter.
    public static func destinationProblem(_ destination: String) -> String? {
        let bytes = destination.utf8
        if bytes.isEmpty { return "destination is empty" }
        if bytes.count > maxDestinationBytes { return "destination of \(bytes.count) bytes (at most \(maxDestinationBytes))" }
        if bytes.contains(0) { return "destination contains NUL" }
        if bytes.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) { return "destination is not lower-cased" }
        return nil
    }
}
