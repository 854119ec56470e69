import Synchronization

/// A seeded workload for the incoming log: many concurrent committers, each committing
/// transactions of random shape, then outcomes for their recipients and a close, with a
/// fraction left open for a long time (so segments must be handed off) and some left open
/// at the end. Every acknowledged record is entered into an ``IncomingLogModel``.
public struct IncomingLogWorkload: Sendable {
    public var transactions: Int
    public var committers: Int
    public var seed: UInt64
    /// Envelope ids are `idBase ..< idBase + transactions`.
    public var idBase: UInt64

    public init(transactions: Int = 10_000, committers: Int = 16, seed: UInt64, idBase: UInt64 = 1) {
        self.transactions = transactions
        self.committers = committers
        self.seed = seed
        self.idBase = idBase
    }

    public final class Recorder: Sendable {
        private let model = Mutex(IncomingLogModel())
        private let highestAcknowledged = Atomic<UInt64>(0)
        public init() {}
        public func record(_ record: LogRecord, sequence: UInt64) {
            model.withLock { $0.record(record, sequence: sequence) }
            highestAcknowledged.max(sequence, ordering: .relaxed)
        }
        public var snapshot: IncomingLogModel { model.withLock { $0 } }
        /// The highest sequence number of an acknowledged commit so far.
        public var acknowledged: UInt64 { highestAcknowledged.load(ordering: .relaxed) }
    }

    /// Runs to completion; returns the model of everything acknowledged.
    public func run(on log: IncomingLog, recorder: Recorder = Recorder()) async throws -> IncomingLogModel {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for c in 0..<committers {
                group.addTask {
                    try await committer(c, log: log, recorder: recorder)
                }
            }
            try await group.waitForAll()
        }
        return recorder.snapshot
    }

    private func committer(_ c: Int, log: IncomingLog, recorder: Recorder) async throws {
        var rng = SplitMix64(seed: seed &+ UInt64(c) &* 0x9E37_79B9)
        var open: [IncomingTransaction] = []
        func commit(_ record: LogRecord) async throws {
            let receipt = try await log.commit(record)
            recorder.record(record, sequence: receipt.sequence)
        }
        func finish(_ t: IncomingTransaction) async throws {
            for i in t.recipients.indices where rng.below(4) != 0 {
                let state: RecipientState = [.delivered, .failedPermanently, .movedToDeferred][rng.below(3)]
                try await commit(.outcome(t.envelopeID, recipient: i, state, reply: rng.coin() ? "250 2.0.0 ok" : "451 4.4.1 no answer from host"))
            }
            try await commit(.closed(t.envelopeID, rng.coin() ? .completed : .movedToDeferred))
        }
        var index = c
        while index < transactions {
            let t = TransactionGenerator.transaction(id: EnvelopeID(idBase + UInt64(index)), rng: &rng)
            try await commit(.transaction(t))
            open.append(t)
            // Most transactions finish soon; one in eight lingers much longer.
            while open.count > 1 + rng.below(4) {
                let pick = rng.below(8) == 0 ? open.count - 1 : rng.below(open.count)
                if rng.below(8) == 0 && open.count < 40 { break }
                try await finish(open.remove(at: pick))
            }
            index += committers
        }
        for t in open where rng.below(10) != 0 {
            try await finish(t)
        }
    }
}
