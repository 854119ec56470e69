import SMXStore

extension ActiveQueue {
    /// The active queue's invariants, as code; tests call it after every operation. Returns
    /// the problems found (empty when sound):
    ///
    /// 1. The counts per source and state match the entries, and none is negative.
    /// 2. At most ``ActiveQueueConfiguration/capacity`` entries, and at most
    ///    ``ActiveQueueConfiguration/maximumDeferred`` from the deferred queue.
    /// 3. Each entry is filed under its own recipient id (so no recipient is in twice).
    /// 4. An entry has a delivery class and next hop exactly when it is resolved (awaiting
    ///    a job or at an agent), and a job exactly when it is at an agent.
    /// 5. Every entry awaiting resolution or at an agent has its element in that state's
    ///    heap, each heap is in heap order, and its top is not stale (so
    ///    ``nextExpiry(resolverTimeout:agentTimeout:)`` is exact).
    public func verify() -> [String] {
        var problems: [String] = []
        var recount = [Int](repeating: 0, count: counts.count)
        for (id, entry) in entries {
            if id != entry.id { problems.append("entry \(entry) filed under \(id)") }
            recount[Self.countIndex(entry.source, entry.state)] += 1
            let resolved = entry.state != .awaitingResolution
            if (entry.deliveryClass != nil) != resolved || (entry.nextHop != nil) != resolved {
                problems.append("\(entry): route does not match its state")
            }
            if (entry.job != nil) != (entry.state == .atAgent) {
                problems.append("\(entry): job does not match its state")
            }
        }
        for source in ActiveQueueEntry.Source.allCases {
            for state in ActiveQueueEntry.State.allCases {
                let index = Self.countIndex(source, state)
                if counts[index] != recount[index] || counts[index] < 0 {
                    problems.append("count from \(source) \(state) is \(counts[index]), entries say \(recount[index])")
                }
            }
        }
        for (heap, state) in [(awaitingResolution, ActiveQueueEntry.State.awaitingResolution), (atAgent, .atAgent)] {
            if let top = heap.top, current(top, in: state) == nil { problems.append("the \(state) heap's top \(top.id) is stale") }
            let listed = Set(heap.elements.lazy.filter { self.current($0, in: state) != nil }.map(\.id))
            for entry in entries.values where entry.state == state && !listed.contains(entry.id) {
                problems.append("\(entry) is not in the \(state) heap")
            }
            for (index, element) in heap.elements.enumerated() where index > 0 && element < heap.elements[(index - 1) / 2] {
                problems.append("the \(state) heap is out of order at \(index)")
            }
        }
        if entries.count > configuration.capacity {
            problems.append("\(entries.count) entries over capacity \(configuration.capacity)")
        }
        let deferred = recount[Self.countIndex(.deferred, .awaitingResolution)] + recount[Self.countIndex(.deferred, .awaitingJob)]
            + recount[Self.countIndex(.deferred, .atAgent)]
        if deferred > configuration.maximumDeferred {
            problems.append("\(deferred) deferred entries over the maximum \(configuration.maximumDeferred)")
        }
        return problems
    }
}
