extension DestinationTable {
    /// The table's invariants, as code; tests call it after every operation. Returns the
    /// problems found, each naming the destination (empty when sound):
    ///
    /// 1. Jobs in flight are never negative and never above the destination's limit.
    /// 2. A run of failures is all or nothing: a first failure, at least one failure and a
    ///    retry time, or none of them; the retry time is after the first failure.
    /// 3. Each idle destination is in exactly one recency list, the one for its health; a
    ///    destination with jobs in flight is in none; the lists name only known
    ///    destinations and their links are whole.
    /// 4. Over capacity only when no idle healthy destination is left to forget.
    public func verify() -> [String] {
        var problems: [String] = []
        for (destination, state) in states {
            if state.inFlight < 0 || state.inFlight > state.limit {
                problems.append("\(destination): \(state.inFlight) jobs in flight, limit \(state.limit)")
            }
            let failing = [state.firstFailure != nil, state.consecutiveFailures > 0, state.nextRetry != nil]
            if Set(failing).count != 1 {
                problems.append("\(destination): partial run of failures \(failing)")
            }
            if let first = state.firstFailure, let next = state.nextRetry, next < first {
                problems.append("\(destination): retry time \(next) before first failure \(first)")
            }
            let inHealthy = idleHealthy.contains(destination)
            let inFailing = idleFailing.contains(destination)
            let expected = state.inFlight == 0 ? (state.isFailing ? (false, true) : (true, false)) : (false, false)
            if (inHealthy, inFailing) != expected {
                problems.append("\(destination): in idle lists (healthy \(inHealthy), failing \(inFailing)), expected \(expected)")
            }
        }
        for (name, list) in [("healthy", idleHealthy), ("failing", idleFailing)] {
            let walk = list.ordered
            if walk.count != list.count || Set(walk).count != walk.count {
                problems.append("idle \(name) list: links walk \(walk.count) of \(list.count) entries")
            }
            for destination in walk where state(of: destination) == nil {
                problems.append("idle \(name) list names unknown \(destination)")
            }
        }
        if count > capacity && idleHealthy.count > 0 {
            problems.append("\(count) destinations over capacity \(capacity) with \(idleHealthy.count) idle healthy")
        }
        return problems
    }
}
