/// How many recipients one fill of the active queue takes from each source: the incoming
/// queue's oldest (FIFO), and the deferred queue's earliest due (through the next-try cache,
/// `popDue(now:limit:)` with ``deferred`` as the limit).
public struct FillPlan: Hashable, Sendable, CustomStringConvertible {
    /// Recipients to move from the incoming queue.
    public var incoming: Int
    /// Recipients to read from the deferred queue (at most: fewer may turn out due).
    public var deferred: Int

    public init(incoming: Int, deferred: Int) {
        self.incoming = incoming
        self.deferred = deferred
    }

    /// Take nothing this round.
    public static let none = FillPlan(incoming: 0, deferred: 0)

    /// Recipients in all.
    public var total: Int { incoming + deferred }

    public var description: String { "incoming \(incoming), deferred \(deferred)" }
}
