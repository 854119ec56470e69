#if canImport(Glibc)
import Glibc
#endif
import SMXStore

/// The `defedb` suite's workload: deferred recipients, the operations every engine runs on
/// them (``DeferredQueueBenchTarget``), and the seeded generator of their records.

/// A recipient record's key: (envelope id, recipient index).
struct RecipientKey: Hashable, Sendable {
    var envelope: UInt64
    var index: UInt32
}

/// A next-try index entry: (next try, envelope id, recipient index), ordered field by
/// field. Next try is in microseconds since the Unix epoch.
struct NextTryKey: Comparable, Hashable, Sendable {
    var nextTry: UInt64
    var envelope: UInt64
    var index: UInt32

    var recipient: RecipientKey { RecipientKey(envelope: envelope, index: index) }

    static func < (a: NextTryKey, b: NextTryKey) -> Bool {
        if a.nextTry != b.nextTry { return a.nextTry < b.nextTry }
        if a.envelope != b.envelope { return a.envelope < b.envelope }
        return a.index < b.index
    }
}

/// Recipient records handed to an engine in one durable batch, values packed in one
/// buffer. For a reschedule, `previousNextTry` holds the next try each record had (the
/// index entry to remove); it is empty for an insert.
struct RecipientBatch: Sendable {
    var keys: [RecipientKey] = []
    var nextTry: [UInt64] = []
    var previousNextTry: [UInt64] = []
    var valueBytes: [UInt8] = []
    /// End offset of value `i` in `valueBytes` (it starts where value `i - 1` ends).
    var valueEnds: [Int] = []

    var count: Int { keys.count }

    func valueRange(_ i: Int) -> Range<Int> { (i == 0 ? 0 : valueEnds[i - 1])..<valueEnds[i] }

    /// Calls `body` with the bytes of value `i` (valid only during the call).
    @inline(__always)
    func withValue<R>(_ i: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let range = valueRange(i)
        return try valueBytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[range])) }
    }
}

/// What a refill scan of the next-try index returned: the entries, in order, and the total
/// bytes and version bytes of the records read for them.
struct DueChunk: Sendable {
    var entries: [NextTryKey] = []
    var valueBytes = 0
    var versionSum = 0

    /// Counts the record read for an entry: its length and its first byte (the version a
    /// decoder reads first), so reading the value is real work the driver checks.
    @inline(__always)
    mutating func add(_ bytes: UnsafeRawPointer?, _ count: Int) {
        valueBytes += count
        if count > 0, let bytes { versionSum += Int(bytes.load(as: UInt8.self)) }
    }
}

/// What a run of point lookups found: records, their total bytes and version bytes.
struct LookupTotals: Sendable {
    var found = 0
    var valueBytes = 0
    var versionSum = 0

    @inline(__always)
    mutating func add(_ bytes: UnsafeRawPointer?, _ count: Int) {
        found += 1
        valueBytes += count
        if count > 0, let bytes { versionSum += Int(bytes.load(as: UInt8.self)) }
    }
}

/// One engine under the `defedb` workload: a table of recipient records keyed by
/// (envelope id, index) and a next-try index ordered by (next try, envelope id, index),
/// kept consistent with each other by every write.
///
/// The driver calls the methods one at a time, in order, from one task. Every write
/// method is one transaction that is durable (synced to the disk) when it returns.
/// Implementations that block in the disk must do so off Swift's cooperative pool (the
/// SQLite and LMDB targets are actors on a ``DedicatedThreadExecutor``).
protocol DeferredQueueBenchTarget: AnyObject, Sendable {
    /// Inserts new records and their index entries; one durable commit.
    func insert(batch: RecipientBatch) async throws
    /// Replaces existing records with the batch's values (new next try, attempts, last
    /// reply) and moves their index entries from `previousNextTry` to `nextTry`; one
    /// durable commit.
    func reschedule(batch: RecipientBatch) async throws
    /// The scheduler's refill scan: up to `limit` index entries with next try ≤ `now`, in
    /// index order, strictly after `after` (from the start when nil), each with its record
    /// read (as the scheduler must, to route the recipient). Read-only: one snapshot or
    /// read transaction per call.
    func scanDue(after: NextTryKey?, now: UInt64, limit: Int) async throws -> DueChunk
    /// Independent point lookups of records by key, each its own read (snapshot or read
    /// transaction); the batch is only how the driver hands them over.
    func lookup(_ keys: ArraySlice<RecipientKey>) async throws -> LookupTotals
    /// Deletes records and their index entries (the entries name both); one durable commit.
    func delete(batch: ArraySlice<NextTryKey>) async throws
    /// Ends a write phase, inside its timing: work the engine defers past its durable
    /// commits (smx's checkpoint of pages whose commits are in its journal) is done here,
    /// so each phase pays for what it wrote. Engines that defer nothing do nothing.
    func finishPhase() async throws
    /// Bytes of every file the engine keeps, as they are now (logs and WAL included).
    func fileBytes() async throws -> Int
    /// Closes the engine; no other call follows.
    func close() async throws
}

/// An engine the suite can run: its report key, a one-line description of its setup for
/// the progress output, and how to open it on a fresh, empty directory.
struct DeferredQueueEngine: Sendable {
    var name: String
    var setup: String
    var open: @Sendable (_ directory: String) async throws -> any DeferredQueueBenchTarget
}

/// A failure reported by an engine's C library.
struct EngineError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The whole workload, generated once from a fixed seed and run unchanged on every engine.
///
/// Envelopes get increasing ids with gaps (envelopes delivered at first try never reach
/// the deferred queue) and 1 to 40 recipients (72 % one, 15 % two, 8 % three to five,
/// 5 % six to forty), arriving about 140 envelopes a second; each recipient's first
/// retry is its arrival plus a backoff of its destination (5, 10, 15, 30 or 60 minutes)
/// plus up to 30 s of jitter, so new index entries land at a few moving fronts, not at
/// the end. A reschedule adds one to the attempts, sets a new last reply and moves the
/// next try later by 5 minutes × 2^attempts (at most 4 hours) plus jitter.
struct DeferredWorkload: Sendable {
    static let seed: UInt64 = 0xDEFE_DB5E_ED00_0004
    /// 2026-01-01T00:00:00Z in microseconds.
    static let epoch: UInt64 = 1_767_225_600_000_000

    let recipients: Int
    let insertBatches: [RecipientBatch]
    let rescheduleBatches: [RecipientBatch]
    /// Every index entry after the reschedules, sorted: what a full scan must return.
    let finalIndex: [NextTryKey]
    /// Keys of the lookup phase, random draws (with repetition) over every recipient.
    let lookupKeys: [RecipientKey]
    /// Sum of the values' bytes over `lookupKeys` and over `finalIndex`, after reschedules.
    let lookupValueBytes: Int
    let finalValueBytes: Int
    /// Value sizes over the inserts.
    let valueBytesMin: Int
    let valueBytesMax: Int
    let valueBytesMean: Double

    var rescheduled: Int { rescheduleBatches.reduce(0) { $0 + $1.count } }
    /// A `now` at which every entry is due.
    var lastNextTry: UInt64 { finalIndex.last?.nextTry ?? 0 }

    init(recipients n: Int, insertBatch: Int, rescheduleShare: Double, rescheduleBatch: Int, lookups: Int) {
        var random = SplitMix64(seed: Self.seed)
        var factory = RecipientValueFactory()

        // The recipients, in arrival order, and their state.
        var keys: [RecipientKey] = []
        var nextTry: [UInt64] = []
        var arrival: [UInt64] = []
        var profile: [UInt64] = []
        var attempts: [UInt16] = []
        var valueSize: [Int] = []
        keys.reserveCapacity(n)
        nextTry.reserveCapacity(n)
        arrival.reserveCapacity(n)
        profile.reserveCapacity(n)
        var envelope: UInt64 = 40_000_000
        var envelopeNumber: UInt64 = 0
        while keys.count < n {
            envelope += 1 + random.next() % 3
            envelopeNumber += 1
            let arrived = Self.epoch + envelopeNumber * 7_000 + random.next() % 7_000
            let draw = random.next() % 100
            let count: Int = draw < 72 ? 1 : draw < 87 ? 2 : draw < 95 ? Int(3 + random.next() % 3) : Int(6 + random.next() % 35)
            for i in 0..<min(count, n - keys.count) {
                keys.append(RecipientKey(envelope: envelope, index: UInt32(i)))
                arrival.append(arrived)
                profile.append(random.next())
                let backoffs: [UInt64] = [300, 600, 900, 1800, 3600]
                let backoff = backoffs[Int(random.next() % UInt64(backoffs.count))] * 1_000_000
                nextTry.append(arrived + backoff + random.next() % 30_000_000)
            }
        }
        attempts = Array(repeating: 1, count: n)
        valueSize = Array(repeating: 0, count: n)

        // Inserts, in arrival order.
        var inserts: [RecipientBatch] = []
        var sizeMin = Int.max, sizeMax = 0, sizeSum = 0
        var start = 0
        while start < n {
            let end = min(n, start + insertBatch)
            var batch = RecipientBatch()
            batch.keys.reserveCapacity(end - start)
            batch.valueBytes.reserveCapacity((end - start) * 180)
            for r in start..<end {
                let attempt = arrival[r] + 2_000_000 + profile[r] % 20_000_000
                factory.encode(
                    into: &batch.valueBytes, profile: profile[r], attempts: 1, firstFailure: attempt,
                    lastAttempt: attempt, nextTry: nextTry[r], replySeed: profile[r] &+ 1
                )
                let size = batch.valueBytes.count - (batch.valueEnds.last ?? 0)
                batch.keys.append(keys[r])
                batch.nextTry.append(nextTry[r])
                batch.valueEnds.append(batch.valueBytes.count)
                valueSize[r] = size
                sizeMin = min(sizeMin, size)
                sizeMax = max(sizeMax, size)
                sizeSum += size
            }
            inserts.append(batch)
            start = end
        }

        // Reschedules: a random share of the recipients (each at most once), in random order.
        var chosen = Array(0..<n)
        let rescheduleCount = Int((Double(n) * rescheduleShare).rounded())
        for i in 0..<rescheduleCount {
            chosen.swapAt(i, i + Int(random.next() % UInt64(n - i)))
        }
        var reschedules: [RecipientBatch] = []
        start = 0
        while start < rescheduleCount {
            let end = min(rescheduleCount, start + rescheduleBatch)
            var batch = RecipientBatch()
            for r in chosen[start..<end] {
                let previous = nextTry[r]
                attempts[r] += 1
                let backoff: UInt64 = min(14_400, 300 << UInt64(attempts[r])) * 1_000_000
                let next = previous + backoff + random.next() % 60_000_000
                nextTry[r] = next
                let firstFailure = arrival[r] + 2_000_000 + profile[r] % 20_000_000
                factory.encode(
                    into: &batch.valueBytes, profile: profile[r], attempts: attempts[r], firstFailure: firstFailure,
                    lastAttempt: previous + random.next() % 5_000_000, nextTry: next, replySeed: random.next()
                )
                valueSize[r] = batch.valueBytes.count - (batch.valueEnds.last ?? 0)
                batch.keys.append(keys[r])
                batch.nextTry.append(next)
                batch.previousNextTry.append(previous)
                batch.valueEnds.append(batch.valueBytes.count)
            }
            reschedules.append(batch)
            start = end
        }

        var index = (0..<n).map { NextTryKey(nextTry: nextTry[$0], envelope: keys[$0].envelope, index: keys[$0].index) }
        index.sort()
        var lookupKeys: [RecipientKey] = []
        lookupKeys.reserveCapacity(lookups)
        var lookupBytes = 0
        for _ in 0..<lookups {
            let r = Int(random.next() % UInt64(n))
            lookupKeys.append(keys[r])
            lookupBytes += valueSize[r]
        }

        precondition(nextTry.allSatisfy { $0 < UInt64(Int64.max) } && keys.allSatisfy { $0.envelope < UInt64(Int64.max) })
        recipients = n
        insertBatches = inserts
        rescheduleBatches = reschedules
        finalIndex = index
        self.lookupKeys = lookupKeys
        lookupValueBytes = lookupBytes
        finalValueBytes = valueSize.reduce(0, +)
        valueBytesMin = sizeMin
        valueBytesMax = sizeMax
        valueBytesMean = n == 0 ? 0 : Double(sizeSum) / Double(n)
    }
}

/// Encodes recipient records as a queue would (version 1 of a plausible layout, all
/// integers big-endian): version, status, attempts (u16), first failure, last attempt and
/// next try (u64 microseconds), NOTIFY flags, then length-prefixed (u8) address, ORCPT
/// (empty for most), next-hop host and the last SMTP reply or delivery error.
/// `profile` fixes a recipient's address, ORCPT and destination, so a reschedule rewrites
/// the same recipient with a new state.
struct RecipientValueFactory {
    static let firstNames = [
        "anna", "ben", "carla", "david", "eva", "felix", "greta", "hugo", "ines", "jonas", "karin", "lukas",
        "maria", "nils", "olga", "paul", "quentin", "rosa", "sven", "tina", "ulrich", "vera", "walter", "yusuf",
        "zoe", "aisha", "bruno", "chen", "diego", "elena", "fatima", "giorgio", "hannah", "ivan", "julia", "kenji",
    ]
    static let lastNames = [
        "schmidt", "meyer", "rossi", "garcia", "novak", "kowalski", "johnson", "dubois", "jensen", "silva",
        "tanaka", "nguyen", "okafor", "andersson", "murphy", "fischer", "costa", "petrov", "horvat", "weber",
        "lindqvist", "moreau", "bianchi", "schneider", "van-dijk", "oconnor", "yamamoto", "kaya", "haddad",
    ]
    static let roles = ["info", "sales", "support", "billing", "office", "noreply-bounces", "hr", "team", "admin", "contact"]
    static let providers: [(domain: String, mx: String)] = [
        ("gmail.com", "gmail-smtp-in.l.google.com"), ("outlook.com", "outlook-com.olc.protection.outlook.com"),
        ("yahoo.com", "mta7.am0.yahoodns.net"), ("gmx.de", "mx00.emig.gmx.net"), ("web.de", "mx-ha03.web.de"),
        ("orange.fr", "smtp-in.orange.fr"), ("t-online.de", "mx00.t-online.de"), ("icloud.com", "mx01.mail.icloud.com"),
        ("mail.ru", "mxs.mail.ru"), ("libero.it", "smtp-in.libero.it"),
    ]
    static let words = [
        "alpine", "harbor", "cedar", "nordic", "pixel", "summit", "river", "atlas", "copper", "meadow", "vector",
        "granite", "orbit", "lumen", "kettle", "falcon", "willow", "quartz", "beacon", "tundra", "maple", "zephyr",
    ]
    static let tlds = ["com", "de", "net", "org", "fr", "it", "co.uk", "nl", "io", "se", "pl", "ch"]
    static let replies = [
        "421 4.7.0 Try again later, closing connection. (EHLO) ",
        "450 4.2.1 The user you are trying to contact is receiving mail too quickly. Please resend your message at a later time. ",
        "451 4.7.1 Greylisting in action, please come back later ",
        "452 4.2.2 Mailbox full ",
        "451 4.3.0 Temporary lookup failure ",
        "450 4.7.1 Client host rejected: cannot find your hostname ",
        "421 4.3.2 Service not available, closing transmission channel ",
        "451 4.4.1 Timeout waiting for data from client ",
    ]
    static let errors = [
        "connect to %: Connection timed out",
        "lost connection with % while receiving the initial server greeting",
        "connect to %: Connection refused",
        "Host or domain name not found. Name service error for name=% type=MX: Host not found, try again",
        "conversation with % timed out while sending end of data -- message may be sent more than once",
    ]

    /// The lists as bytes: the generator builds values from bytes, not Strings (a million
    /// records in a second or two).
    private static let firstNameBytes = firstNames.map { Array($0.utf8) }
    private static let lastNameBytes = lastNames.map { Array($0.utf8) }
    private static let roleBytes = roles.map { Array($0.utf8) }
    private static let providerBytes = providers.map { (Array($0.domain.utf8), Array($0.mx.utf8)) }
    private static let wordBytes = words.map { Array($0.utf8) }
    private static let tldBytes = tlds.map { Array($0.utf8) }
    private static let replyBytes = replies.map { Array($0.utf8) }
    private static let errorBytes = errors.map { Array($0.utf8) }
    static let maxReplyBytes = 96

    private var local: [UInt8] = []
    private var domain: [UInt8] = []
    private var mx: [UInt8] = []
    private var reply: [UInt8] = []

    /// Appends one record.
    mutating func encode(
        into out: inout [UInt8], profile: UInt64, attempts: UInt16, firstFailure: UInt64, lastAttempt: UInt64,
        nextTry: UInt64, replySeed: UInt64
    ) {
        var p = SplitMix64(seed: profile)
        local.removeAll(keepingCapacity: true)
        domain.removeAll(keepingCapacity: true)
        mx.removeAll(keepingCapacity: true)
        reply.removeAll(keepingCapacity: true)

        // Address and destination: a fifth of the recipients at a big provider.
        switch p.next() % 4 {
        case 0:
            local += Self.pick(Self.firstNameBytes, &p)
            local.append(UInt8(ascii: "."))
            local += Self.pick(Self.lastNameBytes, &p)
        case 1:
            local.append(Self.pick(Self.firstNameBytes, &p)[0])
            local += Self.pick(Self.lastNameBytes, &p)
        case 2:
            local += Self.pick(Self.firstNameBytes, &p)
            local.append(UInt8(ascii: "_"))
            local += Self.pick(Self.lastNameBytes, &p)
            Self.appendNumber(p.next() % 100, radix: 10, to: &local)
        default:
            local += Self.pick(Self.roleBytes, &p)
        }
        if p.next() % 5 == 0 {
            let provider = Self.providerBytes[Int(p.next() % UInt64(Self.providerBytes.count))]
            domain += provider.0
            mx += provider.1
        } else {
            domain += Self.pick(Self.wordBytes, &p)
            if p.next() % 2 == 0 {
                domain.append(UInt8(ascii: "-"))
                domain += Self.pick(Self.wordBytes, &p)
            }
            domain.append(UInt8(ascii: "."))
            domain += Self.pick(Self.tldBytes, &p)
            if p.next() % 2 == 0 {
                mx += Array("mx".utf8)
                Self.appendNumber(1 + p.next() % 3, radix: 10, to: &mx)
                mx.append(UInt8(ascii: "."))
            } else {
                mx += Array("mail.".utf8)
            }
            mx += domain
        }
        let notify: UInt8 = p.next() % 3 == 0 ? 0b110 : 0
        let hasORCPT = p.next() % 5 == 0

        // The last reply: an SMTP reply with a queue id, or a connection error.
        var r = SplitMix64(seed: replySeed)
        if r.next() % 3 == 0 {
            var host = mx
            host.append(UInt8(ascii: "["))
            Self.appendNumber(198 + r.next() % 6, radix: 10, to: &host)
            for _ in 0..<2 {
                host.append(UInt8(ascii: "."))
                Self.appendNumber(r.next() % 256, radix: 10, to: &host)
            }
            host.append(UInt8(ascii: "."))
            Self.appendNumber(1 + r.next() % 254, radix: 10, to: &host)
            host += Array("]:25".utf8)
            for byte in Self.pick(Self.errorBytes, &r) {
                if byte == UInt8(ascii: "%") { reply += host } else { reply.append(byte) }
            }
        } else {
            reply += Self.pick(Self.replyBytes, &r)
            Self.appendNumber(r.next() % 0x1_0000_0000, radix: 36, to: &reply)
            reply += Array(" - ".utf8)
            reply += mx
        }

        out.append(1)  // version
        out.append(0)  // status: deferred
        Self.append(UInt64(attempts), bytes: 2, to: &out)
        Self.append(firstFailure, bytes: 8, to: &out)
        Self.append(lastAttempt, bytes: 8, to: &out)
        Self.append(nextTry, bytes: 8, to: &out)
        out.append(notify)
        // Address, ORCPT ("rfc822;" + address, or empty), next hop, last reply.
        out.append(UInt8(local.count + 1 + domain.count))
        out += local
        out.append(UInt8(ascii: "@"))
        out += domain
        if hasORCPT {
            out.append(UInt8(7 + local.count + 1 + domain.count))
            out += Array("rfc822;".utf8)
            out += local
            out.append(UInt8(ascii: "@"))
            out += domain
        } else {
            out.append(0)
        }
        out.append(UInt8(mx.count))
        out += mx
        let replyCount = min(reply.count, Self.maxReplyBytes)
        out.append(UInt8(replyCount))
        out += reply[0..<replyCount]
    }

    private static func pick(_ list: [[UInt8]], _ random: inout SplitMix64) -> [UInt8] {
        list[Int(random.next() % UInt64(list.count))]
    }

    private static func appendNumber(_ value: UInt64, radix: UInt64, to out: inout [UInt8]) {
        var digits: [UInt8] = []
        var v = value
        repeat {
            let d = UInt8(v % radix)
            digits.append(d < 10 ? UInt8(ascii: "0") + d : UInt8(ascii: "a") + d - 10)
            v /= radix
        } while v > 0
        out += digits.reversed()
    }

    private static func append(_ value: UInt64, bytes: Int, to out: inout [UInt8]) {
        for shift in stride(from: (bytes - 1) * 8, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }
}

/// Big-endian key encodings shared by the engines that store raw byte keys.
enum KeyBytes {
    static let recipientSize = 12
    static let nextTrySize = 20

    @inline(__always)
    static func store(_ key: RecipientKey, at p: UnsafeMutableRawPointer) {
        p.storeBytes(of: key.envelope.bigEndian, toByteOffset: 0, as: UInt64.self)
        p.storeBytes(of: key.index.bigEndian, toByteOffset: 8, as: UInt32.self)
    }

    @inline(__always)
    static func store(_ key: NextTryKey, at p: UnsafeMutableRawPointer) {
        p.storeBytes(of: key.nextTry.bigEndian, toByteOffset: 0, as: UInt64.self)
        p.storeBytes(of: key.envelope.bigEndian, toByteOffset: 8, as: UInt64.self)
        p.storeBytes(of: key.index.bigEndian, toByteOffset: 16, as: UInt32.self)
    }

    @inline(__always)
    static func loadNextTryKey(_ p: UnsafeRawPointer) -> NextTryKey {
        NextTryKey(
            nextTry: UInt64(bigEndian: p.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
            envelope: UInt64(bigEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
            index: UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
        )
    }
}

/// Sum of the sizes of the regular files under `path` (recursively).
func directoryFileBytes(_ path: String) -> Int {
    var info = stat()
    guard lstat(path, &info) == 0 else { return 0 }
    if info.st_mode & S_IFMT == S_IFREG { return Int(info.st_size) }
    guard info.st_mode & S_IFMT == S_IFDIR else { return 0 }
    let names = (try? fileSystem.listDirectory(path)) ?? []
    return names.reduce(0) { $0 + directoryFileBytes(Path.join(path, $1)) }
}
