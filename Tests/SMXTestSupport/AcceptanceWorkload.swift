import Synchronization
import SMXStore

/// A seeded workload for the content store joined with the incoming log, the way the
/// queue manager will drive them: concurrent writers each stream a body (sizes from a few
/// hundred bytes to past the large-body threshold, in random pieces), commit its envelope
/// with ``IncomingLog/commit(_:bodies:in:)`` (rule 1), and now and then complete an
/// earlier message: close its envelope, then release its body. A separate task compacts
/// from time to time. Everything acknowledged is recorded for crash checks.
public struct AcceptanceWorkload: Sendable {
    public var messages: Int
    public var writers: Int
    public var seed: UInt64
    /// Largest body; some exceed the store's large-body threshold when this is above it.
    public var maxBodySize: Int
    public var compactEvery: Int

    public init(messages: Int, writers: Int, seed: UInt64, maxBodySize: Int, compactEvery: Int = 25) {
        self.messages = messages
        self.writers = writers
        self.seed = seed
        self.maxBodySize = maxBodySize
        self.compactEvery = compactEvery
    }

    /// One message: its envelope id, its body's reference and the seed of its bytes.
    public struct Message: Sendable, Equatable {
        public var envelopeID: EnvelopeID
        public var content: ContentReference
        public var bodySeed: UInt64
        public var bodySize: Int

        public var body: [UInt8] { MailBodyGenerator.body(size: bodySize, seed: bodySeed) }
    }

    public struct State: Sendable {
        /// Bodies finished (handed to the store), acknowledged or not, by content id.
        public var finished: [ContentID: Message] = [:]
        /// Messages whose commit returned (acknowledged: 250 sent), by envelope id.
        public var acknowledged: [EnvelopeID: Message] = [:]
        /// Envelopes whose close was committed (asked for; the commit may not have returned).
        public var closing: Set<EnvelopeID> = []
        /// Envelopes whose close commit returned.
        public var closed: Set<EnvelopeID> = []
        /// Bodies whose release returned.
        public var released: Set<ContentID> = []
        /// Bodies whose release was asked for (returned or not yet).
        public var releasing: Set<ContentID> = []
        public var compactions = 0
    }

    public final class Recorder: Sendable {
        public let state = Mutex(State())
        public init() {}
        public var snapshot: State { state.withLock { $0 } }
    }

    public func run(store: ContentStore, log: IncomingLog, recorder: Recorder) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<writers {
                group.addTask { try await writer(w, store: store, log: log, recorder: recorder) }
            }
            group.addTask {
                var done = 0
                while true {
                    let finished = recorder.state.withLock { $0.acknowledged.count }
                    if finished >= messages - writers { return }
                    if finished / compactEvery > done {
                        done = finished / compactEvery
                        _ = try await store.compact(limit: 2)
                        recorder.state.withLock { $0.compactions += 1 }
                    }
                    try await Task.sleep(nanoseconds: 2_000_000)
                }
            }
            try await group.waitForAll()
        }
    }

    private func writer(_ w: Int, store: ContentStore, log: IncomingLog, recorder: Recorder) async throws {
        var rng = SplitMix64(seed: seed &+ UInt64(w) &* 0x9E37_79B9_7F4A_7C15)
        var mine: [Message] = []
        var index = w
        while index < messages {
            let size = rng.below(8) == 0 ? rng.below(maxBodySize + 1) : 100 + rng.below(maxBodySize / 4)
            let bodySeed = rng.next()
            let body = MailBodyGenerator.body(size: size, seed: bodySeed)
            let writer = try store.makeWriter()
            var position = 0
            while position < body.count {
                let n = min(body.count - position, 1 + rng.below(20_000))
                try await writer.append(body[position..<(position + n)])
                position += n
            }
            let stored = try await writer.finish()
            var transaction = TransactionGenerator.transaction(id: EnvelopeID(1 + UInt64(index)), rng: &rng)
            transaction.content = stored.reference
            let message = Message(envelopeID: transaction.envelopeID, content: stored.reference, bodySeed: bodySeed, bodySize: size)
            recorder.state.withLock { $0.finished[stored.id] = message }
            _ = try await log.commit([.transaction(transaction)], bodies: [stored], in: store)
            recorder.state.withLock { $0.acknowledged[message.envelopeID] = message }
            mine.append(message)
            // Complete an earlier message now and then: close, then release (rule 2).
            while mine.count > 2 + rng.below(6) {
                let done = mine.remove(at: rng.below(mine.count))
                recorder.state.withLock { _ = $0.closing.insert(done.envelopeID) }
                _ = try await log.commit(.closed(done.envelopeID, .completed))
                recorder.state.withLock {
                    $0.closed.insert(done.envelopeID)
                    $0.releasing.insert(done.content.id)
                }
                try store.release(done.content.id)
                recorder.state.withLock { _ = $0.released.insert(done.content.id) }
            }
            index += writers
        }
    }
}
