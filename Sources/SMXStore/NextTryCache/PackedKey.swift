/// A ``NextTryKey`` as five 32-bit words, most significant first: `nextTry` (two words),
/// `envelopeID` (two words), `recipient`. 20 bytes with 4-byte alignment, so an array of
/// them has a stride of 20 (a `NextTryKey` has a stride of 24), and comparing the words in
/// order compares the keys.
struct PackedKey: Equatable {
    var w0: UInt32
    var w1: UInt32
    var w2: UInt32
    var w3: UInt32
    var w4: UInt32

    init(_ key: NextTryKey) {
        w0 = UInt32(truncatingIfNeeded: key.nextTry >> 32)
        w1 = UInt32(truncatingIfNeeded: key.nextTry)
        w2 = UInt32(truncatingIfNeeded: key.envelopeID.rawValue >> 32)
        w3 = UInt32(truncatingIfNeeded: key.envelopeID.rawValue)
        w4 = key.recipient
    }

    var nextTry: UInt64 { UInt64(w0) << 32 | UInt64(w1) }

    var key: NextTryKey {
        NextTryKey(nextTry: nextTry, envelopeID: EnvelopeID(UInt64(w2) << 32 | UInt64(w3)), recipient: w4)
    }

    static func < (a: PackedKey, b: PackedKey) -> Bool {
        if a.w0 != b.w0 { return a.w0 < b.w0 }
        if a.w1 != b.w1 { return a.w1 < b.w1 }
        if a.w2 != b.w2 { return a.w2 < b.w2 }
        if a.w3 != b.w3 { return a.w3 < b.w3 }
        return a.w4 < b.w4
    }
}
