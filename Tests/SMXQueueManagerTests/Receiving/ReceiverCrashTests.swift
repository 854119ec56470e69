#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing
import SMXQueueManager
import SMXStore
import SMXTestSupport

/// The receiving side's crash test: concurrent sessions receive messages (bodies on both
/// sides of the large-body threshold, streamed in pieces), some of them aborted mid-body.
/// A power-loss image is taken at every sync point with what was acknowledged by then;
/// each image is recovered in every crash mode and checked:
///
/// - every message whose `commit()` returned is open in the incoming log exactly as
///   committed, and its body reads back byte for byte (rule 1);
/// - no aborted message left an envelope;
/// - startup then moves exactly the envelopes with a body into the deferred queue (each
///   acknowledged one among them; others only if they were committing at the crash), and
///   every store verifies.
@Suite struct ReceiverCrashTests {
    struct Sent: Sendable {
        var message: AcceptedMessage
        var bodySeed: UInt64
        var bodySize: Int
    }

    struct Record: Sendable {
        var acknowledged: [EnvelopeID: Sent] = [:]
        /// Envelopes whose commit was called (acknowledged or not yet).
        var committing: Set<EnvelopeID> = []
        var aborted: Set<EnvelopeID> = []
    }

    final class Recorder: Sendable {
        let state = Mutex(Record())
    }

    struct Point: Sendable {
        var image: SimulatedImage
        var record: Record
    }

    @Test(.timeLimit(.minutes(10)))
    func everyAcknowledgedMessageSurvivesEveryCrash() async throws {
        let fs = SimulatedFileSystem(seed: 500)
        fs.syncDelayMicroseconds = 50
        let stores = try QueueStores(fs)
        let receiver = stores.receiver()
        let recorder = Recorder()
        let points = Mutex<[Point]>([])
        fs.setOperationHook { op in
            guard op.kind.isSync else { return }
            // Acknowledgements read before the image, commits begun read after it: a sync
            // of a thread that holds no commit back (the content flusher, a preparer) lets
            // the sessions go on meanwhile.
            let acknowledged = recorder.state.withLock { $0.acknowledged }
            let image = fs.snapshot()
            var now = recorder.state.withLock { $0 }
            now.acknowledged = acknowledged
            points.withLock { $0.append(Point(image: image, record: now)) }
            // Content syncs are slower than the log's here, so a commit that did not wait
            // for its body would be acknowledged before the body is durable, and an image
            // taken at this sync would show it.
            if op.path.hasPrefix("/q/cdb/") { usleep(2_000) }
        }
        let sessions = 4, perSession = 12
        try await withThrowingTaskGroup(of: Void.self) { group in
            for session in 0..<sessions {
                group.addTask {
                    var rng = SplitMix64(seed: 500 &+ UInt64(session))
                    for n in 0..<perSession {
                        let size = rng.below(4) == 0 ? QueueStores.largeBodyThreshold + rng.below(40_000) : rng.below(8_000)
                        let seed = rng.next()
                        let body = MailBodyGenerator.body(size: size, seed: seed)
                        let message = try receiver.begin(sender: "s\(session)@example.org")
                        for r in 0...rng.below(3) { try message.addRecipient("r\(r)-\(n)@d\(session).example") }
                        let abortAt = n % 5 == 4 ? body.count / 2 : nil
                        var position = 0
                        while position < body.count {
                            if let abortAt, position >= abortAt { break }
                            let end = min(body.count, position + 1 + rng.below(9_000))
                            try await message.appendBody(body[position..<end])
                            position = end
                        }
                        if abortAt != nil {
                            message.abort()
                            recorder.state.withLock { _ = $0.aborted.insert(message.envelopeID) }
                            continue
                        }
                        recorder.state.withLock { _ = $0.committing.insert(message.envelopeID) }
                        let accepted = try await message.commit()
                        recorder.state.withLock { $0.acknowledged[accepted.envelopeID] = Sent(message: accepted, bodySeed: seed, bodySize: size) }
                    }
                }
            }
            try await group.waitForAll()
        }
        stores.close()
        fs.setOperationHook(nil)
        let final = recorder.state.withLock { $0 }
        #expect(final.acknowledged.count == sessions * perSession - final.aborted.count)

        let all = points.withLock { $0 }
        var problems: [String] = []
        var recoveries = 0
        for (n, point) in all.enumerated() {
            for (m, mode) in CrashMode.allCases.enumerated() {
                let seed = 500 &+ UInt64(n) &* 31 &+ UInt64(m)
                let context = "point \(n) (\(mode), seed \(seed), \(point.record.acknowledged.count) acknowledged)"
                recoveries += 1
                do {
                    problems += try await check(point, mode: mode, seed: seed).map { "\(context): \($0)" }
                } catch {
                    problems.append("\(context): \(error)")
                }
            }
            if problems.count > 20 { break }
        }
        print("receiver crash campaign: \(sessions * perSession) messages (\(final.aborted.count) aborted), \(all.count) sync points, \(recoveries) recoveries, \(problems.count) problems")
        #expect(all.count >= 20)
        #expect(problems.isEmpty, "\(problems.prefix(10))")
    }

    private func check(_ point: Point, mode: CrashMode, seed: UInt64) async throws -> [String] {
        var problems: [String] = []
        let stores = try QueueStores(SimulatedFileSystem.restore(point.image, crash: mode, seed: seed))
        defer { stores.close() }
        let open = Dictionary(uniqueKeysWithValues: stores.log.openTransactions().map { ($0.envelopeID, $0) })
        for (id, sent) in point.record.acknowledged {
            guard let transaction = open[id] else {
                problems.append("acknowledged \(id) is not in the incoming log")
                continue
            }
            if transaction != sent.message.transaction { problems.append("\(id) came back changed") }
            if try stores.body(transaction.content.id) != MailBodyGenerator.body(size: sent.bodySize, seed: sent.bodySeed) {
                problems.append("\(id): body differs")
            }
        }
        for id in open.keys where !point.record.committing.contains(id) {
            problems.append("\(id) is in the incoming log but was never committed")
        }
        let result = try await QueueStartup(log: stores.log, contentStore: stores.content, deferredQueue: stores.deferred)
            .run(now: QueueStores.t0)
        problems += try startupInvariantProblems(stores, result)
        let reader = try stores.deferred.reader()
        defer { reader.close() }
        let deferred = Set(try reader.transactions().map(\.envelopeID))
        if !Set(point.record.acknowledged.keys).isSubset(of: deferred) {
            problems.append("acknowledged envelopes missing after startup: \(Set(point.record.acknowledged.keys).subtracting(deferred).sorted())")
        }
        if !deferred.isSubset(of: point.record.committing) {
            problems.append("envelopes after startup that were never committed: \(deferred.subtracting(point.record.committing).sorted())")
        }
        if try !stores.temporaryFiles().isEmpty { problems.append("unfinished large bodies left after recovery") }
        return problems
    }
}
