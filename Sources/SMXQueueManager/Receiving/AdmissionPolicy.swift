import SMXStore

/// Decides whether the receiving side takes more mail (``Admission``). Asked on every
/// ``Receiver/begin(sender:parameters:)`` and every ``IncomingMessage/commit()``, so it must
/// answer at once, from counters, never by waiting or scanning a store.
///
/// Deliberately small: the queue manager's admission control (incoming and active queue,
/// memory, disk) is to implement it; ``AlwaysAccept`` and ``OpenTransactionThresholds``
/// are what the receiving side needs on its own and in tests.
public protocol AdmissionPolicy: Sendable {
    /// The admission for a call made now.
    func admission() -> Admission
    /// How long an SMTP server pauses before it gives the temporary reply of a
    /// ``Admission/slowDown(_:)`` (the seed's "slow down": delayed replies, so clients send
    /// less). The receiver itself never waits; it throws ``ReceiveError/slowDown(_:)`` at
    /// once and the server reads this from ``Receiver/admission``.
    var slowDownDelay: Duration { get }
}

extension AdmissionPolicy {
    /// ``AdmissionControl/defaultSlowDownDelay``.
    public var slowDownDelay: Duration { AdmissionControl.defaultSlowDownDelay }
}

/// Takes all mail: for tests and for a queue with no thresholds configured.
public struct AlwaysAccept: AdmissionPolicy {
    public init() {}
    public func admission() -> Admission { .accept }
}

/// Two thresholds on a count of open transactions (normally the incoming log's: received,
/// acknowledged, not yet closed by delivery or a move to the deferred queue): at
/// ``slowDownAt`` or more, ``Admission/slowDown(_:)``; at ``refuseAt`` or more,
/// ``Admission/refuse(_:)``. The count is read on every call, so the stages follow the
/// queue as it fills and drains.
public struct OpenTransactionThresholds: AdmissionPolicy {
    public let slowDownAt: Int
    public let refuseAt: Int
    private let count: @Sendable () -> Int

    /// Throws ``ReceiverConfigurationError/invalidLimit(_:)`` unless
    /// `1 <= slowDownAt <= refuseAt`.
    public init(slowDownAt: Int, refuseAt: Int, count: @escaping @Sendable () -> Int) throws(ReceiverConfigurationError) {
        guard slowDownAt >= 1, slowDownAt <= refuseAt else {
            throw .invalidLimit("admission thresholds must satisfy 1 <= slowDownAt (\(slowDownAt)) <= refuseAt (\(refuseAt))")
        }
        self.slowDownAt = slowDownAt
        self.refuseAt = refuseAt
        self.count = count
    }

    /// Thresholds on `log`'s open transactions (``IncomingLog/openTransactionCount``).
    public init(log: IncomingLog, slowDownAt: Int, refuseAt: Int) throws(ReceiverConfigurationError) {
        try self.init(slowDownAt: slowDownAt, refuseAt: refuseAt) { log.openTransactionCount }
    }

    public func admission() -> Admission {
        let open = count()
        if open >= refuseAt { return .refuse("incoming queue full: \(open) open transactions, limit \(refuseAt)") }
        if open >= slowDownAt { return .slowDown("incoming queue busy: \(open) open transactions, slowing down at \(slowDownAt)") }
        return .accept
    }
}
