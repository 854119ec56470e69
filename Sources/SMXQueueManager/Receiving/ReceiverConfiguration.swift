import SMXStore

/// The receiving side's limits. Both are checked as the data arrives, so a client that
/// exceeds one is told at once (RFC 5321 §4.5.3.1) and no memory or disk goes to the
/// excess.
public struct ReceiverConfiguration: Sendable, Equatable {
    /// Most recipients of one transaction. RFC 5321 §4.5.3.1.8 asks for at least 100.
    public var maxRecipients: Int
    /// Most body bytes of one message (as received, after dot-unstuffing); also the limit
    /// a MAIL FROM SIZE= is checked against (RFC 1870).
    public var maxMessageBytes: UInt64

    public static let defaultMaxRecipients = 1_000
    public static let defaultMaxMessageBytes: UInt64 = 50 << 20

    /// The defaults: ``defaultMaxRecipients`` and ``defaultMaxMessageBytes``.
    public init() {
        maxRecipients = Self.defaultMaxRecipients
        maxMessageBytes = Self.defaultMaxMessageBytes
    }

    /// Throws ``ReceiverConfigurationError/invalidLimit(_:)`` when a limit is below 1 or
    /// past what the incoming log can hold.
    public init(maxRecipients: Int, maxMessageBytes: UInt64) throws(ReceiverConfigurationError) {
        guard maxRecipients >= 1 else { throw .invalidLimit("maxRecipients must be at least 1, not \(maxRecipients)") }
        // The incoming log decodes at most this many recipients per transaction.
        guard maxRecipients <= LogRecord.maxRecipients else {
            throw .invalidLimit("maxRecipients must be at most \(LogRecord.maxRecipients), not \(maxRecipients)")
        }
        guard maxMessageBytes >= 1 else { throw .invalidLimit("maxMessageBytes must be at least 1") }
        self.maxRecipients = maxRecipients
        self.maxMessageBytes = maxMessageBytes
    }
}
