/// The recipient record's bytes (`docs/format/defedb.md`, "Recipient record"): a fixed
/// 46-byte part, then the address, the destination and, when present, the ORCPT and the
/// last reply's text as varint-length strings.
///
/// Canonical and total, like ``DeferredTransaction``'s encoding: absent fields are zeros,
/// a decoder refuses anything it would not write (unknown flags or status, a held
/// recipient with a next try, a bad destination, trailing bytes) with
/// ``StoreError/Code/corrupted`` and an unknown version with
/// ``StoreError/Code/unsupportedVersion``; it never traps or reads out of bounds.
extension DeferredRecipient {
    static let fixedSize = 46

    private static let hasNextTry: UInt8 = 1
    private static let hasFirstFailure: UInt8 = 2
    private static let hasLastAttempt: UInt8 = 4
    private static let hasOriginalRecipient: UInt8 = 8
    private static let hasLastReply: UInt8 = 16
    private static let isDelayReported: UInt8 = 32
    private static let knownFlags: UInt8 = 63

    /// Why this record cannot be stored, or nil.
    public var validationProblem: String? {
        if address.utf8.count > DeferredQueueSchema.maxAddressBytes { return "address of \(address.utf8.count) bytes" }
        if let orcpt = originalRecipient, orcpt.utf8.count > DeferredQueueSchema.maxAddressBytes {
            return "ORCPT of \(orcpt.utf8.count) bytes"
        }
        if let problem = DeferredQueueSchema.destinationProblem(destination) { return problem }
        if let reply = lastReply, !reply.isValid { return "reply code \(reply.code) or text of \(reply.text.utf8.count) bytes" }
        if notify.rawValue & ~NotifyFlags.all.rawValue != 0 { return "unknown NOTIFY bits \(notify.rawValue)" }
        switch (status, nextTry) {
        case (.held, .some): return "a held recipient has a next try"
        case (.deferred, .none), (.failed, .none): return "a \(status) recipient has no next try"
        default: return nil
        }
    }

    public func encode() -> [UInt8] {
        var w = ByteWriter(capacity: Self.fixedSize + address.utf8.count + destination.utf8.count + 8)
        var flags: UInt8 = 0
        if nextTry != nil { flags |= Self.hasNextTry }
        if firstFailureMicros != nil { flags |= Self.hasFirstFailure }
        if lastAttemptMicros != nil { flags |= Self.hasLastAttempt }
        if originalRecipient != nil { flags |= Self.hasOriginalRecipient }
        if lastReply != nil { flags |= Self.hasLastReply }
        if delayReported { flags |= Self.isDelayReported }
        w.u8(DeferredQueueSchema.recordVersion)
        w.u8(status.rawValue)
        w.u8(flags)
        w.u8(notify.rawValue)
        w.u64(id.envelopeID.rawValue)
        w.u32(id.index)
        w.u32(attempts)
        w.u64(nextTry ?? 0)
        w.u64(firstFailureMicros ?? 0)
        w.u64(lastAttemptMicros ?? 0)
        w.u16(lastReply?.code ?? 0)
        w.lengthPrefixed(address)
        w.lengthPrefixed(destination)
        if let orcpt = originalRecipient { w.lengthPrefixed(orcpt) }
        if let reply = lastReply { w.lengthPrefixed(reply.text) }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws -> DeferredRecipient {
        var r = ByteReader(bytes, context: "defedb recipient record")
        let version = try r.u8("record version")
        guard version == DeferredQueueSchema.recordVersion else {
            throw StoreError(.unsupportedVersion, "defedb recipient record: version \(version)")
        }
        let statusRaw = try r.u8("status")
        guard let status = Status(rawValue: statusRaw) else { throw r.corrupted("bad status \(statusRaw)") }
        let flags = try r.u8("flags")
        guard flags & ~knownFlags == 0 else { throw r.corrupted("unknown flags \(flags)") }
        let notify = NotifyFlags(rawValue: try r.u8("NOTIFY"))
        let envelope = EnvelopeID(try r.u64("envelope id"))
        let index = try r.u32("index")
        let attempts = try r.u32("attempts")
        func optional(_ bit: UInt8, _ what: StaticString) throws -> UInt64? {
            let value = try r.u64("\(what)")
            if flags & bit != 0 { return value }
            if value != 0 { throw r.corrupted("\(what) without its flag") }
            return nil
        }
        let nextTry = try optional(hasNextTry, "next try")
        let firstFailure = try optional(hasFirstFailure, "first failure time")
        let lastAttempt = try optional(hasLastAttempt, "last attempt time")
        let code = try r.u16("reply code")
        if flags & hasLastReply == 0 && code != 0 { throw r.corrupted("reply code without its flag") }
        let address = try DeferredTransaction.string(&r, "address", limit: DeferredQueueSchema.maxAddressBytes)
        let destination = try DeferredTransaction.string(&r, "destination", limit: DeferredQueueSchema.maxDestinationBytes)
        let orcpt = flags & hasOriginalRecipient != 0
            ? try DeferredTransaction.string(&r, "ORCPT", limit: DeferredQueueSchema.maxAddressBytes) : nil
        let reply = flags & hasLastReply != 0
            ? DeliveryReply(code: code, text: try DeferredTransaction.string(&r, "reply text", limit: DeliveryReply.maxTextBytes))
            : nil
        try r.expectEnd()
        let recipient = DeferredRecipient(
            id: RecipientID(envelope, index),
            address: address,
            notify: notify,
            originalRecipient: orcpt,
            destination: destination,
            status: status,
            attempts: attempts,
            firstFailureMicros: firstFailure,
            lastAttemptMicros: lastAttempt,
            lastReply: reply,
            nextTry: nextTry,
            delayReported: flags & isDelayReported != 0
        )
        if let problem = recipient.validationProblem { throw r.corrupted(problem) }
        return recipient
    }
}
