extension RetryRule {
    /// Exim's default schedule with Exim's give-up point as the lifetime (4 days; Exim fails
    /// an address once the last rule's cutoff has passed) and Exim's default
    /// `delay_warning` (24 hours).
    public static func eximDefault(_ pattern: DestinationPattern = .any) -> RetryRule {
        RetryRule(pattern, schedule: .eximDefault, lifetime: .days(4), warnAfter: .hours(24))
    }

    /// qmail's remote schedule with qmail's default `queuelifetime` (604800 seconds, 7
    /// days). qmail sends no delay warnings.
    public static func qmailRemote(_ pattern: DestinationPattern = .any) -> RetryRule {
        RetryRule(pattern, schedule: .qmailRemote, lifetime: .days(7))
    }

    /// qmail's local schedule with qmail's default `queuelifetime` (7 days).
    public static func qmailLocal(_ pattern: DestinationPattern = .any) -> RetryRule {
        RetryRule(pattern, schedule: .qmailLocal, lifetime: .days(7))
    }

    /// Courier's default schedule with Courier's default `queuetime` (7 days) and
    /// `warntime` (4 hours).
    public static func courierDefault(_ pattern: DestinationPattern = .any) -> RetryRule {
        RetryRule(pattern, schedule: .courierDefault, lifetime: .days(7), warnAfter: .hours(4))
    }
}
