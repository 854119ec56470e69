extension DeliveryStatusNotification {
    /// The text/plain first part: what happened, for a person.
    func summaryBody() -> [UInt8] {
        let host = MessageText.sevenBit(configuration.reportingMTA)
        var paragraphs = ["This is the mail system at \(host).", ""]
        switch kind {
        case .failure:
            paragraphs.append("Your message could not be delivered to one or more of its recipients. The reason for each is given below.")
        case .delay:
            paragraphs.append(
                "Your message has not yet been delivered to one or more of its recipients. The mail system will keep trying"
                    + " until the time given below; you do not need to send it again."
            )
        case .success:
            paragraphs.append("Your message was delivered to the recipients below, or passed on to a system that does not report delivery.")
        }
        switch returned {
        case .headers(becauseTooLarge: true):
            paragraphs += ["", "Your message was larger than \(configuration.returnedMessageLimit) bytes, so only its headers are attached."]
        case .headers(becauseTooLarge: false), .message, .nothing:
            break
        }
        if envelope.sender.isEmpty {
            paragraphs += ["", "This report goes to the postmaster: the message had no return address, so its sender cannot be told."]
        }
        var out: [UInt8] = []
        MessageText.appendParagraphs(paragraphs + [""], to: &out)
        for recipient in recipients {
            let address = MessageText.sevenBit(recipient.finalRecipient)
            MessageText.appendParagraphs(["<\(address)>: \(recipient.action.rawValue), status \(recipient.status)"], to: &out)
            var details: [String] = []
            if let diagnostic = recipient.diagnostic {
                let text = MessageText.sevenBit(diagnostic.text)
                details.append(recipient.remoteMTA.map { "\(MessageText.sevenBit($0)) said: \(text)" } ?? text)
            }
            if recipient.action == .delayed, let until = recipient.willRetryUntil {
                details.append("Will retry until \(until.rfc5322).")
            }
            MessageText.appendParagraphs(details, indent: "    ", to: &out)
            out += MessageText.crlf
        }
        let postmaster = MessageText.sevenBit(configuration.postmaster)
        MessageText.appendParagraphs(["For help, forward this report to <\(postmaster)>."], to: &out)
        return out
    }
}
