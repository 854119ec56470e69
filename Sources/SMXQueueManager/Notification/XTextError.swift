/// Why a string is not valid xtext (RFC 3461 §4). Offsets count bytes from the start of the
/// encoded text.
public enum XTextError: Error, Hashable, Sendable {
    /// A byte outside `!` ... `~`, or `=`, at `offset`.
    case invalidCharacter(offset: Int, byte: UInt8)
    /// A `+` at `offset` not followed by two more bytes.
    case truncatedHexChar(offset: Int)
    /// A byte after a `+` that is not a hex digit.
    case invalidHexDigit(offset: Int)
}
