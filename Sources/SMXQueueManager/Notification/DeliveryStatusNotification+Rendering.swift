extension DeliveryStatusNotification {
    /// The complete notification: RFC 5322 header, then multipart/report
    /// (report-type=delivery-status, RFC 6522) with the summary (text/plain), the report
    /// (message/delivery-status) and, when the original is available, its headers
    /// (text/rfc822-headers) or, for a failure with RET=FULL, the whole message
    /// (message/rfc822).
    ///
    /// Every line ends in CRLF and has at most 998 octets: generated fields are folded, and
    /// lines of the returned content are re-ended with CRLF and broken at 998 octets (the
    /// only change made to it). The generated parts are 7-bit; see
    /// ``NotificationMessage/containsEightBitData``.
    public func render() -> NotificationMessage {
        let summary = summaryBody()
        let report = deliveryStatusBody()
        let returnedPart: (description: String, type: String, body: [UInt8])?
        switch returned {
        case .nothing:
            returnedPart = nil
        case .message:
            returnedPart = ("Undelivered Message", "message/rfc822", MessageText.normalizedLines(originalMessage[...]))
        case .headers:
            let description = kind == .failure ? "Undelivered Message Headers" : "Message Headers"
            returnedPart = (description, "text/rfc822-headers", MessageText.normalizedLines(Self.headerSection(of: originalMessage)))
        }
        let returnedIsEightBit = returnedPart?.body.contains { $0 >= 0x80 } ?? false
        let boundary = MIMEBoundary.choose(seed: boundarySeed, avoiding: [summary, report, returnedPart?.body ?? []])

        var out: [UInt8] = []
        func line(_ text: String) { out += Array(text.utf8) + MessageText.crlf }
        MessageText.appendField("From", "Mail Delivery System <\(MessageText.sevenBit(configuration.fromAddress))>", to: &out)
        // The address is written as given but for line breaks: a UTF-8 address needs SMTPUTF8
        // anyway (RFC 6532). Folding cuts only words over 997 bytes, which SMTP's 256-octet
        // path limit rules out.
        MessageText.appendField("To", "<\(deliverTo.replacing("\r", with: "").replacing("\n", with: ""))>", to: &out)
        MessageText.appendField("Subject", kind.subject, to: &out)
        MessageText.appendField("Date", date.rfc5322, to: &out)
        MessageText.appendField("Message-ID", "<\(MessageText.sevenBit(messageID))>", to: &out)
        line("Auto-Submitted: auto-replied")
        line("MIME-Version: 1.0")
        MessageText.appendField("Content-Type", "multipart/report; report-type=delivery-status; boundary=\"\(boundary)\"", to: &out)
        if returnedIsEightBit { line("Content-Transfer-Encoding: 8bit") }
        line("")
        line("This is a MIME-encapsulated message.")
        line("")
        line("--\(boundary)")
        line("Content-Description: Notification")
        line("Content-Type: text/plain; charset=us-ascii")
        line("")
        out += summary + MessageText.crlf
        line("--\(boundary)")
        line("Content-Description: Delivery report")
        line("Content-Type: message/delivery-status")
        line("")
        out += report + MessageText.crlf
        if let returnedPart {
            line("--\(boundary)")
            line("Content-Description: \(returnedPart.description)")
            line("Content-Type: \(returnedPart.type)")
            if returnedIsEightBit { line("Content-Transfer-Encoding: 8bit") }
            line("")
            out += returnedPart.body + MessageText.crlf
        }
        line("--\(boundary)--")
        return NotificationMessage(bytes: out, boundary: boundary, containsEightBitData: out.contains { $0 >= 0x80 })
    }

    /// The header section of `message`: everything before its first empty line (the whole
    /// message when there is none). Lines may end in CRLF or LF.
    static func headerSection(of message: [UInt8]) -> ArraySlice<UInt8> {
        var lineStart = 0
        var index = 0
        while index < message.count {
            if message[index] == 0x0A {
                let length = index - lineStart
                if length == 0 || (length == 1 && message[lineStart] == 0x0D) { return message[..<lineStart] }
                lineStart = index + 1
            }
            index += 1
        }
        return message[...]
    }
}
