/// Random but plausible incoming transactions for workloads: various sender and recipient
/// shapes, every MAIL and RCPT parameter sometimes present, UTF-8 addresses now and then.
public enum TransactionGenerator {
    private static let users = ["alice", "bob", "carol", "d.e-f+tag", "postmaster", "δοκιμή", "x"]
    private static let domains = ["example.org", "mail.example.com", "xn--bcher-kva.example", "例え.jp", "a.b.c.d.example.net"]

    public static func address(_ rng: inout SplitMix64) -> String {
        let user = users[rng.below(users.count)]
        let domain = domains[rng.below(domains.count)]
        return rng.below(4) == 0 ? "\(user)\(rng.below(100_000))@\(domain)" : "\(user)@\(domain)"
    }

    /// A transaction with 1 to `maxRecipients` recipients, all pending.
    public static func transaction(
        id: EnvelopeID,
        rng: inout SplitMix64,
        maxRecipients: Int = 5
    ) -> IncomingTransaction {
        var mail = MailParameters()
        if rng.coin() { mail.size = UInt64(rng.below(50_000_000)) }
        mail.body = MailParameters.Body.allCases[rng.below(MailParameters.Body.allCases.count)]
        if rng.below(3) == 0 { mail.ret = rng.coin() ? .full : .headers }
        if rng.below(3) == 0 { mail.envelopeID = "env-\(rng.next())" }
        mail.smtpUTF8 = rng.below(5) == 0
        let count = 1 + rng.below(maxRecipients)
        let recipients = (0..<count).map { _ in
            Recipient(
                address: address(&rng),
                notify: NotifyFlags(rawValue: UInt8(rng.below(16))),
                originalRecipient: rng.below(4) == 0 ? "rfc822;\(address(&rng))" : nil
            )
        }
        return IncomingTransaction(
            envelopeID: id,
            arrivalMicros: 1_700_000_000_000_000 + rng.next() % 100_000_000_000,
            sender: rng.below(10) == 0 ? "" : address(&rng),
            mail: mail,
            content: ContentReference(id: ContentID(rng.next()), size: UInt64(rng.below(10_000_000)), checksum: rng.next()),
            recipients: recipients
        )
    }
}
