extension Duration {
    /// `count` minutes.
    public static func minutes(_ count: Int64) -> Duration { .seconds(count * 60) }

    /// `count` hours.
    public static func hours(_ count: Int64) -> Duration { .seconds(count * 3_600) }

    /// `count` days of 24 hours.
    public static func days(_ count: Int64) -> Duration { .seconds(count * 86_400) }
}
