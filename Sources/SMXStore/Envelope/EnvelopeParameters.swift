/// The ESMTP parameters of MAIL FROM that a queue must keep (RFC 1870 SIZE, RFC 6152 /
/// RFC 3030 BODY, RFC 3461 RET and ENVID, RFC 6531 SMTPUTF8).
public struct MailParameters: Equatable, Sendable {
    public enum Body: UInt8, Sendable, CaseIterable {
        case unspecified = 0
        case sevenBit = 1
        case eightBitMIME = 2
        case binaryMIME = 3
    }

    /// RFC 3461 RET: what a failure DSN returns of the message.
    public enum Return: UInt8, Sendable, CaseIterable {
        case full = 1
        case headers = 2
    }

    public var size: UInt64?
    public var body: Body
    public var ret: Return?
    /// RFC 3461 ENVID, xtext-decoded.
    public var envelopeID: String?
    public var smtpUTF8: Bool

    public init(
        size: UInt64? = nil,
        body: Body = .unspecified,
        ret: Return? = nil,
        envelopeID: String? = nil,
        smtpUTF8: Bool = false
    ) {
        self.size = size
        self.body = body
        self.ret = ret
        self.envelopeID = envelopeID
        self.smtpUTF8 = smtpUTF8
    }
}

/// RFC 3461 NOTIFY. Empty means the client gave no NOTIFY (the default applies).
public struct NotifyFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let never = NotifyFlags(rawValue: 1)
    public static let success = NotifyFlags(rawValue: 2)
    public static let failure = NotifyFlags(rawValue: 4)
    public static let delay = NotifyFlags(rawValue: 8)
    public static let all: NotifyFlags = [.never, .success, .failure, .delay]
}

/// Where one recipient stands in the incoming log.
public enum RecipientState: UInt8, Sendable, CaseIterable {
    /// Not yet delivered, bounced or moved.
    case pending = 0
    case delivered = 1
    /// Failed permanently; the deferred queue holds it for the DSN (rule 3).
    case failedPermanently = 2
    /// Failed temporarily; the deferred queue owns it now (rule 3).
    case movedToDeferred = 3
}

/// One envelope recipient with its RCPT TO parameters.
public struct Recipient: Equatable, Sendable {
    public var address: String
    public var notify: NotifyFlags
    /// RFC 3461 ORCPT, as "addr-type;xtext-decoded-address".
    public var originalRecipient: String?
    public var state: RecipientState

    public init(
        address: String,
        notify: NotifyFlags = [],
        originalRecipient: String? = nil,
        state: RecipientState = .pending
    ) {
        self.address = address
        self.notify = notify
        self.originalRecipient = originalRecipient
        self.state = state
    }
}

/// Which body an envelope refers to, with what the receiving side measured, so recovery
/// can check the body exists and verifies before trusting the envelope.
public struct ContentReference: Equatable, Sendable {
    public var id: ContentID
    public var size: UInt64
    public var checksum: UInt64

    public init(id: ContentID, size: UInt64, checksum: UInt64) {
        self.id = id
        self.size = size
        self.checksum = checksum
    }
}
