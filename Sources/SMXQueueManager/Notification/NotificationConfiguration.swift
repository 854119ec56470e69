/// The reporting MTA's side of every DSN it writes.
public struct NotificationConfiguration: Hashable, Sendable {
    /// This MTA's host name (Reporting-MTA, type dns).
    public var reportingMTA: String
    /// The From: address of notifications.
    public var fromAddress: String
    /// Where notifications about messages with the null sender go (``NotificationRoute``).
    public var postmaster: String
    /// RET for messages whose client gave none.
    public var defaultReturnContent: ReturnContent
    /// A message longer than this (in bytes) is returned as its headers only, even with
    /// RET=FULL, and the notification says so.
    public var returnedMessageLimit: Int

    /// `fromAddress` defaults to `MAILER-DAEMON@reportingMTA`, `postmaster` to
    /// `postmaster@reportingMTA`.
    public init(
        reportingMTA: String, fromAddress: String? = nil, postmaster: String? = nil,
        defaultReturnContent: ReturnContent = .full, returnedMessageLimit: Int = 1 << 20
    ) {
        self.reportingMTA = reportingMTA
        self.fromAddress = fromAddress ?? "MAILER-DAEMON@\(reportingMTA)"
        self.postmaster = postmaster ?? "postmaster@\(reportingMTA)"
        self.defaultReturnContent = defaultReturnContent
        self.returnedMessageLimit = returnedMessageLimit
    }
}
