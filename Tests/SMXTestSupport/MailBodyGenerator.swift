/// Deterministic mail-like bodies of an exact size for content store tests: a few header
/// lines, then prose from a small vocabulary wrapped at 72 columns, so zstd compresses
/// them the way it compresses real text.
public enum MailBodyGenerator {
    static let words = """
        the of and to a in that is was he for it with as his on be at by this had not are but \
        from or have an they which one you were her all she there would their we him been has \
        when who will more no if out so said what up its about into than them can only other \
        new some could time these two may then do first any my now such like our over man me \
        even most made after also did many before must through back years where much your way \
        well down should because each just those people how too little state good very make \
        world still own see men work long get here between both life being under never day same \
        another know while last might us great old year off come since against go came right \
        delivery message queue server relay mailbox domain address recipient sender report
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map { Array($0.utf8) }

    /// A body of exactly `size` bytes.
    public static func body(size: Int, seed: UInt64) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        var out: [UInt8] = []
        out.reserveCapacity(size + 80)
        out += Array("Subject: message \(seed)\r\nFrom: <sender\(seed)@example.org>\r\nTo: <rcpt@example.net>\r\n\r\n".utf8)
        var column = 0
        while out.count < size {
            // Zipf-like: small indexes far more often.
            let index = rng.below(rng.below(words.count) + 1)
            let word = words[index]
            if column + word.count > 72 {
                out += [13, 10]
                column = 0
            } else if column > 0 {
                out.append(32)
                column += 1
            }
            out += word
            column += word.count
        }
        return Array(out.prefix(size))
    }
}
