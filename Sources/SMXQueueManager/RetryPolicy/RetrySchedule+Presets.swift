extension RetrySchedule {
    /// Exim's default retry rule, `F,2h,15m; G,16h,1h,1.5; F,4d,6h` (the `begin retry`
    /// section of Exim's default configure file): every 15 minutes for 2 hours, then
    /// intervals from 1 hour growing by 1.5 until 16 hours, then every 6 hours until 4 days.
    public static let eximDefault = RetrySchedule.steps([
        .fixed(.minutes(15), until: .hours(2)),
        .geometric(start: .hours(1), factor: 1.5, until: .hours(16)),
        .fixed(.hours(6), until: .days(4)),
    ])

    /// qmail's remote channel: tries at 400·n² seconds (6 min 40 s, 26 min 40 s, 1 h, ...).
    public static let qmailRemote = RetrySchedule.quadratic(skip: 20)

    /// qmail's local channel: tries at 100·n² seconds.
    public static let qmailLocal = RetrySchedule.quadratic(skip: 10)

    /// Courier's defaults: retryalpha 5 minutes, retrybeta 3, retrygamma 15 minutes,
    /// retrymaxdelta 3.
    public static let courierDefault = RetrySchedule.courier(alpha: .minutes(5), beta: 3, gamma: .minutes(15), maxDelta: 3)
}
