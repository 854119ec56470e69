import Synchronization
import Testing
import SMXQueueManager
import SMXStore
import SMXTestSupport

/// The pass's crash test: a queue with failures (coalesced, RET=FULL, a bounce for the
/// postmaster) and an owed delay warning is passed over once with a power-loss image taken
/// at every sync point. Each image is recovered in every crash mode, started up (the
/// notifications already accepted move to the deferred queue like any mail) and passed over
/// again. Then every recipient owed a report must be in at least one notification and in
/// at most two (the second from a crash between the notification's commit and the
/// deferred queue's), the failed recipients must be gone, the delayed one marked, and
/// every store must verify.
@Suite struct NotificationPassCrashTests {
    typealias Point = SimulatedImage

    /// Addresses owed a report, and what the queue keeps.
    static let reported = ["bob@example.com", "carol@example.com", "frank@example.com", "gina@example.com", "zoe@example.net"]

    @Test(.timeLimit(.minutes(10)))
    func aCrashAnywhereInAPassSendsEveryNotificationOnceOrTwice() async throws {
        let far = QueueStores.t0 + 86_400_000_000
        let built = try BounceFixture(SimulatedFileSystem(seed: 600))
        let e1 = try await built.queue(mail: MailParameters(envelopeID: "E-1"), [
            .init(address: "bob@example.com", orcpt: "rfc822;bob@example.com"),
            .init(address: "carol@example.com"),
            .init(address: "dave@example.com", notify: [.failure], status: .deferred, reply: BounceFixture.deferredReply, nextTry: far),
        ])
        let e2 = try await built.queue(sender: "erin@example.net", mail: MailParameters(ret: .full), body: BounceFixture.message("Big"), [
            .init(address: "frank@example.com"),
        ])
        let e3 = try await built.queue(sender: "hal@example.net", [
            .init(address: "gina@example.com", status: .deferred, reply: BounceFixture.deferredReply, nextTry: far),
        ])
        let e4 = try await built.queue(sender: "", [.init(address: "zoe@example.net")])
        let originals: Set<EnvelopeID> = [e1.envelopeID, e2.envelopeID, e3.envelopeID, e4.envelopeID]
        let highest = built.receiver.envelopeIDs.next()
        let image = built.stores.crash(seed: 601).snapshot()

        // The recorded pass.
        let fs = SimulatedFileSystem.restore(image, crash: .dropAllUnsynced, seed: 602)
        let recorded = try BounceFixture(fs, envelopeIDs: EnvelopeIDSource(after: highest, clockMicros: 0))
        let points = Mutex<[Point]>([])
        fs.setOperationHook { op in
            guard op.kind.isSync else { return }
            let snapshot = fs.snapshot()
            points.withLock { $0.append(snapshot) }
        }
        let report = try await recorded.pass.run(now: BounceFixture.late)
        fs.setOperationHook(nil)
        recorded.stores.close()
        #expect(report.sent.count == 4)
        #expect(report.failures.isEmpty)
        let all = points.withLock { $0 }

        var problems: [String] = []
        var duplicates = 0
        for (n, point) in all.enumerated() {
            for (m, mode) in CrashMode.allCases.enumerated() {
                let seed = 600 &+ UInt64(n) &* 31 &+ UInt64(m)
                let context = "point \(n) of \(all.count) (\(mode), seed \(seed))"
                do {
                    let (found, more) = try await recover(point, mode: mode, seed: seed, originals: originals, e1: e1, e3: e3)
                    problems += more.map { "\(context): \($0)" }
                    for address in Self.reported {
                        let count = found[address, default: 0]
                        if count == 0 { problems.append("\(context): no notification for \(address)") }
                        if count > 2 { problems.append("\(context): \(count) notifications for \(address)") }
                        if count == 2 { duplicates += 1 }
                    }
                } catch {
                    problems.append("\(context): \(error)")
                }
            }
            if problems.count > 20 { break }
        }
        print("notification pass crash campaign: \(all.count) sync points, \(all.count * CrashMode.allCases.count) recoveries, \(duplicates) duplicate reports, \(problems.count) problems")
        #expect(all.count >= 8)
        #expect(problems.isEmpty, "\(problems.prefix(10))")
    }

    /// Recovers an image, starts the queue, runs the pass again; returns how many
    /// notifications name each address, and the problems found.
    private func recover(
        _ image: SimulatedImage, mode: CrashMode, seed: UInt64, originals: Set<EnvelopeID>, e1: DeferredTransaction, e3: DeferredTransaction
    ) async throws -> ([String: Int], [String]) {
        let fs = SimulatedFileSystem.restore(image, crash: mode, seed: seed)
        let stores = try QueueStores(fs)
        let started = try await QueueStartup(log: stores.log, contentStore: stores.content, deferredQueue: stores.deferred)
            .run(now: BounceFixture.late.microsecondsSinceEpoch)
        stores.close()
        let f = try BounceFixture(fs, envelopeIDs: started.envelopeIDs)
        defer { f.stores.close() }
        let again = try await f.pass.run(now: BounceFixture.late)
        var problems: [String] = again.failures.map { "second pass: \($0.envelopeID) \($0.error)" }

        var texts: [String] = []
        for t in f.stores.log.openTransactions() where t.sender.isEmpty {
            texts.append(String(decoding: try f.stores.body(t.content.id), as: UTF8.self))
        }
        let reader = try f.stores.deferred.reader()
        defer { reader.close() }
        for t in try reader.transactions() where t.sender.isEmpty && !originals.contains(t.envelopeID) {
            texts.append(String(decoding: try f.stores.body(t.content.id), as: UTF8.self))
        }
        var found: [String: Int] = [:]
        for address in Self.reported {
            found[address] = texts.count { $0.contains("Final-Recipient: rfc822; \(address)\r\n") }
        }
        // Failed recipients are gone; the deferred one stays unreported, the delayed one marked.
        let e1Left = try reader.recipients(of: e1.envelopeID)
        if e1Left.map(\.address) != ["dave@example.com"] { problems.append("E1 holds \(e1Left.map(\.address))") }
        let e3Left = try reader.recipients(of: e3.envelopeID)
        if e3Left.map(\.delayReported) != [true] { problems.append("E3's recipient: \(e3Left)") }
        for t in try reader.transactions() where originals.contains(t.envelopeID) && t.failed > 0 {
            problems.append("envelope \(t.envelopeID) still has \(t.failed) failed recipients")
        }
        let verification = f.stores.deferred.verify()
        if !verification.isClean { problems.append("deferred queue: \(verification.allProblems.prefix(3))") }
        let content = f.stores.content.verify()
        if !content.isClean { problems.append("content store: \(content.problems.prefix(3))") }
        // Every body still referenced is live; every envelope that left took its body along.
        var referenced = Set(try reader.transactions().map(\.content.id))
        for t in f.stores.log.openTransactions() { referenced.insert(t.content.id) }
        if Set(f.stores.content.liveIDs()) != referenced {
            problems.append("live bodies \(f.stores.content.liveIDs().sorted()), referenced \(referenced.sorted())")
        }
        return (found, problems)
    }
}
