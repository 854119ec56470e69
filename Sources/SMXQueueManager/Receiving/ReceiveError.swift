import SMXStore

/// Why the receiving side did not take a command or a message. Each case says whether the
/// client may try again (``isTemporary``: a 4xx reply) or not (5xx); the SMTP server maps
/// them to reply codes. After any error from ``IncomingMessage/appendBody(_:)-(ArraySlice<UInt8>)``
/// or ``IncomingMessage/commit()`` the message is finished: its body is released and
/// nothing of it is acknowledged.
public enum ReceiveError: Error, Sendable {
    /// Admission's first stage: no new transaction now (451 4.3.2); the text says why.
    case slowDown(String)
    /// Admission's second stage: not taking mail now (451 4.3.2 / 421).
    case refused(String)
    /// DATA or commit without any accepted recipient (554 5.5.1, RFC 5321 §3.3).
    case noRecipients
    /// One RCPT TO more than ``ReceiverConfiguration/maxRecipients`` (452 4.5.3).
    case tooManyRecipients(limit: Int)
    /// The body, or a MAIL FROM SIZE=, exceeds ``ReceiverConfiguration/maxMessageBytes``
    /// (552 5.3.4, RFC 1870).
    case messageTooLarge(limit: UInt64)
    /// A sender, address, ORCPT or ENVID the queue cannot store (too long for the deferred
    /// queue's records: 501 5.5.4).
    case invalidParameter(String)
    /// A call out of order: a recipient after the body started, a second commit, anything
    /// after abort (503 5.5.1). A bug in the caller, reported rather than trapped.
    case badSequence(String)
    /// A store failed (write, sync, full, closed, poisoned): the message is not
    /// acknowledged (451 4.3.0). `noSpace` is the incoming log or content store being full.
    case storage(StoreError)

    /// Whether the client may try again later (a 4xx reply).
    public var isTemporary: Bool {
        switch self {
        case .slowDown, .refused, .tooManyRecipients, .storage: true
        case .noRecipients, .messageTooLarge, .invalidParameter, .badSequence: false
        }
    }

    /// Wraps what a store threw: a ``StoreError`` as it is, anything else as an I/O
    /// failure naming it.
    static func wrapping(_ error: any Error) -> ReceiveError {
        if let error = error as? StoreError { return .storage(error) }
        return .storage(StoreError(.io, "receiving: \(error)", cause: error))
    }
}
