/// Why an ORCPT parameter value (RFC 3461 §4.2) cannot be used.
public enum OriginalRecipientError: Error, Hashable, Sendable {
    /// No `;` between the address type and the address.
    case missingSemicolon
    /// The address type is empty or not an atom.
    case invalidAddressType
    /// The address part is not valid xtext.
    case invalidXText(XTextError)
    /// The address decodes to nothing.
    case emptyAddress
    /// The decoded address is not UTF-8.
    case invalidUTF8
}
