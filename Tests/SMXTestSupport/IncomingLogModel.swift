/// The reference model the incoming-log tests check recovered state against: the records
/// issued, by sequence number, folded into the open transactions as of a durable sequence.
public struct IncomingLogModel: Sendable {
    /// Every record a test committed, by the sequence number the log gave it.
    public private(set) var issued: [UInt64: LogRecord] = [:]

    public init() {}

    public mutating func record(_ record: LogRecord, sequence: UInt64) {
        issued[sequence] = record
    }

    /// Open transactions after applying every issued record with sequence ≤ `durable`.
    public func openTransactions(upTo durable: UInt64) -> [EnvelopeID: IncomingTransaction] {
        var open: [EnvelopeID: IncomingTransaction] = [:]
        for sequence in issued.keys.sorted() where sequence <= durable {
            switch issued[sequence]! {
            case .transaction(let t), .carriedForward(let t):
                open[t.envelopeID] = t
            case .outcome(let id, let index, let state, _):
                if var t = open[id], index < t.recipients.count {
                    t.recipients[index].state = state
                    open[id] = t
                }
            case .closed(let id, _):
                open[id] = nil
            case .seal:
                break
            }
        }
        return open
    }

    /// The transaction as first committed, and the outcome each recipient was ever given.
    public func issuedTransaction(_ id: EnvelopeID) -> (transaction: IncomingTransaction, sequence: UInt64)? {
        for (sequence, record) in issued {
            if case .transaction(let t) = record, t.envelopeID == id { return (t, sequence) }
        }
        return nil
    }

    /// Checks a recovered set of open transactions against the model as of `durable`:
    /// everything acknowledged is there and identical, nothing appears that was not issued,
    /// and every recipient state is one the tests committed. Returns the problems found.
    public func check(recovered: [IncomingTransaction], durable: UInt64) -> [String] {
        var problems: [String] = []
        let expected = openTransactions(upTo: durable)
        var issuedIndex: [EnvelopeID: (IncomingTransaction, UInt64)] = [:]
        var closeSequence: [EnvelopeID: UInt64] = [:]
        var finalStates: [EnvelopeID: [RecipientState]] = [:]
        for (sequence, record) in issued {
            switch record {
            case .transaction(let t):
                issuedIndex[t.envelopeID] = (t, sequence)
            case .closed(let id, _):
                closeSequence[id] = sequence
            default:
                break
            }
        }
        for (_, record) in issued.sorted(by: { $0.key < $1.key }) {
            if case .outcome(let id, let index, let state, _) = record {
                var states = finalStates[id] ?? issuedIndex[id].map { $0.0.recipients.map { _ in RecipientState.pending } } ?? []
                if index < states.count { states[index] = state }
                finalStates[id] = states
            }
        }
        let recoveredByID = Dictionary(recovered.map { ($0.envelopeID, $0) }, uniquingKeysWith: { a, _ in a })
        for (id, want) in expected {
            guard let got = recoveredByID[id] else {
                problems.append("acknowledged open transaction \(id) is missing")
                continue
            }
            var gotPlain = got
            var wantPlain = want
            for i in gotPlain.recipients.indices { gotPlain.recipients[i].state = .pending }
            for i in wantPlain.recipients.indices { wantPlain.recipients[i].state = .pending }
            if gotPlain != wantPlain {
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
            var gotPlain = got
            for i in gotPlain.recipients.indices { gotPlain.recipients[i].state = .pending }
            if gotPlain != original {
                problems.append("unacknowledged transaction \(got.envelopeID) came back altered")
            }
        }
        return problems
    }
}
