import SMXQueueManager

extension FuzzSeeds {
    /// ORCPT values and xtext, valid and damaged, made with `XText.encode` where valid.
    static func xtext() -> [Seed] {
        let valid: [(String, [UInt8])] = [
            ("orcpt-rfc822", Array("rfc822;".utf8) + Array(XText.encode(Array("bob+tag@example.com".utf8)).utf8)),
            ("orcpt-utf8", Array("utf-8;".utf8) + Array(XText.encode(Array("böb@exämple.com".utf8)).utf8)),
            ("envid", Array(XText.encode(Array("QQ314159 = 1+1".utf8)).utf8)),
            ("every-byte", Array(XText.encode((0...255).map { UInt8($0) }).utf8)),
            ("lowercase-hex", Array("rfc822;a+2bb@example.com".utf8)),
        ]
        let damaged: [(String, String)] = [
            ("truncated", "rfc822;bob+4"),
            ("bad-hex", "rfc822;bob+G1@x"),
            ("equals", "a=b"),
            ("space", "rfc822;bob x"),
            ("no-semicolon", "bob@example.com"),
            ("bad-type", "rfc 822;bob@example.com"),
            ("not-utf8", "rfc822;+FF+FE"),
        ]
        return valid.map { Seed(name: "xtext-\($0.0)", bytes: $0.1) } + damaged.map { Seed(name: "xtext-\($0.0)", bytes: Array($0.1.utf8)) }
    }

    /// Reply texts as remote servers write them, and ones that only look like it.
    static func statusReply() -> [Seed] {
        let texts: [(String, String)] = [
            ("user-unknown", "5.1.1 <bob@example.com>: Recipient address rejected: User unknown"),
            ("greylisted", "4.7.1 Greylisted, try again later"),
            ("code-only", "2.0.0"),
            ("largest", "5.999.999 x"),
            ("too-large", "5.1000.1 x"),
            ("class-3", "3.1.1 nope"),
            ("no-space", "5.1.1abc"),
            ("two-parts", "5.1 only"),
            ("basic-code", "550 no such user"),
            ("empty", ""),
        ]
        return texts.map { Seed(name: "reply-\($0.0)", bytes: Array($0.1.utf8)) }
    }
}
