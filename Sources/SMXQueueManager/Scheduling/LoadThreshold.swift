/// The two stages of one resource's load control: at ``slowDown`` the receiving side slows
/// down, at ``refuse`` it refuses new mail with a temporary error (the seed's "slow down a
/// bit, …, stop"). ``AdmissionControl`` checks that 1 ≤ slowDown ≤ refuse.
public struct LoadThreshold: Hashable, Sendable {
    /// Use at or above which the receiving side slows down.
    public var slowDown: Int
    /// Use at or above which it refuses new mail.
    public var refuse: Int

    public init(slowDown: Int, refuse: Int) {
        self.slowDown = slowDown
        self.refuse = refuse
    }
}
