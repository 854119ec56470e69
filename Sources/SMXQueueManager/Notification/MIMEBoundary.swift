/// Chooses the multipart boundary of a notification.
///
/// Candidates are `=_smx_` and 16 hex digits of a mixed counter started at the caller's
/// seed; the first whose delimiter `--boundary` occurs nowhere in any part (not only at a
/// line start) is taken. That terminates: the candidates are all different (the mix is a
/// bijection), and parts totalling `n` bytes contain fewer than `n` distinct substrings of
/// the candidates' length, so at most `n` candidates fail. The `=_` prefix also cannot
/// appear in quoted-printable or base64 text.
enum MIMEBoundary {
    static func choose(seed: UInt64, avoiding parts: [[UInt8]]) -> String {
        var counter: UInt64 = 0
        while true {
            let candidate = "=_smx_" + hex(mix(seed &+ counter))
            let delimiter = Array("--\(candidate)".utf8)
            if !parts.contains(where: { occurs(delimiter, in: $0) }) { return candidate }
            counter &+= 1
        }
    }

    static func occurs(_ needle: [UInt8], in haystack: [UInt8]) -> Bool {
        guard let first = needle.first, haystack.count >= needle.count else { return false }
        var start = 0
        while start <= haystack.count - needle.count {
            if haystack[start] == first && haystack[start..<(start + needle.count)].elementsEqual(needle) { return true }
            start += 1
        }
        return false
    }

    /// SplitMix64's first output from `value`: a bijection on 64-bit values.
    private static func mix(_ value: UInt64) -> UInt64 {
        var generator = SeededRandomNumberGenerator(seed: value)
        return generator.next()
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
