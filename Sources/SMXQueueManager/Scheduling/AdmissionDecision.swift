/// What the receiving side does with new mail now, from ``AdmissionControl``.
public enum AdmissionDecision: Hashable, Sendable, CustomStringConvertible {
    /// Accept as usual.
    case accept
    /// Accept, but pause ``AdmissionControl/slowDownDelay`` before replying, so that
    /// clients send more slowly (a bounded pause, never a wait for the load to fall).
    case slowDown(Reason)
    /// Refuse new mail with a temporary error (421 or 451), at once.
    case refuse(Reason)

    /// The resource that decided, its use and the threshold of the stage it entered.
    public struct Reason: Hashable, Sendable, CustomStringConvertible {
        public var resource: LoadResource
        public var value: Int
        public var threshold: Int

        public init(resource: LoadResource, value: Int, threshold: Int) {
            self.resource = resource
            self.value = value
            self.threshold = threshold
        }

        public var description: String { "\(resource) \(value) (threshold \(threshold))" }
    }

    /// 0 accept, 1 slow down, 2 refuse.
    public var stage: Int {
        switch self {
        case .accept: 0
        case .slowDown: 1
        case .refuse: 2
        }
    }

    public var description: String {
        switch self {
        case .accept: "accept"
        case .slowDown(let reason): "slow down: \(reason)"
        case .refuse(let reason): "refuse: \(reason)"
        }
    }
}
