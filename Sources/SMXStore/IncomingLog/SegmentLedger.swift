/// Which segments of one log directory still matter, and why.
///
/// A segment can be recycled (its header overwritten for a new life) only when nothing in
/// it is needed any more and forgetting it cannot bring anything back:
///
/// 1. no transaction has its newest copy there (no open transaction is *homed* there);
/// 2. the records that closed or carried forward its transactions are durable;
/// 3. every segment that its own outcome, close and carry-forward records refer to has
///    already been overwritten. Otherwise recycling it would drop a close record while
///    the transaction it closes is still on disk, and a crash would bring that
///    transaction back to life.
///
/// References only point from newer records to older ones, so rule 3 has no cycles and
/// the oldest segments become free first.
struct SegmentLedger {
    /// A class so that updating one segment's sets mutates them in place (a struct in a
    /// dictionary is easily copied whole, sets included, on every change).
    final class Segment {
        let number: UInt64
        let slot: Int
        /// Open transactions whose newest copy lives here.
        var homed: Set<EnvelopeID> = []
        /// Segments (other than this one) that records here refer to.
        var references: Set<UInt64> = []
        /// Highest sequence of a record elsewhere that took a transaction away from here.
        var lastReleaseSequence: UInt64 = 0
        /// Transaction and carried-forward records written here.
        var transactionRecords = 0

        init(number: UInt64, slot: Int) {
            self.number = number
            self.slot = slot
        }
    }

    /// Segments with a valid header on disk, by number.
    private(set) var segments: [UInt64: Segment] = [:]
    /// Home segment of every open transaction.
    private(set) var home: [EnvelopeID: UInt64] = [:]

    var segmentNumbers: [UInt64] { segments.keys.sorted() }
    var count: Int { segments.count }

    func segment(_ number: UInt64) -> Segment? { segments[number] }

    mutating func add(segment number: UInt64, slot: Int) {
        segments[number] = Segment(number: number, slot: slot)
    }

    /// Forgets a segment whose header has been overwritten.
    mutating func remove(segment number: UInt64) {
        segments[number] = nil
    }

    /// Accounts for `record`, written at `sequence` into segment `number`.
    mutating func apply(_ kind: LogRecordType, _ id: EnvelopeID?, sequence: UInt64, in number: UInt64) {
        guard let id, let segment = segments[number] else { return }
        switch kind {
        case .transaction, .carriedForward:
            if let old = home[id], old != number {
                release(id, from: old, sequence: sequence)
                segment.references.insert(old)
            }
            home[id] = number
            segment.homed.insert(id)
            segment.transactionRecords += 1
        case .outcome:
            if let at = home[id], at != number {
                segment.references.insert(at)
            }
        case .closed:
            if let at = home.removeValue(forKey: id) {
                if at != number { segment.references.insert(at) }
                release(id, from: at, sequence: sequence)
            }
        case .seal:
            break
        }
    }

    private func release(_ id: EnvelopeID, from number: UInt64, sequence: UInt64) {
        guard let segment = segments[number] else { return }
        segment.homed.remove(id)
        segment.lastReleaseSequence = max(segment.lastReleaseSequence, sequence)
    }

    /// The oldest segment that may be overwritten now, if any (`current` never is).
    func oldestRecyclable(durableSequence: UInt64, current: UInt64) -> Segment? {
        for number in segmentNumbers where number != current {
            let s = segments[number]!
            if s.homed.isEmpty,
               s.lastReleaseSequence <= durableSequence,
               s.references.allSatisfy({ segments[$0] == nil }) {
                return s
            }
        }
        return nil
    }

    /// The oldest segment whose open transactions are few enough to be worth moving out
    /// (at most `maxLiveFraction` of the transactions written there), so that moving them
    /// frees the segment. Moving a mostly live segment would only copy it.
    func handOffCandidate(excluding current: UInt64, maxLiveFraction: Double) -> Segment? {
        for number in segmentNumbers where number != current {
            if let s = segments[number], !s.homed.isEmpty,
               Double(s.homed.count) <= Double(s.transactionRecords) * maxLiveFraction {
                return s
            }
        }
        return nil
    }
}
