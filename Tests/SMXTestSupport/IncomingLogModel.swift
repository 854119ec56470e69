/// The reference model the incoming-log tests check recovered state against: the records
/// issued, by sequence number, folded into the open transactions as of a durable sequence.
public struct IncomingLogModel: Sendable {
    /// Every record a test committed, by the sequence number the log gave it.
    public private(set) var issued: [UInt64: LogRecord] = [:]

    public init() {}

    public mutating func record(_ record: LogRecord, sequence: UInt64) {
        issued[sequence] = record
    }

    /// A checker over the finished model (see ``Checker``).
    public func checker() -> Checker { Checker(self) }

    /// Checks recovered states against the model. Built once per workload; checks at
    /// non-decreasing durable sequences reuse the fold of the previous check.
    public final class Checker {
        private let sorted: [(sequence: UInt64, record: LogRecord)]
        private var issuedIndex: [EnvelopeID: (IncomingTransaction, UInt64)] = [:]
        private var closeSequence: [EnvelopeID: UInt64] = [:]
        private var finalStates: [EnvelopeID: [RecipientState]] = [:]
        private var folded: [EnvelopeID: IncomingTransaction] = [:]
        private var foldedCount = 0
        private var foldedUpTo: UInt64 = 0

        init(_ model: IncomingLogModel) {
            sorted = model.issued.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            for (sequence, record) in sorted {
                switch record {
                case .transaction(let t):
                    issuedIndex[t.envelopeID] = (t, sequence)
                    finalStates[t.envelopeID] = t.recipients.map { _ in .pending }
                case .outcome(let id, let index, let state, _):
                    if var states = finalStates[id], index < states.count {
                        states[index] = state
                        finalStates[id] = states
                    }
                case .closed(let id, _):
                    closeSequence[id] = sequence
                default:
                    break
                }
            }
        }

        private func openTransactions(upTo durable: UInt64) -> [EnvelopeID: IncomingTransaction] {
            if durable < foldedUpTo {
                folded = [:]
                foldedCount = 0
            }
            while foldedCount < sorted.count, sorted[foldedCount].sequence <= durable {
                switch sorted[foldedCount].record {
                case .transaction(let t), .carriedForward(let t):
                    folded[t.envelopeID] = t
                case .outcome(let id, let index, let state, _):
                    if var t = folded[id], index < t.recipients.count {
                        t.recipients[index].state = state
                        folded[id] = t
                    }
                case .closed(let id, _):
                    folded[id] = nil
                case .seal:
                    break
                }
                foldedCount += 1
            }
            foldedUpTo = durable
            return folded
        }

        /// Checks a recovered set of open transactions against the model as of `durable`:
        /// everything acknowledged is there and identical, nothing appears that was not
        /// issued, and every recipient state is one the tests committed. `survivingCloses`:
        /// transactions whose close record is on disk (from a replay of the same image); an
        /// unacknowledged close that survived the crash legitimately ends an acknowledged
        /// transaction. Returns the problems found.
        public func check(recovered: [IncomingTransaction], durable: UInt64, survivingCloses: Set<EnvelopeID>) -> [String] {
            var problems: [String] = []
            let expected = openTransactions(upTo: durable)
            let recoveredByID = Dictionary(recovered.map { ($0.envelopeID, $0) }, uniquingKeysWith: { a, _ in a })
            for (id, want) in expected {
                guard let got = recoveredByID[id] else {
                    if !survivingCloses.contains(id) {
                        problems.append("acknowledged open transaction \(id) is missing")
                    }
                    continue
                }
                if got.withPendingStates != want.withPendingStates {
                    problems.append("transaction \(id) differs from what was committed")
                    continue
                }
                for (i, r) in got.recipients.enumerated() {
                    let atDurable = want.recipients[i].state
                    let final = finalStates[id]?[i] ?? .pending
                    if atDurable != .pending ? r.state != atDurable : (r.state != .pending && r.state != final) {
                        problems.append("transaction \(id) recipient \(i): state \(r.state), acknowledged \(atDurable), issued \(final)")
                    }
                }
            }
            for got in recovered where expected[got.envelopeID] == nil {
                guard let (original, sequence) = issuedIndex[got.envelopeID] else {
                    problems.append("transaction \(got.envelopeID) was never committed")
                    continue
                }
                let closedDurably = closeSequence[got.envelopeID].map { $0 <= durable } ?? false
                if sequence <= durable && closedDurably {
                    problems.append("transaction \(got.envelopeID) was closed durably but came back")
                }
                if got.withPendingStates != original {
                    problems.append("unacknowledged transaction \(got.envelopeID) came back altered")
                }
            }
            return problems
        }
    }
}

extension IncomingTransaction {
    /// The transaction with every recipient pending: what was committed, before outcomes.
    public var withPendingStates: IncomingTransaction {
        var copy = self
        for i in copy.recipients.indices { copy.recipients[i].state = .pending }
        return copy
    }
}
