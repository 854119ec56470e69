/// The queue schema's invariants, as code: tests call ``DeferredQueue/verify()`` after
/// every commit; `smx-fsck` prints what it finds. On top of the B+tree's own checks
/// (``BTreeFile/verify()``):
///
/// 1. Every transaction and recipient record decodes and names the key it is stored under.
/// 2. Every recipient's transaction exists.
/// 3. Every recipient with a next try has exactly one next-try index entry, the one its
///    record implies; a held recipient has none; no next-try entry is orphaned (names a
///    recipient that is missing or implies another entry).
/// 4. Every recipient has exactly one destination-index entry, for its destination; none
///    is orphaned.
/// 5. The hold set holds exactly the held recipients.
/// 6. Each transaction's `deferred`, `held` and `failed` counters equal its recipients by
///    status, its counters account for at most its `recipientCount`, and it has at least
///    one recipient (an envelope leaves with its last recipient).
/// 7. Every index and hold-set value is empty and every key has its tree's layout.
public struct DeferredQueueVerification: Sendable, Equatable {
    /// The B+tree file's own verification (run first, on its own snapshot).
    public var file: BTreeVerification
    /// The committed state the schema checks read.
    public var txid: UInt64 = 0
    public var transactionsChecked = 0
    public var recipientsChecked = 0
    public var indexEntriesChecked = 0
    /// Schema problems, each naming the tree and key (at most 200).
    public var problems: [String] = []

    public var isClean: Bool { file.isClean && problems.isEmpty }

    /// The file's problems and then the schema's.
    public var allProblems: [String] { file.problems + problems }
}

extension DeferredQueue {
    /// Checks the B+tree file, then the schema on the newest committed state (a snapshot:
    /// safe while changes commit; the two checks may see different commits then). Reads
    /// every record once and keeps every index key of the queue in memory.
    public func verify() -> DeferredQueueVerification {
        var result = DeferredQueueVerification(file: file.verify())
        let reader: DeferredQueueReader
        do { reader = try self.reader() } catch {
            result.problems.append("cannot take a snapshot: \(error)")
            return result
        }
        defer { reader.close() }
        result.txid = reader.txid
        do {
            try SchemaVerifier(reader.snapshot, path: file.configuration.path).run(into: &result)
        } catch {
            result.problems.append("reading stopped: \(error)")
        }
        return result
    }
}

/// One schema verification walk over a snapshot.
private struct SchemaVerifier {
    typealias Schema = DeferredQueueSchema
    let snapshot: Snapshot
    let path: String

    init(_ snapshot: Snapshot, path: String) {
        self.snapshot = snapshot
        self.path = path
    }

    private static func hex(_ key: [UInt8]) -> String {
        key.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }

    private func each(_ tree: String, _ visit: ([UInt8], [UInt8]) throws -> Void) throws {
        let cursor = try snapshot.cursor(tree)
        var more = try cursor.first()
        while more, let key = cursor.key {
            try visit(key, try cursor.value() ?? [])
            more = try cursor.next()
        }
    }

    func run(into result: inout DeferredQueueVerification) throws {
        var problems: [String] = []
        func problem(_ text: String) { if problems.count < 200 { problems.append(text) } }
        defer { result.problems += problems }

        var transactions: [EnvelopeID: DeferredTransaction] = [:]
        try each(Schema.transactions) { key, value in
            result.transactionsChecked += 1
            guard let id = Schema.decodeTransactionKey(key) else {
                problem("\(Schema.transactions): key \(Self.hex(key)) is not an envelope id")
                return
            }
            do { transactions[id] = try DeferredQueue.decodeTransaction(value, id: id, path: path) } catch {
                problem("\(Schema.transactions): \(error)")
            }
        }

        var tallies: [EnvelopeID: (deferred: UInt32, held: UInt32, failed: UInt32)] = [:]
        var expectedNextTry = Set<[UInt8]>()
        var expectedDestinations = Set<[UInt8]>()
        var expectedHold = Set<[UInt8]>()
        try each(Schema.recipients) { key, value in
            result.recipientsChecked += 1
            guard let id = Schema.decodeRecipientKey(key) else {
                problem("\(Schema.recipients): key \(Self.hex(key)) is not an (envelope, index) key")
                return
            }
            let recipient: DeferredRecipient
            do { recipient = try DeferredQueue.decodeRecipient(value, id: id, path: path) } catch {
                problem("\(Schema.recipients): \(error)")
                return
            }
            if let transaction = transactions[id.envelopeID] {
                if id.index >= transaction.recipientCount {
                    problem("recipient \(id): index past its envelope's \(transaction.recipientCount) recipients")
                }
            } else {
                problem("recipient \(id): its transaction \(id.envelopeID) does not exist")
            }
            var tally = tallies[id.envelopeID] ?? (0, 0, 0)
            switch recipient.status {
            case .deferred: tally.deferred += 1
            case .held: tally.held += 1
            case .failed: tally.failed += 1
            }
            tallies[id.envelopeID] = tally
            if let key = recipient.nextTryKey { expectedNextTry.insert(Schema.nextTryKey(key)) }
            expectedDestinations.insert(Schema.destinationKey(recipient.destination, id))
            if recipient.status == .held { expectedHold.insert(Schema.holdKey(id)) }
        }

        for (id, transaction) in transactions.sorted(by: { $0.key < $1.key }) {
            let tally = tallies[id] ?? (0, 0, 0)
            if (transaction.deferred, transaction.held, transaction.failed) != (tally.deferred, tally.held, tally.failed) {
                problem("transaction \(id): counters deferred/held/failed \(transaction.deferred)/\(transaction.held)/\(transaction.failed), its recipients \(tally.deferred)/\(tally.held)/\(tally.failed)")
            }
            if tally.deferred == 0 && tally.held == 0 && tally.failed == 0 {
                problem("transaction \(id): no recipient left (should have been removed)")
            }
        }

        /// Walks an index tree: every key must have the tree's layout, an empty value and
        /// be expected (else it is orphaned); every expected key must be there (else it is
        /// missing). Names are built only for problems.
        func index(_ tree: String, expected: Set<[UInt8]>, describe: ([UInt8]) -> String?) throws {
            var found = 0
            try each(tree) { key, value in
                result.indexEntriesChecked += 1
                if expected.contains(key) {
                    found += 1
                    if !value.isEmpty { problem("\(tree): entry \(describe(key) ?? Self.hex(key)) has a \(value.count)-byte value") }
                } else if let name = describe(key) {
                    problem("\(tree): entry \(name) is orphaned (no recipient implies it)")
                } else {
                    problem("\(tree): key \(Self.hex(key)) has the wrong layout")
                }
            }
            if found != expected.count {
                let present = Set(try keys(tree))
                for key in expected.subtracting(present).sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                    problem("\(tree): entry \(describe(key) ?? Self.hex(key)) is missing")
                }
            }
        }
        try index(Schema.nextTry, expected: expectedNextTry) { key in
            Schema.decodeNextTryKey(key).map { "\($0)" }
        }
        try index(Schema.destinations, expected: expectedDestinations) { key in
            Schema.decodeDestinationKey(key).map { "\($0.destination) \($0.id)" }
        }
        try index(Schema.hold, expected: expectedHold) { key in
            Schema.decodeRecipientKey(key).map { "\($0)" }
        }
    }

    private func keys(_ tree: String) throws -> [[UInt8]] {
        var out: [[UInt8]] = []
        try each(tree) { key, _ in out.append(key) }
        return out
    }
}
