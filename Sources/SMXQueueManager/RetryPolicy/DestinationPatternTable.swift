/// Values keyed by ``DestinationPattern``, looked up by destination name with the patterns'
/// precedence: an exact name, then the longest matching `*.suffix`, then ``DestinationPattern/any``.
/// Retry rules, static routes and concurrency limits all match destinations this way.
struct DestinationPatternTable<Value: Sendable>: Sendable {
    private var exact: [String: Value] = [:]
    private var subdomains: [String: Value] = [:]
    private(set) var fallback: Value?

    init() {}

    /// Adds `value` for `pattern` (compared normalized); false, and no change, when the
    /// pattern already has a value.
    mutating func insert(_ value: Value, for pattern: DestinationPattern) -> Bool {
        switch pattern.normalized {
        case .exact(let name):
            guard exact[name] == nil else { return false }
            exact[name] = value
        case .subdomains(let domain):
            guard subdomains[domain] == nil else { return false }
            subdomains[domain] = value
        case .any:
            guard fallback == nil else { return false }
            fallback = value
        }
        return true
    }

    /// The value of the most specific pattern matching `destination` (ASCII case and one
    /// trailing dot ignored), nil when none does.
    func value(for destination: String) -> Value? {
        value(forNormalized: DestinationPattern.normalize(destination))
    }

    /// ``value(for:)`` for a name already normalized (a ``NextHop``'s host is).
    func value(forNormalized name: String) -> Value? {
        if !exact.isEmpty, let value = exact[name] { return value }
        guard !subdomains.isEmpty else { return fallback }
        var rest = Substring(name)
        while let dot = rest.firstIndex(of: ".") {
            rest = rest[rest.index(after: dot)...]
            if let value = subdomains[String(rest)] { return value }
        }
        return fallback
    }
}
