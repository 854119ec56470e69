/// A rule that makes chosen operations of a ``SimulatedFileSystem`` fail with an errno.
///
/// The rule counts the operations whose kind is in ``kinds`` and for which ``matches``
/// returns true (every one when it is nil). It lets the first ``after`` of them through,
/// fails the next ``times`` of them (every one from then on when `times` is nil), and lets
/// the rest through. A failing operation throws `StoreError.syscall(..., errno: errno)`
/// (EIO gives ``StoreError/Code/io``, ENOSPC gives ``StoreError/Code/noSpace``) and
/// changes nothing, except that a failing `sync`/`fullSync`/`syncDirectory` discards the
/// file's or directory's pending operations without making them durable (fsyncgate: reads
/// still see them, a later successful sync does not make them durable).
public struct FaultRule: Sendable {
    /// The operation kinds the rule watches.
    public let kinds: Set<SimulatedOperationKind>
    /// The errno a failing operation reports.
    public let errno: Int32
    /// How many matching operations pass before the first failure.
    public let after: Int
    /// How many matching operations fail; nil means all of them from then on.
    public let times: Int?
    /// Which operations match, beyond their kind; nil means all. Called without the
    /// simulator's lock held, after the operation hook.
    public let matches: (@Sendable (SimulatedOperation) -> Bool)?

    /// Creates a rule; see the type's documentation for the semantics.
    public init(
        kinds: Set<SimulatedOperationKind>,
        errno: Int32,
        after: Int = 0,
        times: Int? = 1,
        matches: (@Sendable (SimulatedOperation) -> Bool)? = nil
    ) {
        precondition(after >= 0, "after must not be negative")
        precondition((times ?? 0) >= 0, "times must not be negative")
        self.kinds = kinds
        self.errno = errno
        self.after = after
        self.times = times
        self.matches = matches
    }

    /// Whether the `seen`-th matching operation (counting from 1) fails.
    func fails(at seen: Int) -> Bool {
        guard seen > after else { return false }
        guard let times else { return true }
        return seen <= after + times
    }
}

/// An injected rule with its counters.
struct ActiveFault: Sendable {
    let id: Int
    let rule: FaultRule
    /// Matching operations seen so far.
    var seen = 0
    /// Operations failed so far.
    var fired = 0
}

/// A rule that watches an operation's kind, before its predicate is evaluated.
struct FaultCandidate: Sendable {
    let id: Int
    let matches: (@Sendable (SimulatedOperation) -> Bool)?
}

extension SimulatedFileSystem {
    /// Adds a fault rule; returns its id for ``removeFault(_:)`` and
    /// ``firedCount(ofFault:)``. Rules are independent: every rule that matches an
    /// operation counts it and decides on its own whether to fail it; the operation fails
    /// when at least one does, with the errno of the earliest-added rule that does.
    @discardableResult
    public func injectFault(_ rule: FaultRule) -> Int {
        state.withLock { state in
            let id = state.nextFaultID
            state.nextFaultID += 1
            state.faults.append(ActiveFault(id: id, rule: rule))
            return id
        }
    }

    /// Removes the fault rule `id` (nothing happens when there is none).
    public func removeFault(_ id: Int) {
        state.withLock { state in state.faults.removeAll { $0.id == id } }
    }

    /// Removes every fault rule.
    public func removeAllFaults() {
        state.withLock { state in state.faults.removeAll() }
    }

    /// How many operations the fault rule `id` has failed so far (0 for an unknown id).
    public func firedCount(ofFault id: Int) -> Int {
        state.withLock { state in state.faults.first { $0.id == id }?.fired ?? 0 }
    }
}

extension SimulatedState {
    /// The rules watching `kind`, whose predicates the caller evaluates outside the lock.
    func faultCandidates(for kind: SimulatedOperationKind) -> [FaultCandidate] {
        if faults.isEmpty { return [] }
        return faults.filter { $0.rule.kinds.contains(kind) }
            .map { FaultCandidate(id: $0.id, matches: $0.rule.matches) }
    }

    /// Counts one operation against every rule in `matched` (the rules whose kind and
    /// predicate matched it) and returns the errno of the first rule that fails it.
    mutating func firingFault(matched: [Int]) -> Int32? {
        if matched.isEmpty { return nil }
        var errno: Int32?
        for index in faults.indices where matched.contains(faults[index].id) {
            faults[index].seen += 1
            if faults[index].rule.fails(at: faults[index].seen) {
                faults[index].fired += 1
                if errno == nil { errno = faults[index].rule.errno }
            }
        }
        return errno
    }
}
