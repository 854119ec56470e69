/// The transaction record's bytes (`docs/format/defedb.md`, "Transaction record"): a fixed
/// 84-byte part, then the sender and, when present, the ENVID as varint-length strings.
///
/// Encoding is canonical: absent optional fields are written as zeros and a decoder
/// refuses anything else, so decode(encode(x)) == x and encode(decode(b)) == b. Decoding
/// is total: any bytes decode or throw ``StoreError`` (``StoreError/Code/corrupted``, or
/// ``StoreError/Code/unsupportedVersion`` for a version this code does not know); it
/// never traps or reads out of bounds.
extension DeferredTransaction {
    static let fixedSize = 84

    private static let hasSize: UInt8 = 1
    private static let hasReturn: UInt8 = 2
    private static let hasEnvelopeID: UInt8 = 4
    private static let isSMTPUTF8: UInt8 = 8
    private static let hasDelayNotified: UInt8 = 16
    private static let knownFlags: UInt8 = 31

    /// Why this record cannot be stored, or nil.
    public var validationProblem: String? {
        if sender.utf8.count > DeferredQueueSchema.maxAddressBytes { return "sender of \(sender.utf8.count) bytes" }
        if let envid = mail.envelopeID, envid.utf8.count > DeferredQueueSchema.maxEnvelopeIDBytes {
            return "ENVID of \(envid.utf8.count) bytes"
        }
        if accounted > UInt64(recipientCount) {
            return "counters account for \(accounted) of \(recipientCount) recipients"
        }
        return nil
    }

    public func encode() -> [UInt8] {
        var w = ByteWriter(capacity: Self.fixedSize + sender.utf8.count + 8)
        var flags: UInt8 = 0
        if mail.size != nil { flags |= Self.hasSize }
        if mail.ret != nil { flags |= Self.hasReturn }
        if mail.envelopeID != nil { flags |= Self.hasEnvelopeID }
        if mail.smtpUTF8 { flags |= Self.isSMTPUTF8 }
        if delayNotifiedMicros != nil { flags |= Self.hasDelayNotified }
        w.u8(DeferredQueueSchema.recordVersion)
        w.u8(flags)
        w.u8(mail.body.rawValue)
        w.u8(mail.ret?.rawValue ?? 0)
        w.u64(envelopeID.rawValue)
        w.u64(arrivalMicros)
        w.u64(mail.size ?? 0)
        w.u64(content.id.rawValue)
        w.u64(content.size)
        w.u64(content.checksum)
        for counter in [recipientCount, deferred, held, failed, delivered, bounced] { w.u32(counter) }
        w.u64(delayNotifiedMicros ?? 0)
        w.lengthPrefixed(sender)
        if let envid = mail.envelopeID { w.lengthPrefixed(envid) }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws -> DeferredTransaction {
        var r = ByteReader(bytes, context: "defedb transaction record")
        let version = try r.u8("record version")
        guard version == DeferredQueueSchema.recordVersion else {
            throw StoreError(.unsupportedVersion, "defedb transaction record: version \(version)")
        }
        let flags = try r.u8("flags")
        guard flags & ~knownFlags == 0 else { throw r.corrupted("unknown flags \(flags)") }
        let bodyRaw = try r.u8("body")
        guard let body = MailParameters.Body(rawValue: bodyRaw) else { throw r.corrupted("bad BODY \(bodyRaw)") }
        let retRaw = try r.u8("RET")
        var ret: MailParameters.Return?
        if flags & hasReturn != 0 {
            guard let value = MailParameters.Return(rawValue: retRaw) else { throw r.corrupted("bad RET \(retRaw)") }
            ret = value
        } else if retRaw != 0 {
            throw r.corrupted("RET \(retRaw) without its flag")
        }
        let id = EnvelopeID(try r.u64("envelope id"))
        let arrival = try r.u64("arrival time")
        let sizeRaw = try r.u64("SIZE")
        if flags & hasSize == 0 && sizeRaw != 0 { throw r.corrupted("SIZE without its flag") }
        let content = ContentReference(
            id: ContentID(try r.u64("content id")),
            size: try r.u64("content size"),
            checksum: try r.u64("content checksum")
        )
        let total = try r.u32("recipient count")
        let deferred = try r.u32("deferred count")
        let held = try r.u32("held count")
        let failed = try r.u32("failed count")
        let delivered = try r.u32("delivered count")
        let bounced = try r.u32("bounced count")
        let delayRaw = try r.u64("delay DSN time")
        if flags & hasDelayNotified == 0 && delayRaw != 0 { throw r.corrupted("delay DSN time without its flag") }
        let sender = try string(&r, "sender", limit: DeferredQueueSchema.maxAddressBytes)
        let envid = flags & hasEnvelopeID != 0
            ? try string(&r, "ENVID", limit: DeferredQueueSchema.maxEnvelopeIDBytes) : nil
        try r.expectEnd()
        let transaction = DeferredTransaction(
            envelopeID: id,
            sender: sender,
            mail: MailParameters(
                size: flags & hasSize != 0 ? sizeRaw : nil,
                body: body,
                ret: ret,
                envelopeID: envid,
                smtpUTF8: flags & isSMTPUTF8 != 0
            ),
            content: content,
            arrivalMicros: arrival,
            recipientCount: total,
            deferred: deferred,
            held: held,
            failed: failed,
            delivered: delivered,
            bounced: bounced,
            delayNotifiedMicros: flags & hasDelayNotified != 0 ? delayRaw : nil
        )
        if let problem = transaction.validationProblem { throw r.corrupted(problem) }
        return transaction
    }

    /// A varint-length UTF-8 string of at most `limit` bytes. The length must be written
    /// in the fewest bytes (what the encoder writes), so that every record has one encoding.
    static func string(_ r: inout ByteReader, _ what: StaticString, limit: Int) throws -> String {
        let start = r.position
        let length = try r.count("\(what) length", limit: limit)
        var minimal = 1
        while length >> (7 * minimal) != 0 { minimal += 1 }
        guard r.position - start == minimal else { throw r.corrupted("\(what) length is not minimally encoded") }
        let bytes = try r.raw(length, "\(what)")
        guard let text = String(validating: bytes, as: UTF8.self) else { throw r.corrupted("\(what) is not UTF-8") }
        return text
    }
}
