import SMXStore

/// Seeds for the deferred queue file's fuzz targets: real files written by `BTreeFile` on a
/// simulated file system (small enough for the fuzzers' 64 KiB inputs), and their pages.
extension FuzzSeeds {
    /// Small real B+tree files: empty, a few trees with an overflow value, and one after
    /// deletes (with a freelist).
    static func btreeFiles() -> [(name: String, bytes: [UInt8])] {
        func make(_ name: String, _ body: (BTreeFile) throws -> Void) -> (String, [UInt8]) {
            let fs = SimulatedFileSystem()
            var configuration = BTreeFile.Configuration(queueID: queueID, path: "/q/defedb/queue.db")
            configuration.growthPages = 1
            do {
                let file = try BTreeFile.open(fileSystem: fs, configuration: configuration)
                try body(file)
                file.close()
            } catch {
                preconditionFailure("seed file \(name): \(error)")
            }
            return (name, fs.currentContents(configuration.path) ?? [])
        }
        return [
            make("empty") { _ in },
            make("three-trees") { file in
                try file.write { txn in
                    for i in 0..<60 {
                        try txn.put(Array("env-\(i)".utf8), Array("sender \(i)@example.org".utf8), in: "transactions")
                        try txn.put([0, 0, 0, UInt8(i)], [], in: "nexttry")
                    }
                    try txn.put(Array("big".utf8), Array(repeating: 0x61, count: 5000), in: "hold")
                }
            },
            make("after-deletes") { file in
                try file.write { txn in
                    for i in 0..<400 { try txn.put(Array("key \(i)".utf8), Array("value \(i)".utf8), in: "t") }
                }
                try file.write { txn in
                    for i in 0..<300 { try txn.delete(Array("key \(i)".utf8), in: "t") }
                }
            },
        ]
    }

    /// The file the journal target replays onto: new and empty (checkpoint 1, transaction 0).
    public static let btreeJournalBase: [UInt8] = {
        let fs = SimulatedFileSystem()
        var configuration = BTreeFile.Configuration(queueID: queueID, path: "/q/defedb/queue.db")
        configuration.growthPages = 1
        do {
            let file = try BTreeFile.open(fileSystem: fs, configuration: configuration)
            file.close()
        } catch {
            preconditionFailure("journal base file: \(error)")
        }
        return fs.currentContents(configuration.path) ?? []
    }()

    /// Journals of real commits onto ``btreeJournalBase``, trailing zeros cut.
    static func btreeJournal() -> [Seed] {
        func make(_ name: String, _ body: (BTreeFile) throws -> Void) -> Seed {
            let fs = SimulatedFileSystem()
            var configuration = BTreeFile.Configuration(queueID: queueID, path: "/q/defedb/queue.db")
            configuration.growthPages = 1
            configuration.journalGrowthBytes = 4096
            configuration.checkpointJournalBytes = 1 << 30
            configuration.checkpointPages = 1 << 30
            do {
                let file = try BTreeFile.open(fileSystem: fs, configuration: configuration)
                try body(file)
            } catch {
                preconditionFailure("seed journal \(name): \(error)")
            }
            var bytes = fs.currentContents(BTreeJournal.path(for: configuration.path)) ?? []
            while bytes.last == 0 { bytes.removeLast() }
            return Seed(name: "journal-\(name)", bytes: bytes)
        }
        return [
            make("empty") { _ in },
            make("commits") { file in
                try file.write { txn in
                    for i in 0..<40 {
                        try txn.put(Array("env-\(i)".utf8), Array("sender \(i)@example.org".utf8), in: "transactions")
                        try txn.put([0, 0, 0, UInt8(i)], [], in: "nexttry")
                    }
                }
                try file.write { txn in
                    for i in 0..<20 { try txn.delete([0, 0, 0, UInt8(i)], in: "nexttry") }
                    try txn.put(Array("big".utf8), Array(repeating: 0x61, count: 5000), in: "hold")
                }
                try file.write { txn in try txn.put(Array("env-3".utf8), Array("replaced".utf8), in: "transactions") }
            },
        ]
    }

    static func btreeFile() -> [Seed] {
        btreeFiles().map { Seed(name: "file-\($0.name)", bytes: $0.bytes) }
    }

    /// Every page of the seed files, prefixed with its page number.
    static func btreePage() -> [Seed] {
        var seeds: [Seed] = []
        for (name, bytes) in btreeFiles() {
            var number = 0
            while (number + 1) * 4096 <= bytes.count {
                let page = Array(bytes[(number * 4096)..<((number + 1) * 4096)])
                if page.contains(where: { $0 != 0 }) {
                    var prefix = [UInt8](repeating: 0, count: 8)
                    prefix.withUnsafeMutableBytes { LittleEndian.store(UInt64(number), $0, 0) }
                    seeds.append(Seed(name: "page-\(name)-\(number)", bytes: prefix + page))
                }
                number += 1
            }
        }
        return seeds
    }
}
