extension Timestamp {
    /// The RFC 5322 `date-time` of this instant in UTC with a numeric zone, as DSN fields
    /// require (RFC 3464 §2.3.7): `Thu, 26 Nov 2026 12:03:30 +0000`. Seconds are truncated.
    public var rfc5322: String {
        let seconds = microsecondsSinceEpoch / 1_000_000
        let days = Int64(seconds / 86_400)
        let secondOfDay = Int(seconds % 86_400)
        let (year, month, day) = Self.civilDate(daysSinceEpoch: days)
        let weekday = Self.weekdays[Int((days + 4) % 7)]  // 1970-01-01 was a Thursday
        return "\(weekday), \(day) \(Self.months[month - 1]) \(year) "
            + "\(Self.twoDigits(secondOfDay / 3_600)):\(Self.twoDigits(secondOfDay / 60 % 60)):\(Self.twoDigits(secondOfDay % 60)) +0000"
    }

    /// Proleptic Gregorian (year, month 1-12, day 1-31) of a day count from 1970-01-01
    /// (H. Hinnant's `civil_from_days`).
    static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int, day: Int) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * monthIndex + 2) / 5 + 1)
        let month = Int(monthIndex < 10 ? monthIndex + 3 : monthIndex - 9)
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func twoDigits(_ value: Int) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }

    private static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
}
