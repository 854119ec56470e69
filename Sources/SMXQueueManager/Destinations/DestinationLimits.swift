/// How many jobs may be in flight at once to one destination (the seed's "Load Control":
/// do not overload a remote site): a default and per-pattern overrides, matched against the
/// next hop's host with ``DestinationPattern``'s precedence (an exact name, then the
/// longest `*.suffix`).
public struct DestinationLimits: Sendable {
    /// Postfix's `default_destination_concurrency_limit`.
    public static let defaultLimit = 20

    public let defaultLimit: Int
    public let overrides: [DestinationPattern: Int]
    private let table: DestinationPatternTable<Int>

    /// Throws when a limit is below 1, a pattern is empty or is `*` (that is the default),
    /// or two patterns are the same once normalized.
    public init(default defaultLimit: Int = defaultLimit, overrides: [DestinationPattern: Int] = [:]) throws(DeliveryConfigurationError) {
        guard defaultLimit >= 1 else { throw .invalidLimit("the default concurrency limit must be at least 1") }
        var table = DestinationPatternTable<Int>()
        _ = table.insert(defaultLimit, for: .any)
        for (pattern, limit) in overrides.sorted(by: { $0.key.description < $1.key.description }) {
            switch pattern {
            case .exact(let name), .subdomains(of: let name):
                guard !DestinationPattern.normalize(name).isEmpty else { throw .emptyPattern }
            case .any:
                break
            }
            guard limit >= 1 else { throw .invalidLimit("the concurrency limit for \(pattern) must be at least 1") }
            guard table.insert(limit, for: pattern) else { throw .duplicatePattern(pattern) }
        }
        self.defaultLimit = defaultLimit
        self.overrides = overrides
        self.table = table
    }

    /// The limit for `destination`: its host's override, else the default.
    public func limit(for destination: NextHop) -> Int {
        table.value(for: destination.host) ?? defaultLimit
    }
}
