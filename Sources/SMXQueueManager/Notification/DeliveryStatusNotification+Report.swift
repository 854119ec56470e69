extension DeliveryStatusNotification {
    /// The message/delivery-status body (RFC 3464 §2.1): the per-message fields, then for
    /// each recipient an empty line and its fields, in the order of the RFC's grammar.
    func deliveryStatusBody() -> [UInt8] {
        var out: [UInt8] = []
        if let envelopeID = envelope.envelopeID {
            MessageText.appendField("Original-Envelope-Id", MessageText.sevenBit(envelopeID), to: &out)
        }
        MessageText.appendField("Reporting-MTA", "dns; \(MessageText.sevenBit(configuration.reportingMTA))", to: &out)
        if let receivedFrom = envelope.receivedFrom {
            MessageText.appendField("Received-From-MTA", "dns; \(MessageText.sevenBit(receivedFrom))", to: &out)
        }
        MessageText.appendField("Arrival-Date", envelope.arrival.rfc5322, to: &out)
        for recipient in recipients {
            out += MessageText.crlf
            if let original = recipient.originalRecipient {
                let type = MessageText.sevenBit(original.addressType)
                MessageText.appendField("Original-Recipient", MessageText.address(original.address, type: type), to: &out)
            }
            MessageText.appendField("Final-Recipient", MessageText.address(recipient.finalRecipient, type: "rfc822"), to: &out)
            MessageText.appendField("Action", recipient.action.rawValue, to: &out)
            MessageText.appendField("Status", recipient.status.description, to: &out)
            if let remote = recipient.remoteMTA {
                MessageText.appendField("Remote-MTA", "dns; \(MessageText.sevenBit(remote))", to: &out)
            }
            if let diagnostic = recipient.diagnostic {
                let value = "\(MessageText.sevenBit(diagnostic.type)); \(MessageText.sevenBit(diagnostic.text))"
                MessageText.appendField("Diagnostic-Code", value, to: &out)
            }
            if let lastAttempt = recipient.lastAttempt {
                MessageText.appendField("Last-Attempt-Date", lastAttempt.rfc5322, to: &out)
            }
            if recipient.action == .delayed, let until = recipient.willRetryUntil {
                MessageText.appendField("Will-Retry-Until", until.rfc5322, to: &out)
            }
        }
        return out
    }
}
