import Synchronization
import Testing
import SMXQueueManager
import SMXStore
import SMXTestSupport

/// Each operation is one deferred-queue commit: a power-loss image at every sync point of a
/// hold, a bounce and a delete, each recovered in every crash mode and started up, shows
/// every operation wholly done or not at all, the queue verifying, and the live bodies
/// exactly the referenced ones (a delete's body release after its commit may be lost, never
/// come early).
@Suite struct QueueOperationsCrashTests {
    struct Point: Sendable {
        var image: SimulatedImage
        var finished: Int
    }

    final class Progress: Sendable {
        let finished = Mutex(0)
    }

    @Test(.timeLimit(.minutes(5)))
    func everyOperationIsAllOrNothing() async throws {
        let far = QueueStores.t0 + 86_400_000_000
        let built = try BounceFixture(SimulatedFileSystem(seed: 700))
        let planned: [BounceFixture.Planned] = (0..<3).map { n in
            .init(address: "r\(n)@example.com", status: .deferred, reply: BounceFixture.deferredReply, nextTry: far)
        }
        let a = try await built.queue(planned)
        let b = try await built.queue(planned)
        let c = try await built.queue(planned)
        let image = built.stores.crash(seed: 701).snapshot()

        let fs = SimulatedFileSystem.restore(image, crash: .dropAllUnsynced, seed: 702)
        let stores = try QueueStores(fs)
        let operations = QueueOperations(deferredQueue: stores.deferred, contentStore: stores.content, incomingLog: stores.log)
        let progress = Progress()
        let points = Mutex<[Point]>([])
        fs.setOperationHook { op in
            guard op.kind.isSync else { return }
            // Read before the image: a sync that holds no operation back lets it go on.
            let finished = progress.finished.withLock { $0 }
            let snapshot = fs.snapshot()
            points.withLock { $0.append(Point(image: snapshot, finished: finished)) }
        }
        _ = try await operations.hold(.envelopes([a.envelopeID]))
        progress.finished.withLock { $0 = 1 }
        _ = try await operations.bounce(.envelopes([b.envelopeID]), now: BounceFixture.now)
        progress.finished.withLock { $0 = 2 }
        _ = try await operations.delete(.envelopes([c.envelopeID]))
        progress.finished.withLock { $0 = 3 }
        fs.setOperationHook(nil)
        stores.close()
        // And what a power loss after the last acknowledgement leaves.
        points.withLock { $0.append(Point(image: fs.snapshot(), finished: 3)) }

        let all = points.withLock { $0 }
        var problems: [String] = []
        for (n, point) in all.enumerated() {
            for (m, mode) in CrashMode.allCases.enumerated() {
                let seed = 700 &+ UInt64(n) &* 31 &+ UInt64(m)
                let context = "point \(n) of \(all.count) after \(point.finished) operations (\(mode))"
                do {
                    let again = try QueueStores(SimulatedFileSystem.restore(point.image, crash: mode, seed: seed))
                    defer { again.close() }
                    _ = try await QueueStartup(log: again.log, contentStore: again.content, deferredQueue: again.deferred)
                        .run(now: BounceFixture.now.microsecondsSinceEpoch)
                    let reader = try again.deferred.reader()
                    defer { reader.close() }
                    func statuses(_ t: DeferredTransaction) throws -> Set<DeferredRecipient.Status> {
                        Set(try reader.recipients(of: t.envelopeID).map(\.status))
                    }
                    let held = try statuses(a), failed = try statuses(b), deleted = try reader.recipients(of: c.envelopeID).count
                    if held != [.deferred] && held != [.held] { problems.append("\(context): A is \(held)") }
                    if point.finished >= 1 && held != [.held] { problems.append("\(context): acknowledged hold lost") }
                    if failed != [.deferred] && failed != [.failed] { problems.append("\(context): B is \(failed)") }
                    if point.finished >= 2 && failed != [.failed] { problems.append("\(context): acknowledged bounce lost") }
                    if deleted != 0 && deleted != 3 { problems.append("\(context): C has \(deleted) recipients") }
                    if point.finished >= 3 && deleted != 0 { problems.append("\(context): acknowledged delete lost") }
                    let verification = again.deferred.verify()
                    if !verification.isClean { problems.append("\(context): \(verification.allProblems.prefix(3))") }
                    let referenced = Set(try reader.transactions().map(\.content.id))
                    if Set(again.content.liveIDs()) != referenced {
                        problems.append("\(context): live \(again.content.liveIDs().sorted()), referenced \(referenced.sorted())")
                    }
                } catch {
                    problems.append("\(context): \(error)")
                }
            }
            if problems.count > 20 { break }
        }
        print("queue operations crash campaign: \(all.count) sync points, \(all.count * CrashMode.allCases.count) recoveries, \(problems.count) problems")
        #expect(all.count >= 4)
        #expect(problems.isEmpty, "\(problems.prefix(10))")
    }
}
