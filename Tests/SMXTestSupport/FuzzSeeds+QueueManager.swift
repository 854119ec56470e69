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
}
