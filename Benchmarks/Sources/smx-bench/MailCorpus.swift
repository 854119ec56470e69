#if canImport(Glibc)
import Glibc
#endif

/// SplitMix64 (Steele, Lea and Flood): a tiny, fast, seeded generator, so every run and
/// every machine sees the same corpus.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A seeded, deterministic generator of realistic mail messages, as an MTA receives them
/// (CRLF lines, complete RFC 5322 header and MIME body), to measure compression and to
/// feed the body store with bytes that compress as production mail does.
///
/// Every message has a header block of 1 to 4 `Received` hops (host names, IPv4 or IPv6
/// addresses, ESMTP ids, dates a few seconds apart), then usually (not for the smallest
/// bodies) `Authentication-Results`, a `DKIM-Signature` whose `bh=` and `b=` values are
/// random base64 (as real signatures are), then `Message-ID`, `Date`, `From`, `To`,
/// `Subject`, `MIME-Version` and `Content-Type`. The mix ``next()`` draws from, by count:
///
/// - 35 % plain text: one to six paragraphs of prose, wrapped at 72 columns, and a signature;
/// - 25 % replies: a few new lines, an attribution line, then the quoted earlier message
///   (`> `), going one quoting level deeper (`>> `, up to four) at earlier attributions;
/// - 30 % newsletters: `multipart/alternative` with a `text/plain` part and a
///   quoted-printable `text/html` part carrying the same 3 to 10 articles in a table layout
///   with a style sheet, inline styles, images, per-link tracking URLs and a tracking pixel;
/// - 10 % with attachments: `multipart/mixed`, a plain-text part and one or two base64
///   attachments (PDF, JPEG or ZIP, 20 KB to 3 MB log-uniform) whose bytes are
///   pseudo-random, like already-compressed files, wrapped at 76 columns.
///
/// Prose draws from a vocabulary of about 500 English words with Zipf frequencies
/// (exponent 1), plus names, numbers, times and prices; one sentence in six is a stock
/// phrase of mail ("Please let me know if you have any questions."). Compression ratios
/// thus come from word statistics, not from repeated text. Each message also has a "text"
/// view: the same bytes without the attachments' base64 lines (headers, text and HTML
/// parts only).
struct MailCorpus {
    enum Kind: String, CaseIterable, Sendable {
        case plain, reply, newsletter, attachment
    }

    struct Message {
        var kind: Kind
        /// The whole message.
        var bytes: [UInt8]
        /// The message without its attachments' base64 lines.
        var text: [UInt8]
    }

    private var random: SplitMix64
    private var clock: UInt64 = 1_732_604_639
    private var messageCount = 0

    init(seed: UInt64) {
        random = SplitMix64(seed: seed)
    }

    /// The next message of the mix.
    mutating func next() -> Message {
        let roll = Int.random(in: 0..<100, using: &random)
        let kind: Kind = roll < 35 ? .plain : roll < 60 ? .reply : roll < 90 ? .newsletter : .attachment
        return message(kind, minimumBytes: 0, fullHeaders: true)
    }

    /// A message cut to exactly `size` bytes, of the kind production mail of that size
    /// mostly is: below 4 KiB a short plain mail with a light header (no DKIM); up to
    /// 256 KiB two newsletters for one long reply thread; above that a mail with a
    /// base64 attachment filling the size. Generated to at least `size` bytes, then cut.
    mutating func body(size: Int) -> [UInt8] {
        var minimum = size
        while true {
            var message: Message
            if size < 4096 {
                message = self.message(.plain, minimumBytes: minimum, fullHeaders: false)
            } else if size <= 256 << 10 {
                let kind: Kind = messageCount % 3 == 2 ? .reply : .newsletter
                message = self.message(kind, minimumBytes: minimum, fullHeaders: true)
            } else {
                message = self.message(.attachment, minimumBytes: minimum, fullHeaders: true)
            }
            if message.bytes.count >= size {
                message.bytes.removeSubrange(size...)
                return message.bytes
            }
            minimum += size - message.bytes.count + 1024
        }
    }

    // MARK: Messages

    private mutating func message(_ kind: Kind, minimumBytes: Int, fullHeaders: Bool) -> Message {
        messageCount += 1
        clock += UInt64.random(in: 1...600, using: &random)
        var out = MessageBuffer()
        let sender = person()
        let recipient = person()
        let subject: String
        switch kind {
        case .plain, .attachment: subject = sentence(words: 3...8, end: "")
        case .reply: subject = "Re: " + sentence(words: 3...8, end: "")
        case .newsletter: subject = pick(Self.newsletterTitles) + ": " + sentence(words: 4...9, end: "")
        }
        header(&out, from: sender, to: recipient, subject: subject, kind: kind, fullHeaders: fullHeaders)
        switch kind {
        case .plain:
            out.line("Content-Type: text/plain; charset=\"UTF-8\"")
            out.line("Content-Transfer-Encoding: 7bit")
            out.line("")
            plainBody(&out, sender: sender, minimumBytes: minimumBytes)
        case .reply:
            out.line("Content-Type: text/plain; charset=\"UTF-8\"")
            out.line("Content-Transfer-Encoding: 8bit")
            out.line("")
            replyBody(&out, sender: sender, quoted: recipient, minimumBytes: minimumBytes)
        case .newsletter:
            newsletterBody(&out, subject: subject, sender: sender, minimumBytes: minimumBytes)
        case .attachment:
            attachmentBody(&out, sender: sender, minimumBytes: minimumBytes)
        }
        return Message(kind: kind, bytes: out.all, text: out.text)
    }

    private mutating func header(
        _ out: inout MessageBuffer, from sender: Person, to recipient: Person, subject: String, kind: Kind, fullHeaders: Bool
    ) {
        let hops = fullHeaders ? Int.random(in: 2...4, using: &random) : Int.random(in: 1...2, using: &random)
        var hopTime = clock
        out.line("Return-Path: <\(kind == .newsletter ? "bounce-\(hex(8))" : sender.local)@\(sender.domain)>")
        for hop in 0..<hops {
            let from = hop == hops - 1 ? "mail-\(word())\(Int.random(in: 1...40, using: &random)).\(sender.domain)" : relayHost()
            let by = hop == 0 ? "mx\(Int.random(in: 1...4, using: &random)).\(recipient.domain)" : relayHost()
            out.line("Received: from \(from) (\(from) [\(address())])")
            out.line("\tby \(by) (\(pick(Self.mtas))) with ESMTPS id \(hex(Int.random(in: 10...14, using: &random)).uppercased())")
            out.line("\tfor <\(recipient.address)>; \(rfc5322Date(hopTime))")
            hopTime -= UInt64.random(in: 0...4, using: &random)
        }
        if fullHeaders {
            out.line("Authentication-Results: mx.\(recipient.domain);")
            out.line("\tdkim=pass header.d=\(sender.domain) header.s=\(pick(Self.selectors)) header.b=\(base64Text(8));")
            out.line("\tspf=pass (\(recipient.domain): domain of \(sender.address) designates \(address()) as permitted sender) smtp.mailfrom=\(sender.address);")
            out.line("\tdmarc=pass (p=\(pick(["NONE", "QUARANTINE", "REJECT"])) sp=NONE dis=NONE) header.from=\(sender.domain)")
            out.line("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=\(sender.domain);")
            out.line("\ts=\(pick(Self.selectors)); t=\(clock - 5); x=\(clock + 1_209_595);")
            out.line("\th=from:to:subject:date:message-id:mime-version:content-type;")
            out.line("\tbh=\(base64Text(43))=;")
            let signature = base64Text(342) + "=="
            var rest = Substring(signature)
            out.line("\tb=" + rest.prefix(70))
            rest = rest.dropFirst(70)
            while !rest.isEmpty {
                out.line("\t " + rest.prefix(72))
                rest = rest.dropFirst(72)
            }
        }
        out.line("Message-ID: <\(hex(16)).\(hex(8))@\(sender.domain)>")
        out.line("Date: \(rfc5322Date(clock - UInt64.random(in: 5...30, using: &random)))")
        out.line("From: \"\(sender.name)\" <\(sender.address)>")
        out.line("To: \"\(recipient.name)\" <\(recipient.address)>")
        out.line("Subject: \(subject)")
        if kind == .newsletter {
            out.line("List-Unsubscribe: <https://\(sender.domain)/unsubscribe/\(base64URL(48))>, <mailto:unsubscribe-\(hex(12))@\(sender.domain)>")
            out.line("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
            out.line("X-Campaign-ID: \(hex(24))")
        } else if kind == .reply {
            let parent = "<\(hex(16)).\(hex(8))@\(recipient.domain)>"
            out.line("In-Reply-To: \(parent)")
            out.line("References: <\(hex(16)).\(hex(8))@\(sender.domain)> \(parent)")
        }
        out.line("MIME-Version: 1.0")
    }

    private mutating func plainBody(_ out: inout MessageBuffer, sender: Person, minimumBytes: Int) {
        out.line(pick(Self.greetings) + " " + person().first + ",")
        out.line("")
        let paragraphs = Int.random(in: 1...6, using: &random)
        var written = 0
        while written < paragraphs || out.all.count < minimumBytes {
            wrapped(&out, paragraph(), prefix: "")
            out.line("")
            written += 1
        }
        signature(&out, sender)
    }

    private mutating func replyBody(_ out: inout MessageBuffer, sender: Person, quoted: Person, minimumBytes: Int) {
        for _ in 0..<Int.random(in: 1...2, using: &random) {
            wrapped(&out, paragraph(), prefix: "")
            out.line("")
        }
        signature(&out, sender)
        out.line("")
        out.line("On \(rfc5322Date(clock - UInt64.random(in: 3600...400_000, using: &random))), \(quoted.name) <\(quoted.address)> wrote:")
        var level = 1
        var written = 0
        let quotedParagraphs = Int.random(in: 2...6, using: &random)
        while written < quotedParagraphs || out.all.count < minimumBytes {
            let prefix = String(repeating: ">", count: level) + " "
            wrapped(&out, paragraph(), prefix: prefix)
            out.line(String(repeating: ">", count: level))
            written += 1
            if Int.random(in: 0..<5, using: &random) == 0 {
                out.line(prefix + "On \(rfc5322Date(clock - UInt64.random(in: 400_000...900_000, using: &random))), \(person().name) wrote:")
                level = min(level + 1, 4)
            }
        }
    }

    private mutating func newsletterBody(_ out: inout MessageBuffer, subject: String, sender: Person, minimumBytes: Int) {
        let boundary = "b1_\(hex(32))"
        out.line("Content-Type: multipart/alternative; boundary=\"\(boundary)\"")
        out.line("")
        out.line("This is a multi-part message in MIME format.")
        // The article content, rendered twice (plain, HTML), as real newsletters are; about
        // a third of the bytes go to the plain part, so grow articles until the plain
        // version holds a third of the target.
        var articles: [(headline: String, paragraphs: [String], link: String)] = []
        var plainBytes = 0
        let articleCount = Int.random(in: 3...10, using: &random)
        repeat {
            let headline = sentence(words: 4...10, end: "")
            let paragraphs = (0..<Int.random(in: 1...3, using: &random)).map { _ in paragraph() }
            let link = "https://click.\(sender.domain)/ls/click?upn=\(base64URL(Int.random(in: 60...160, using: &random)))"
            plainBytes += headline.utf8.count + paragraphs.reduce(0) { $0 + $1.utf8.count } + link.utf8.count + 32
            articles.append((headline, paragraphs, link))
        } while articles.count < articleCount || plainBytes * 3 < minimumBytes - out.all.count

        out.line("--" + boundary)
        out.line("Content-Type: text/plain; charset=\"UTF-8\"")
        out.line("Content-Transfer-Encoding: 8bit")
        out.line("")
        out.line(subject.uppercased())
        out.line("")
        for article in articles {
            out.line(article.headline)
            out.line(String(repeating: "-", count: min(72, article.headline.count)))
            for paragraph in article.paragraphs {
                wrapped(&out, paragraph, prefix: "")
                out.line("")
            }
            out.line("Read more: \(article.link)")
            out.line("")
        }
        out.line("You are receiving this because you subscribed at \(sender.domain).")
        out.line("Unsubscribe: https://\(sender.domain)/unsubscribe/\(base64URL(40))")
        out.line("")

        out.line("--" + boundary)
        out.line("Content-Type: text/html; charset=\"UTF-8\"")
        out.line("Content-Transfer-Encoding: quoted-printable")
        out.line("")
        var html = QuotedPrintable()
        let accent = pick(Self.colors)
        let font = pick(Self.fonts)
        let cell = "font-family:\(font);font-size:15px;line-height:22px;color:#444444;"
        html.append("<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\" \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n")
        html.append("<html xmlns=\"http://www.w3.org/1999/xhtml\"><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\" />\n")
        html.append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1.0\" /><title>\(subject)</title>\n")
        html.append("<!--[if mso]><xml><o:OfficeDocumentSettings><o:AllowPNG/><o:PixelsPerInch>96</o:PixelsPerInch></o:OfficeDocumentSettings></xml><![endif]-->\n")
        html.append("<style type=\"text/css\">\nbody,table,td,a{-webkit-text-size-adjust:100%;-ms-text-size-adjust:100%;}\ntable,td{mso-table-lspace:0pt;mso-table-rspace:0pt;}\nimg{-ms-interpolation-mode:bicubic;border:0;height:auto;line-height:100%;outline:none;text-decoration:none;}\n")
        html.append("table{border-collapse:collapse !important;}\nbody{height:100% !important;margin:0 !important;padding:0 !important;width:100% !important;}\na[x-apple-data-detectors]{color:inherit !important;text-decoration:none !important;font-size:inherit !important;font-family:inherit !important;font-weight:inherit !important;line-height:inherit !important;}\n")
        html.append("@media only screen and (max-width:620px){.container{width:100% !important;max-width:100% !important;}.mobile-padding{padding-left:16px !important;padding-right:16px !important;}.mobile-hide{display:none !important;}.mobile-full{width:100% !important;height:auto !important;}.headline{font-size:24px !important;line-height:30px !important;}}\n")
        html.append(".button-td:hover,.button-a:hover{background:\(accent) !important;border-color:\(accent) !important;}\n</style>\n")
        html.append("</head><body style=\"margin:0;padding:0;background-color:#f4f4f4;\">\n")
        html.append("<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" style=\"background-color:#f4f4f4;\"><tr><td align=\"center\" style=\"padding:20px 0;\">\n")
        html.append("<table role=\"presentation\" class=\"container\" width=\"600\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" style=\"background-color:#ffffff;border-radius:4px;\">\n")
        html.append("<tr><td style=\"padding:24px 32px;background-color:\(accent);\"><img src=\"https://cdn.\(sender.domain)/img/\(hex(20)).png\" width=\"160\" height=\"40\" alt=\"\(sender.domain)\" style=\"display:block;\" /></td></tr>\n")
        for article in articles {
            if Int.random(in: 0..<2, using: &random) == 0 {
                html.append("<tr><td class=\"mobile-padding\" style=\"padding:24px 32px 0 32px;\"><a href=\"\(article.link)&amp;l=img\" target=\"_blank\"><img class=\"mobile-full\" src=\"https://cdn.\(sender.domain)/img/\(hex(24)).jpg\" width=\"536\" height=\"\(Int.random(in: 180...320, using: &random))\" alt=\"\(article.headline)\" style=\"display:block;width:100%;max-width:536px;height:auto;border-radius:4px;\" /></a></td></tr>\n")
            }
            html.append("<tr><td class=\"mobile-padding headline\" style=\"padding:24px 32px 8px 32px;font-family:\(font);font-size:20px;line-height:28px;color:#222222;font-weight:bold;\">\(article.headline)</td></tr>\n")
            for paragraph in article.paragraphs {
                var words = paragraph.split(separator: " ")
                if words.count > 6 {
                    let at = Int.random(in: 1..<(words.count - 3), using: &random)
                    let text = words[at..<(at + 3)].joined(separator: " ")
                    words.replaceSubrange(at..<(at + 3), with: ["<a href=\"\(article.link)&amp;l=\(hex(6))\" style=\"color:\(accent);text-decoration:underline;\">\(text)</a>"])
                }
                html.append("<tr><td class=\"mobile-padding\" style=\"padding:0 32px 16px 32px;\(cell)\">\(words.joined(separator: " "))</td></tr>\n")
            }
            html.append("<tr><td style=\"padding:0 32px 24px 32px;\"><table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\"><tr><td style=\"border-radius:3px;background-color:\(accent);\">")
            html.append("<a href=\"\(article.link)\" target=\"_blank\" style=\"display:inline-block;padding:10px 18px;font-family:\(font);font-size:14px;color:#ffffff;text-decoration:none;\">\(pick(Self.buttons))</a></td></tr></table></td></tr>\n")
        }
        html.append("<tr><td style=\"padding:24px 32px;font-family:\(font);font-size:12px;line-height:18px;color:#888888;border-top:1px solid #eeeeee;\">")
        html.append("You are receiving this because you subscribed at \(sender.domain). <a href=\"https://\(sender.domain)/unsubscribe/\(base64URL(40))\" style=\"color:#888888;\">Unsubscribe</a> | <a href=\"https://\(sender.domain)/preferences/\(base64URL(40))\" style=\"color:#888888;\">Preferences</a><br />\(Int.random(in: 10...9999, using: &random)) \(capitalized(word())) Street, \(pick(Self.cities))</td></tr>\n")
        html.append("</table></td></tr></table>\n<img src=\"https://open.\(sender.domain)/o/\(base64URL(96))\" width=\"1\" height=\"1\" alt=\"\" style=\"display:none;\" />\n</body></html>\n")
        for line in html.finish() { out.line(line) }
        out.line("")
        out.line("--" + boundary + "--")
    }

    private mutating func attachmentBody(_ out: inout MessageBuffer, sender: Person, minimumBytes: Int) {
        let boundary = "----=_Part_\(Int.random(in: 100_000...999_999, using: &random))_\(Int.random(in: 100_000_000...999_999_999, using: &random)).\(clock)"
        out.line("Content-Type: multipart/mixed; boundary=\"\(boundary)\"")
        out.line("")
        out.line("--" + boundary)
        out.line("Content-Type: text/plain; charset=\"UTF-8\"")
        out.line("Content-Transfer-Encoding: 7bit")
        out.line("")
        out.line(pick(Self.greetings) + " " + person().first + ",")
        out.line("")
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            wrapped(&out, paragraph(), prefix: "")
            out.line("")
        }
        signature(&out, sender)
        let count = minimumBytes > 0 ? 1 : Int.random(in: 1...2, using: &random)
        for index in 0..<count {
            var rawSize = Int(20_000 * Glibc.pow(150, Double.random(in: 0..<1, using: &random)))
            if index == count - 1, minimumBytes > 0 {
                // base64 makes 57 raw bytes into one 78-byte line: fill the target.
                let missing = max(0, minimumBytes - out.all.count - 400)
                rawSize = missing / 78 * 57 + 57
            }
            let type = pick(Self.attachmentTypes)
            let name = "\(word())-\(word())-\(Int.random(in: 1...999, using: &random)).\(type.extension)"
            out.line("")
            out.line("--" + boundary)
            out.line("Content-Type: \(type.mime); name=\"\(name)\"")
            out.line("Content-Disposition: attachment; filename=\"\(name)\"")
            out.line("Content-Transfer-Encoding: base64")
            out.line("")
            var bytes = type.magic
            bytes.reserveCapacity(rawSize)
            while bytes.count < rawSize {
                let word = random.next()
                withUnsafeBytes(of: word) { bytes.append(contentsOf: $0.prefix(rawSize - bytes.count)) }
            }
            out.attachmentBase64(bytes)
        }
        out.line("")
        out.line("--" + boundary + "--")
    }

    private mutating func signature(_ out: inout MessageBuffer, _ sender: Person) {
        out.line(pick(Self.closings) + ",")
        out.line(sender.name)
        if Int.random(in: 0..<2, using: &random) == 0 {
            out.line("-- ")
            out.line("\(sender.name) | \(capitalized(word())) \(pick(Self.titles)) | \(sender.domain)")
            out.line("+1 \(Int.random(in: 200...989, using: &random)) \(Int.random(in: 200...999, using: &random)) \(Int.random(in: 1000...9999, using: &random))")
        }
    }

    // MARK: Prose

    private mutating func wrapped(_ out: inout MessageBuffer, _ text: String, prefix: String) {
        var line = prefix
        for word in text.split(separator: " ") {
            if line.count > prefix.count, line.count + 1 + word.count > 72 {
                out.line(line)
                line = prefix
            }
            if line.count > prefix.count { line += " " }
            line += word
        }
        if line.count > prefix.count { out.line(line) }
    }

    /// Sentences of 5 to 22 words; one in six is a stock phrase of mail instead.
    private mutating func paragraph() -> String {
        (0..<Int.random(in: 2...6, using: &random)).map { _ in
            if Int.random(in: 0..<6, using: &random) == 0 { return pick(Self.phrases) }
            return sentence(words: 5...22, end: Int.random(in: 0..<8, using: &random) == 0 ? "?" : ".")
        }.joined(separator: " ")
    }

    private mutating func sentence(words: ClosedRange<Int>, end: String) -> String {
        let count = Int.random(in: words, using: &random)
        var parts: [String] = []
        parts.reserveCapacity(count)
        for i in 0..<count {
            var token: String
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<3: token = person().first
            case 3..<5: token = String(Int.random(in: 2...250, using: &random))
            case 5..<6: token = "$\(Int.random(in: 5...4999, using: &random)).\(Int.random(in: 10...99, using: &random))"
            case 6..<7: token = "\(Int.random(in: 1...12, using: &random)):\(pick(["00", "15", "30", "45"])) \(pick(["am", "pm"]))"
            case 7..<8: token = pick(Self.weekdays)
            default: token = word()
            }
            if i == 0 { token = capitalized(token) }
            if i > 0, i < count - 1, Int.random(in: 0..<12, using: &random) == 0 { token += "," }
            parts.append(token)
        }
        return parts.joined(separator: " ") + end
    }

    /// One word of the vocabulary, drawn with Zipf frequencies.
    private mutating func word() -> String {
        let u = Double(random.next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        var low = 0
        var high = Self.zipf.count - 1
        while low < high {
            let mid = (low + high) / 2
            if Self.zipf[mid] < u { low = mid + 1 } else { high = mid }
        }
        return Self.vocabulary[low]
    }

    // MARK: Names, addresses, dates

    private struct Person {
        var first: String
        var last: String
        var domain: String
        var name: String { "\(first) \(last)" }
        var local: String { "\(first.lowercased()).\(last.lowercased())" }
        var address: String { "\(local)@\(domain)" }
    }

    private mutating func person() -> Person {
        Person(first: pick(Self.firstNames), last: pick(Self.lastNames), domain: pick(Self.domains))
    }

    private mutating func relayHost() -> String {
        "\(pick(["mail", "smtp", "out", "relay", "mta", "mx"]))\(Int.random(in: 1...60, using: &random))-\(pick(["a", "b", "c"]))\(Int.random(in: 1...9, using: &random)).\(pick(Self.relayDomains))"
    }

    private mutating func address() -> String {
        if Int.random(in: 0..<4, using: &random) == 0 {
            return "IPv6:2a00:1450:\(hex(4)):\(hex(2))::\(hex(3))"
        }
        let first = pick([23, 40, 52, 64, 74, 98, 104, 142, 157, 185, 198, 203, 209])
        return "\(first).\(Int.random(in: 0...255, using: &random)).\(Int.random(in: 0...255, using: &random)).\(Int.random(in: 1...254, using: &random))"
    }

    private func rfc5322Date(_ seconds: UInt64) -> String {
        let days = Int(seconds / 86_400)
        let secondOfDay = Int(seconds % 86_400)
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = z / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : String(v) }
        let weekday = Self.weekdays[days % 7].prefix(3)
        return "\(weekday), \(day) \(Self.months[month - 1]) \(year) \(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60)) +0000"
    }

    private mutating func hex(_ count: Int) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: (0..<count).map { _ in digits[Int(random.next() & 15)] }, as: UTF8.self)
    }

    private mutating func base64Text(_ count: Int) -> String {
        String(decoding: (0..<count).map { _ in Base64.alphabet[Int(random.next() & 63)] }, as: UTF8.self)
    }

    private mutating func base64URL(_ count: Int) -> String {
        String(decoding: (0..<count).map { _ in Base64.urlAlphabet[Int(random.next() & 63)] }, as: UTF8.self)
    }

    private mutating func pick<T>(_ items: [T]) -> T {
        items[Int.random(in: 0..<items.count, using: &random)]
    }

    private func capitalized(_ word: String) -> String {
        word.prefix(1).uppercased() + word.dropFirst()
    }

    // MARK: Word lists

    /// Function words first, then common words of business and personal mail: the rank is
    /// the Zipf rank.
    static let vocabulary: [String] = """
        the of and to a in is you that it for i on with this we be are have as at your will \
        not or from by our can but all if they my so was an more about there what one would do \
        has just like any me up out when also some new time get which know please here their \
        them how been now only had other its were us see week make need could than then two \
        into should well year back because these first over after team work may day good let \
        next most very much thanks people where think want still even many those same help \
        take last today who sure update going meeting email use look right project way find \
        come around before again able through while send number call few why each both free \
        great information offer order account report below service between best keep start \
        every long things under office available change review share include plan question \
        thing might made since month point note part without group data open line place often \
        least case end follow early issue set provide another support product access morning \
        price problem online system always quick small business client list member notice \
        changes add details event customer check version process local program policy high \
        possible state full real during left further already read news friday monday draft \
        budget invoice contract schedule deadline agenda attached document file feedback \
        proposal quarter revenue results approval request ticket release feature design launch \
        website login password security shipping delivery payment discount subscription \
        newsletter article story community webinar register join save limited exclusive sale \
        collection season summer winter spring autumn travel hotel flight booking reservation \
        restaurant dinner lunch coffee weekend holiday family friends home house garden \
        kitchen school class course lesson student teacher children doctor appointment health \
        building floor room desk phone mobile app download install device screen computer \
        network server backup storage cloud database analysis market growth strategy goal \
        target progress status summary minutes action item owner priority risk timeline \
        milestone phase resource cost estimate hours days weeks months total amount balance \
        credit card bank transfer receipt confirmation reference code address street city \
        country region manager director engineer developer designer sales marketing finance \
        legal operations partner vendor supplier board committee council department agency \
        government public private personal important urgent simple easy clear short different \
        similar special general common current recent previous final original official \
        complete ready happy glad sorry interested worried excited pleased concerned however \
        though together enough never really little own life world something nothing across \
        almost along among away become behind body bring build buy care carry certain close \
        company compare continue control decide develop direction else expect experience fact \
        feel field form half hand hard hear hold idea learn leave less level light mind move \
        name nature near once paper pay power present pretty probably pull put quite reason \
        remember result return run seem serve side sign site size social space speak spend \
        stand stay step stop study suggest talk tell test try turn understand value visit wait \
        walk watch whole win wish wonder word worth write
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)

    /// Cumulative Zipf probabilities (exponent 1) by rank, for ``word()``.
    static let zipf: [Double] = {
        let weights = (1...vocabulary.count).map { 1.0 / Double($0) }
        let total = weights.reduce(0, +)
        var sum = 0.0
        var cumulative = weights.map { w -> Double in
            sum += w / total
            return sum
        }
        cumulative[cumulative.count - 1] = 1.0
        return cumulative
    }()

    static let phrases = [
        "Please let me know if you have any questions.", "Thanks for your help.", "I hope this helps.",
        "Let me know what you think.", "Thank you for your patience.", "See attached for details.",
        "Looking forward to hearing from you.", "Sorry for the delay in getting back to you.",
        "Could you take a look when you have a moment?", "I will follow up with the team.",
        "Happy to discuss on a call.", "Please see my comments below.", "Thanks again for your time.",
        "Just wanted to follow up on this.", "Let me know if anything else is needed.",
        "Does that work for you?", "I will send an update by the end of the week.", "Have a great weekend.",
        "Thank you for reaching out.", "We apologize for any inconvenience.", "Feel free to forward this to anyone interested.",
        "As discussed in the meeting,", "Please confirm at your earliest convenience.", "Talk soon.",
    ]
    static let firstNames = [
        "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
        "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
        "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Sandra", "Mark", "Ashley", "Paul", "Emily",
        "Steven", "Michelle", "Andrew", "Amanda", "Kenneth", "Melissa", "Olivia", "Lucas", "Sofia", "Noah",
        "Priya", "Wei", "Ahmed", "Yuki", "Carlos", "Fatima", "Ingrid", "Pierre", "Anna", "Mateo",
    ]
    static let lastNames = [
        "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
        "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
        "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
        "Walker", "Young", "Allen", "King", "Wright", "Scott", "Nguyen", "Hill", "Flores", "Green",
        "Patel", "Chen", "Kim", "Muller", "Rossi", "Dubois", "Novak", "Silva", "Tanaka", "Larsen",
    ]
    static let domains = [
        "example.com", "example.net", "example.org", "mail.example.com", "acme-corp.example", "northwind.example",
        "contoso.example", "fabrikam.example", "globex.example", "initech.example", "umbrella.example",
        "hooli.example", "vandelay.example", "wonka.example", "stark-industries.example", "wayne-enterprises.example",
        "news.shop.example", "updates.travel.example", "mailer.bank.example", "lists.community.example",
        "university.example.edu", "city.example.gov", "clinic.example", "startup.example.io", "design-studio.example",
        "logistics.example", "press.example", "store.example", "events.example", "weekly.example",
    ]
    static let relayDomains = [
        "google.example", "outlook.example", "protection.outlook.example", "amazonses.example", "sendgrid.example",
        "mailgun.example", "mcsv.example", "sparkpostmail.example", "messagelabs.example", "pphosted.example",
    ]
    static let mtas = [
        "Postfix", "Exim 4.97", "Google Transport Security", "Microsoft SMTP Server (version=TLS1_2)", "Sendmail 8.17",
        "Postfix, from userid 1001", "Haraka/3.0.3",
    ]
    static let selectors = ["selector1", "selector2", "google", "s1", "s2", "k1", "dkim", "mail2024", "pm", "mte1"]
    static let greetings = ["Hi", "Hello", "Dear", "Hey", "Good morning", "Hi there"]
    static let closings = ["Best", "Thanks", "Regards", "Best regards", "Cheers", "Kind regards", "Thank you"]
    static let titles = ["Manager", "Engineer", "Director", "Coordinator", "Analyst", "Lead", "Consultant"]
    static let newsletterTitles = ["Weekly Digest", "This Week", "News", "Your Update", "Deals", "Community Roundup", "Product News"]
    static let buttons = ["Read more", "Learn more", "Shop now", "Register", "View details", "Get started"]
    static let colors = ["#1a73e8", "#d93025", "#188038", "#e37400", "#6b3fa0", "#0b7285", "#c2255c", "#2b2d42"]
    static let fonts = ["Helvetica,Arial,sans-serif", "'Segoe UI',Roboto,Arial,sans-serif", "Georgia,'Times New Roman',serif"]
    static let cities = ["Springfield, IL 62701", "Portland, OR 97205", "Austin, TX 78701", "London EC1A 1BB", "Berlin 10115", "Toronto, ON M5H 2N2"]
    static let weekdays = ["Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    static let attachmentTypes: [(mime: String, extension: String, magic: [UInt8])] = [
        ("application/pdf", "pdf", Array("%PDF-1.7\n%\u{e2}\u{e3}\u{cf}\u{d3}\n".utf8)),
        ("image/jpeg", "jpg", [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46, 0x49, 0x46, 0x00, 0x01]),
        ("application/zip", "zip", [0x50, 0x4B, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x08, 0x00]),
    ]
}

/// The message being built: every line goes to `all`; all but attachment lines to `text`.
private struct MessageBuffer {
    var all: [UInt8] = []
    var text: [UInt8] = []

    mutating func line<S: StringProtocol>(_ s: S) {
        all.append(contentsOf: s.utf8)
        all.append(13)
        all.append(10)
        text.append(contentsOf: s.utf8)
        text.append(13)
        text.append(10)
    }

    /// `bytes` in base64, 76 columns, into `all` only.
    mutating func attachmentBase64(_ bytes: [UInt8]) {
        all.reserveCapacity(all.count + bytes.count / 57 * 78 + 80)
        var i = 0
        while i < bytes.count {
            let end = min(i + 57, bytes.count)
            Base64.encode(bytes[i..<end], into: &all)
            all.append(13)
            all.append(10)
            i = end
        }
    }
}

enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    static let urlAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func encode(_ bytes: ArraySlice<UInt8>, into out: inout [UInt8]) {
        var i = bytes.startIndex
        while i + 3 <= bytes.endIndex {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out.append(alphabet[Int(v >> 18 & 63)])
            out.append(alphabet[Int(v >> 12 & 63)])
            out.append(alphabet[Int(v >> 6 & 63)])
            out.append(alphabet[Int(v & 63)])
            i += 3
        }
        let rest = bytes.endIndex - i
        if rest > 0 {
            let v = UInt32(bytes[i]) << 16 | (rest == 2 ? UInt32(bytes[i + 1]) << 8 : 0)
            out.append(alphabet[Int(v >> 18 & 63)])
            out.append(alphabet[Int(v >> 12 & 63)])
            out.append(rest == 2 ? alphabet[Int(v >> 6 & 63)] : UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        }
    }
}

/// Quoted-printable (RFC 2045) for the HTML parts: `=` and non-ASCII escaped, lines of at
/// most 76 characters with soft breaks.
private struct QuotedPrintable {
    private var lines: [String] = []
    private var line: [UInt8] = []

    mutating func append(_ s: String) {
        let hexDigits = Array("0123456789ABCDEF".utf8)
        for byte in s.utf8 {
            if byte == 10 {
                lines.append(String(decoding: line, as: UTF8.self))
                line.removeAll(keepingCapacity: true)
                continue
            }
            let encoded: [UInt8] = byte == UInt8(ascii: "=") || byte >= 0x7F
                ? [UInt8(ascii: "="), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 15)]]
                : [byte]
            if line.count + encoded.count > 75 {
                line.append(UInt8(ascii: "="))
                lines.append(String(decoding: line, as: UTF8.self))
                line.removeAll(keepingCapacity: true)
            }
            line.append(contentsOf: encoded)
        }
    }

    mutating func finish() -> [String] {
        if !line.isEmpty { lines.append(String(decoding: line, as: UTF8.self)) }
        return lines
    }
}
