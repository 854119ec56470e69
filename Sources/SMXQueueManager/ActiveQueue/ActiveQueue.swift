import SMXStore

/// The active queue (the seed's AQ, ACTEDB): the bounded set of recipients the queue manager
/// is working on, between being read from the incoming or the deferred queue and their
/// result. Deliveries are scheduled only from here.
///
/// **Life of an entry.** ``admit(_:from:now:)`` puts a recipient in, awaiting resolution;
/// ``resolved(_:deliveryClass:nextHop:now:)`` records the resolver's answer (awaiting a
/// job); ``dispatched(_:job:now:)`` records that a job took it to an agent;
/// ``finished(_:job:)`` takes it out when that job's result comes, ``remove(_:)`` when a
/// resolver failure or a cleanup takes it out. Each change stamps the time the entry
/// entered its state; ``expired(now:resolverTimeout:agentTimeout:)`` lists the entries that
/// waited too long for the resolver or an agent, which the queue manager moves to the
/// deferred queue with a temporary error (the seed's "Cleanup of Active Queue").
///
/// **Bounds.** At most ``ActiveQueueConfiguration/capacity`` entries, and at most
/// ``ActiveQueueConfiguration/maximumDeferred`` from the deferred queue: admission refuses
/// what would break them, whatever the caller planned. The reserve for deferred entries is
/// a rule of filling, kept by ``FillPlanner``. A recipient is in the queue at most once.
///
/// **Failure modes.** A refused change throws ``ActiveQueueError`` and changes nothing;
/// late answers (for a recipient no longer in the queue, or in another job) are refusals,
/// not traps.
///
/// Pure and in memory: the caller passes the time, and writes the stores. Not thread-safe:
/// one queue manager owns it and serialises access. ``verify()`` checks the invariants.
public struct ActiveQueue: Sendable {
    public let configuration: ActiveQueueConfiguration

    private(set) var entries: [RecipientID: ActiveQueueEntry] = [:]
    /// Entries per source and state, indexed by ``countIndex(_:_:)``.
    private(set) var counts = [Int](repeating: 0, count: ActiveQueueEntry.Source.allCases.count * ActiveQueueEntry.State.allCases.count)
    /// The entries awaiting resolution and those at an agent, by the time they entered that
    /// state (``SinceHeap``): after every change, the top of each is an entry still in that
    /// state since that time, so the next expiry is read off the tops and the expired
    /// entries are found without a scan.
    private(set) var awaitingResolution = SinceHeap()
    private(set) var atAgent = SinceHeap()

    public init(configuration: ActiveQueueConfiguration) {
        self.configuration = configuration
    }

    /// Entries held.
    public var count: Int { entries.count }

    /// Slots left below the capacity.
    public var freeSlots: Int { configuration.capacity - entries.count }

    /// Whether the queue holds no more than the low watermark: the first-level scheduler
    /// fills only then.
    public var isAtOrBelowLowWatermark: Bool { entries.count <= configuration.lowWatermark }

    /// Entries from `source`.
    public func count(from source: ActiveQueueEntry.Source) -> Int {
        let first = Self.countIndex(source, .awaitingResolution)
        return counts[first] + counts[first + 1] + counts[first + 2]
    }

    /// Entries in `state`.
    public func count(in state: ActiveQueueEntry.State) -> Int {
        counts[Self.countIndex(.incoming, state)] + counts[Self.countIndex(.deferred, state)]
    }

    /// Entries from `source` in `state`.
    public func count(from source: ActiveQueueEntry.Source, in state: ActiveQueueEntry.State) -> Int {
        counts[Self.countIndex(source, state)]
    }

    /// The entry for `id`; nil when the recipient is not in the queue.
    public func entry(_ id: RecipientID) -> ActiveQueueEntry? { entries[id] }

    /// Whether the recipient is in the queue.
    public func contains(_ id: RecipientID) -> Bool { entries[id] != nil }

    /// The entries in `state`, longest waiting first (by time entered, then recipient id):
    /// e.g. the resolved ones the second-level scheduler makes jobs of. O(n log n).
    public func entries(in state: ActiveQueueEntry.State) -> [ActiveQueueEntry] {
        // Sorts the plain (since, id) keys and looks the entries up after: sorting the
        // entries themselves copies (and retains) each one many times, which made this the
        // scheduler's largest cost with thousands of entries awaiting a job. The order is
        // total (ids are unique), so it is the same as sorting the entries.
        var keys: [(since: Timestamp, id: RecipientID)] = []
        keys.reserveCapacity(count(in: state))
        for entry in entries.values where entry.state == state { keys.append((entry.since, entry.id)) }
        keys.sort { $0.since != $1.since ? $0.since < $1.since : $0.id < $1.id }
        return keys.compactMap { entries[$0.id] }
    }

    /// Puts a recipient read from `source` in the queue at `now`, awaiting resolution.
    ///
    /// Throws ``ActiveQueueError/full`` at capacity, ``ActiveQueueError/deferredMaximum``
    /// for a deferred entry when the deferred entries are at their maximum, and
    /// ``ActiveQueueError/duplicate(_:)`` when the recipient is already in.
    public mutating func admit(_ id: RecipientID, from source: ActiveQueueEntry.Source, now: Timestamp) throws(ActiveQueueError) {
        guard entries[id] == nil else { throw .duplicate(id) }
        guard entries.count < configuration.capacity else { throw .full }
        if source == .deferred, count(from: .deferred) >= configuration.maximumDeferred { throw .deferredMaximum }
        entries[id] = ActiveQueueEntry(id: id, source: source, since: now)
        counts[Self.countIndex(source, .awaitingResolution)] += 1
        awaitingResolution.push(SinceHeap.Element(since: now, id: id))
    }

    /// Records the resolver's answer for a recipient awaiting resolution: it now awaits a
    /// job, since `now`.
    ///
    /// Throws ``ActiveQueueError/unknownRecipient(_:)`` or ``ActiveQueueError/wrongState(_:_:)``
    /// for an answer that came too late or twice.
    public mutating func resolved(_ id: RecipientID, deliveryClass: DeliveryClass, nextHop: NextHop, now: Timestamp) throws(ActiveQueueError) {
        guard let index = entries.index(forKey: id) else { throw .unknownRecipient(id) }
        let state = entries.values[index].state
        guard state == .awaitingResolution else { throw .wrongState(id, state) }
        entries.values[index].deliveryClass = deliveryClass
        entries.values[index].nextHop = nextHop
        move(at: index, to: .awaitingJob, now: now)
    }

    /// Records that `job` took `ids` to an agent at `now`. All or nothing: every recipient
    /// must await a job and be named once, else this throws for the first that is not
    /// (``ActiveQueueError/unknownRecipient(_:)`` or ``ActiveQueueError/wrongState(_:_:)``)
    /// and changes nothing.
    public mutating func dispatched(_ ids: [RecipientID], job: DeliveryJob.ID, now: Timestamp) throws(ActiveQueueError) {
        var seen = Set<RecipientID>()
        for (position, id) in ids.enumerated() {
            guard let index = entries.index(forKey: id) else { throw .unknownRecipient(id) }
            let state = entries.values[index].state
            // Named once: a linear check for the usual handful, a set beyond.
            let repeated = ids.count <= 16 ? ids[..<position].contains(id) : !seen.insert(id).inserted
            guard state == .awaitingJob, !repeated else { throw .wrongState(id, state) }
        }
        for id in ids {
            guard let index = entries.index(forKey: id) else { continue }
            entries.values[index].job = job
            move(at: index, to: .atAgent, now: now)
        }
    }

    /// Takes out a recipient whose result came from `job`, and returns its entry (its
    /// source says which queue to update).
    ///
    /// Throws ``ActiveQueueError/unknownRecipient(_:)`` when it is not in the queue, and
    /// ``ActiveQueueError/wrongState(_:_:)`` when it is not at an agent in `job`: a late
    /// result of a job that timed out leaves a later entry for the recipient alone.
    @discardableResult
    public mutating func finished(_ id: RecipientID, job: DeliveryJob.ID) throws(ActiveQueueError) -> ActiveQueueEntry {
        guard let index = entries.index(forKey: id) else { throw .unknownRecipient(id) }
        let state = entries.values[index].state
        guard state == .atAgent, entries.values[index].job == job else { throw .wrongState(id, state) }
        return take(at: index)
    }

    /// Takes out a recipient in any state (a resolver failure, an expired entry moved to the
    /// deferred queue, an operator's delete) and returns its entry; nil when it was not in.
    @discardableResult
    public mutating func remove(_ id: RecipientID) -> ActiveQueueEntry? {
        guard let index = entries.index(forKey: id) else { return nil }
        return take(at: index)
    }

    /// The entries that waited too long at `now`: awaiting resolution for `resolverTimeout`
    /// or more, or at an agent for `agentTimeout` or more; longest waiting first. They stay
    /// in the queue: the queue manager writes each to the deferred queue with a temporary
    /// error (unless its queue lifetime is over) and then ``remove(_:)``s it. Entries
    /// awaiting a job do not expire: the seed calls that wait a scheduler bug, not a
    /// timeout. O(k log k) for k expired entries (plus the stale heap elements among the
    /// due ones, which the removals drop).
    public func expired(now: Timestamp, resolverTimeout: Duration, agentTimeout: Duration) -> [ActiveQueueEntry] {
        var found: [ActiveQueueEntry] = []
        for (heap, state, timeout) in [(awaitingResolution, ActiveQueueEntry.State.awaitingResolution, resolverTimeout), (atAgent, .atAgent, agentTimeout)] {
            heap.walk(while: { now >= $0.since + timeout }) { element in
                if let entry = current(element, in: state) { found.append(entry) }
            }
        }
        found.sort(by: Self.longestWaitingFirst)
        // An entry taken out and admitted again at the same time has two equal elements.
        var unique: [ActiveQueueEntry] = []
        for entry in found where unique.last?.id != entry.id { unique.append(entry) }
        return unique
    }

    /// The earliest time at which ``expired(now:resolverTimeout:agentTimeout:)`` will list
    /// an entry; nil when no entry can expire. The scheduler sleeps until the earlier of
    /// this and the next-try cache's next due time instead of polling. O(1).
    public func nextExpiry(resolverTimeout: Duration, agentTimeout: Duration) -> Timestamp? {
        let resolution = awaitingResolution.top.map { $0.since + resolverTimeout }
        let agent = atAgent.top.map { $0.since + agentTimeout }
        guard let resolution else { return agent }
        return agent.map { min($0, resolution) } ?? resolution
    }

    /// The entry of a heap element when it is still in `state` since the element's time;
    /// nil for a stale element.
    func current(_ element: SinceHeap.Element, in state: ActiveQueueEntry.State) -> ActiveQueueEntry? {
        guard let entry = entries[element.id], entry.state == state, entry.since == element.since else { return nil }
        return entry
    }

    /// Whether a heap element is not stale (``current(_:in:)`` without copying the entry).
    func isCurrent(_ element: SinceHeap.Element, in state: ActiveQueueEntry.State) -> Bool {
        guard let index = entries.index(forKey: element.id) else { return false }
        return entries.values[index].state == state && entries.values[index].since == element.since
    }

    static func deadline(of entry: ActiveQueueEntry, resolverTimeout: Duration, agentTimeout: Duration) -> Timestamp? {
        switch entry.state {
        case .awaitingResolution: entry.since + resolverTimeout
        case .atAgent: entry.since + agentTimeout
        case .awaitingJob: nil
        }
    }

    static func longestWaitingFirst(_ a: ActiveQueueEntry, _ b: ActiveQueueEntry) -> Bool {
        a.since != b.since ? a.since < b.since : a.id < b.id
    }

    static func countIndex(_ source: ActiveQueueEntry.Source, _ state: ActiveQueueEntry.State) -> Int {
        source.rawValue * ActiveQueueEntry.State.allCases.count + state.rawValue
    }

    private mutating func move(at index: Dictionary<RecipientID, ActiveQueueEntry>.Index, to state: ActiveQueueEntry.State, now: Timestamp) {
        let source = entries.values[index].source
        let old = entries.values[index].state
        counts[Self.countIndex(source, old)] -= 1
        counts[Self.countIndex(source, state)] += 1
        entries.values[index].state = state
        entries.values[index].since = now
        if state == .atAgent { atAgent.push(SinceHeap.Element(since: now, id: entries.keys[index])) }
        dropStale(in: old)
    }

    private mutating func take(at index: Dictionary<RecipientID, ActiveQueueEntry>.Index) -> ActiveQueueEntry {
        let entry = entries.remove(at: index).value
        counts[Self.countIndex(entry.source, entry.state)] -= 1
        dropStale(in: entry.state)
        return entry
    }

    /// Keeps the heap of a state true after an entry left it: stale elements on top are
    /// dropped, and a heap grown to more than twice its live entries (stale ones held down
    /// by an old live entry) is rebuilt without its stale elements (amortised O(1) per
    /// stale element).
    private mutating func dropStale(in state: ActiveQueueEntry.State) {
        switch state {
        case .awaitingJob:
            return
        case .awaitingResolution:
            while let top = awaitingResolution.top, !isCurrent(top, in: state) { awaitingResolution.popTop() }
            if awaitingResolution.count > 2 * count(in: state) + 64 {
                awaitingResolution.rebuild(awaitingResolution.elements.filter { isCurrent($0, in: state) })
            }
        case .atAgent:
            while let top = atAgent.top, !isCurrent(top, in: state) { atAgent.popTop() }
            if atAgent.count > 2 * count(in: state) + 64 { atAgent.rebuild(atAgent.elements.filter { isCurrent($0, in: state) }) }
        }
    }
}
