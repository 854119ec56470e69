/// The records of the incoming log (the seed's IBDB) and their payload encodings.
///
/// Every payload starts with an encoding version byte; see `docs/format/ibdb.md` for the
/// bytes. Decoding is total: any input either decodes or throws
/// ``StoreError/Code/corrupted``; it never traps or reads out of bounds.
public enum LogRecord: Equatable, Sendable {
    /// A received transaction. Committing it (and its body, in the content store) is what
    /// rule 1 requires before the 250 reply.
    case transaction(IncomingTransaction)
    /// What happened to one recipient: delivered, failed permanently (held in the deferred
    /// queue for the DSN) or moved to the deferred queue, with the reply text.
    case outcome(EnvelopeID, recipient: Int, RecipientState, reply: String)
    /// The transaction needs nothing more from the incoming log.
    case closed(EnvelopeID, CloseReason)
    /// A copy of a still-open transaction, with its recipients' states, written into a
    /// newer segment so the older one can be recycled. Supersedes earlier copies.
    case carriedForward(IncomingTransaction)
    /// The last record of a segment that the log moved on from.
    case seal

    public var envelopeID: EnvelopeID? {
        switch self {
        case .transaction(let t), .carriedForward(let t): t.envelopeID
        case .outcome(let id, _, _, _), .closed(let id, _): id
        case .seal: nil
        }
    }
}

public enum CloseReason: UInt8, Sendable, CaseIterable {
    /// Every recipient was delivered or failed permanently.
    case completed = 1
    /// The remaining recipients are in the deferred queue now.
    case movedToDeferred = 2
    /// Removed by an operator (delete) or discarded by recovery.
    case discarded = 3
}

/// Record type bytes (the frame's `type` field) for the incoming log.
public enum LogRecordType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case transaction = 1
    case outcome = 2
    case closed = 3
    case carriedForward = 4
    case seal = 5

    public var description: String {
        switch self {
        case .transaction: "transaction"
        case .outcome: "outcome"
        case .closed: "closed"
        case .carriedForward: "carried-forward"
        case .seal: "seal"
        }
    }

    /// What a decoder names in its errors.
    var decodingContext: String {
        switch self {
        case .transaction: "ibdb transaction record"
        case .outcome: "ibdb outcome record"
        case .closed: "ibdb closed record"
        case .carriedForward: "ibdb carried-forward record"
        case .seal: "ibdb seal record"
        }
    }
}

extension LogRecord {
    /// Version of the payload encodings written by this code.
    public static let encodingVersion: UInt8 = 1
    /// Bounds a decoder applies before allocating (hostile input).
    public static let maxRecipients = 100_000
    public static let maxStringBytes = 64 * 1024

    public var type: LogRecordType {
        switch self {
        case .transaction: .transaction
        case .outcome: .outcome
        case .closed: .closed
        case .carriedForward: .carriedForward
        case .seal: .seal
        }
    }

    public func encodePayload() -> [UInt8] {
        var w = ByteWriter(capacity: 256)
        w.u8(LogRecord.encodingVersion)
        switch self {
        case .transaction(let t), .carriedForward(let t):
            Self.encode(t, into: &w)
        case .outcome(let id, let index, let state, let reply):
            w.u64(id.rawValue)
            w.varint(index)
            w.u8(state.rawValue)
            w.lengthPrefixed(reply)
        case .closed(let id, let reason):
            w.u64(id.rawValue)
            w.u8(reason.rawValue)
        case .seal:
            break
        }
        return w.bytes
    }

    private static let hasSize: UInt8 = 1
    private static let hasReturn: UInt8 = 2
    private static let hasEnvelopeID: UInt8 = 4
    private static let isSMTPUTF8: UInt8 = 8
    private static let hasOriginalRecipient: UInt8 = 1

    private static func encode(_ t: IncomingTransaction, into w: inout ByteWriter) {
        w.u64(t.envelopeID.rawValue)
        w.varint(t.arrivalMicros)
        w.lengthPrefixed(t.sender)
        var flags: UInt8 = 0
        if t.mail.size != nil { flags |= hasSize }
        if t.mail.ret != nil { flags |= hasReturn }
        if t.mail.envelopeID != nil { flags |= hasEnvelopeID }
        if t.mail.smtpUTF8 { flags |= isSMTPUTF8 }
        w.u8(flags)
        w.u8(t.mail.body.rawValue)
        if let size = t.mail.size { w.varint(size) }
        if let ret = t.mail.ret { w.u8(ret.rawValue) }
        if let envid = t.mail.envelopeID { w.lengthPrefixed(envid) }
        w.u64(t.content.id.rawValue)
        w.varint(t.content.size)
        w.u64(t.content.checksum)
        w.varint(t.recipients.count)
        for r in t.recipients {
            w.lengthPrefixed(r.address)
            w.u8(r.notify.rawValue)
            w.u8(r.state.rawValue)
            w.u8(r.originalRecipient == nil ? 0 : hasOriginalRecipient)
            if let orcpt = r.originalRecipient { w.lengthPrefixed(orcpt) }
        }
    }

    /// Decodes a payload of the given frame type.
    public static func decode(type: UInt8, payload: ArraySlice<UInt8>) throws -> LogRecord {
        guard let kind = LogRecordType(rawValue: type) else {
            throw StoreError(.corrupted, "ibdb record: unknown type \(type)")
        }
        var r = ByteReader(payload, context: kind.decodingContext)
        let version = try r.u8("encoding version")
        guard version == encodingVersion else {
            throw StoreError(.unsupportedVersion, "ibdb \(kind) record: encoding version \(version)")
        }
        let record: LogRecord
        switch kind {
        case .transaction:
            record = .transaction(try decodeTransaction(&r))
        case .carriedForward:
            record = .carriedForward(try decodeTransaction(&r))
        case .outcome:
            let id = EnvelopeID(try r.u64("envelope id"))
            let index = try r.count("recipient index", limit: maxRecipients - 1)
            let stateRaw = try r.u8("state")
            guard let state = RecipientState(rawValue: stateRaw), state != .pending else {
                throw r.corrupted("bad outcome \(stateRaw)")
            }
            let reply = try string(&r, "reply")
            record = .outcome(id, recipient: index, state, reply: reply)
        case .closed:
            let id = EnvelopeID(try r.u64("envelope id"))
            let reasonRaw = try r.u8("reason")
            guard let reason = CloseReason(rawValue: reasonRaw) else {
                throw r.corrupted("bad close reason \(reasonRaw)")
            }
            record = .closed(id, reason)
        case .seal:
            record = .seal
        }
        try r.expectEnd()
        return record
    }

    public static func decode(type: UInt8, payload: [UInt8]) throws -> LogRecord {
        try decode(type: type, payload: payload[...])
    }

    private static func string(_ r: inout ByteReader, _ what: StaticString) throws -> String {
        let bytes = try r.lengthPrefixed("\(what)", limit: maxStringBytes)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw r.corrupted("\(what) is not UTF-8")
        }
        return text
    }

    private static func decodeTransaction(_ r: inout ByteReader) throws -> IncomingTransaction {
        let id = EnvelopeID(try r.u64("envelope id"))
        let arrival = try r.varint("arrival time")
        let sender = try string(&r, "sender")
        let flags = try r.u8("mail flags")
        guard flags & ~(hasSize | hasReturn | hasEnvelopeID | isSMTPUTF8) == 0 else {
            throw r.corrupted("unknown mail flags \(flags)")
        }
        let bodyRaw = try r.u8("body")
        guard let body = MailParameters.Body(rawValue: bodyRaw) else {
            throw r.corrupted("bad BODY \(bodyRaw)")
        }
        var mail = MailParameters(body: body, smtpUTF8: flags & isSMTPUTF8 != 0)
        if flags & hasSize != 0 { mail.size = try r.varint("size") }
        if flags & hasReturn != 0 {
            let raw = try r.u8("ret")
            guard let ret = MailParameters.Return(rawValue: raw) else { throw r.corrupted("bad RET \(raw)") }
            mail.ret = ret
        }
        if flags & hasEnvelopeID != 0 { mail.envelopeID = try string(&r, "envid") }
        let content = ContentReference(
            id: ContentID(try r.u64("content id")),
            size: try r.varint("content size"),
            checksum: try r.u64("content checksum")
        )
        let count = try r.count("recipient count", limit: min(maxRecipients, r.remaining / 4))
        guard count > 0 else { throw r.corrupted("transaction without recipients") }
        var recipients: [Recipient] = []
        recipients.reserveCapacity(count)
        for _ in 0..<count {
            let address = try string(&r, "recipient address")
            let notifyRaw = try r.u8("notify")
            guard notifyRaw & ~NotifyFlags.all.rawValue == 0 else { throw r.corrupted("bad NOTIFY \(notifyRaw)") }
            let stateRaw = try r.u8("recipient state")
            guard let state = RecipientState(rawValue: stateRaw) else {
                throw r.corrupted("bad recipient state \(stateRaw)")
            }
            let rflags = try r.u8("recipient flags")
            guard rflags & ~hasOriginalRecipient == 0 else { throw r.corrupted("bad recipient flags \(rflags)") }
            let orcpt = rflags & hasOriginalRecipient != 0 ? try string(&r, "orcpt") : nil
            recipients.append(Recipient(
                address: address,
                notify: NotifyFlags(rawValue: notifyRaw),
                originalRecipient: orcpt,
                state: state
            ))
        }
        return IncomingTransaction(
            envelopeID: id,
            arrivalMicros: arrival,
            sender: sender,
            mail: mail,
            content: content,
            recipients: recipients
        )
    }
}
