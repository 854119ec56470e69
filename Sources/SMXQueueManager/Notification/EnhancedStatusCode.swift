/// An RFC 3463 enhanced status code, `class.subject.detail` (`5.1.1`), as the DSN's Status
/// field carries it.
public struct EnhancedStatusCode: Hashable, Sendable, CustomStringConvertible {
    /// 2 success, 4 persistent transient failure, 5 permanent failure.
    public let statusClass: Int
    public let subject: Int
    public let detail: Int

    /// Nil unless `statusClass` is 2, 4 or 5 and `subject` and `detail` are 0 ... 999.
    public init?(_ statusClass: Int, _ subject: Int, _ detail: Int) {
        guard [2, 4, 5].contains(statusClass), (0...999).contains(subject), (0...999).contains(detail) else { return nil }
        self.init(checked: statusClass, subject, detail)
    }

    private init(checked statusClass: Int, _ subject: Int, _ detail: Int) {
        self.statusClass = statusClass
        self.subject = subject
        self.detail = detail
    }

    /// `4.4.7`, delivery time expired: the status of a recipient whose queue lifetime ran out.
    public static let deliveryTimeExpired = EnhancedStatusCode(checked: 4, 4, 7)

    /// The code as written in a DSN (no leading zeros, RFC 3464 §2.3.4).
    public var description: String { "\(statusClass).\(subject).\(detail)" }
}
