import SMXStore

/// The deferred queue file's fuzz targets: single pages, meta pages, whole files that are
/// opened, verified and read, and journals replayed onto a file. As in ``FuzzHarness``, every contract is a
/// `precondition`; as in the content store's targets, each input is also tried with its
/// checksums recomputed so that mutations reach the checks behind them.
extension FuzzHarness {
    public static func btreePage(_ input: UnsafeRawBufferPointer) {
        btreePage(Array(input.prefix(maxInput)))
    }

    public static func btreeFile(_ input: UnsafeRawBufferPointer) {
        btreeFile(Array(input.prefix(maxInput)))
    }

    public static func btreeJournal(_ input: UnsafeRawBufferPointer) {
        btreeJournal(Array(input.prefix(maxInput)))
    }

    static let btreePageSize = 4096

    /// The first 8 bytes are the page number (the checksum seed), the rest the page (cut or
    /// zero-padded to 4096 bytes). The same bytes are also read as a meta page in both slots.
    public static func btreePage(_ data: [UInt8]) {
        let number: UInt64 = data.count >= 8 ? data.withUnsafeBytes { LittleEndian.u64($0, 0) } : 0
        var bytes = Array(data.dropFirst(8).prefix(btreePageSize))
        bytes += [UInt8](repeating: 0, count: btreePageSize - bytes.count)
        checkPage(Page.make(number: number, bytes: bytes))
        let fixed = Page.make(number: number, bytes: bytes)
        fixed.seal()
        checkPage(fixed)
        for slot in 0..<2 {
            if let meta = MetaPage.decode(bytes, slot: slot) {
                precondition(MetaPage.decode(meta.encode(), slot: slot) == meta, "meta page does not round-trip")
            }
            var withSum = bytes
            let sum = Checksum.xxh3(withSum[8..<MetaPage.coveredBytes], seed: UInt64(slot))
            withSum.withUnsafeMutableBytes { LittleEndian.store(sum, $0, 0) }
            if let meta = MetaPage.decode(withSum, slot: slot) {
                precondition(meta.slot == slot && meta.pageCount >= 2, "meta page decoded out of its slot")
                precondition(MetaPage.decode(meta.encode(), slot: slot) == meta, "meta page does not round-trip")
            }
        }
    }

    /// A page that passes its structural check can be read everywhere without trapping.
    static func checkPage(_ page: Page) {
        guard page.structuralProblem() == nil else { return }
        guard page.kind == .leaf || page.kind == .branch else { return }
        let probe: [UInt8] = [0x41, 0x42]
        _ = probe.withUnsafeBytes { page.search($0) }
        for i in 0..<page.count {
            _ = page.key(i)
        }
    }

    /// The input is a whole B+tree file (4 KiB pages). It is opened on a simulated file
    /// system as given and with every page's and meta page's checksum recomputed; when it
    /// opens, verify() runs, and when that is clean every tree is read through a cursor, both
    /// ways, and every key found again with get. Nothing may trap or loop.
    public static func btreeFile(_ data: [UInt8]) {
        openAndRead(data)
        openAndRead(fixingBTreeChecksums(data))
    }

    static let btreeConfiguration = BTreeFile.Configuration(queueID: FuzzSeeds.queueID, path: "/q/defedb/queue.db")

    /// Opens `file` with `journal` beside it (an empty journal continuing the newest meta
    /// page that decodes, when nil) and reads everything.
    static func openAndRead(_ data: [UInt8], journal: [UInt8]? = nil) {
        let fs = SimulatedFileSystem()
        let configuration = btreeConfiguration
        do {
            try fs.createDirectory("/q/defedb", intermediate: true)
            for (path, bytes) in [(configuration.path, data), (BTreeJournal.path(for: configuration.path), journal ?? emptyJournal(for: data))] {
                let handle = try fs.openFile(path, mode: .createNew)
                try handle.write(bytes, at: 0)
                try handle.close()
            }
        } catch {
            preconditionFailure("simulated file system: \(error)")
        }
        guard let file = try? BTreeFile.open(fileSystem: fs, configuration: configuration) else { return }
        defer { file.close() }
        let verification = file.verify()
        guard verification.isClean, let snapshot = try? file.snapshot() else { return }
        defer { snapshot.close() }
        guard let names = try? snapshot.treeNames() else {
            preconditionFailure("a verified file's catalog does not read")
        }
        for name in names {
            do {
                let cursor = try snapshot.cursor(name)
                var keys: [[UInt8]] = []
                var more = try cursor.first()
                while more, let key = cursor.key {
                    keys.append(key)
                    precondition(keys.count <= verification.keysChecked, "cursor yields more keys than the tree holds")
                    more = try cursor.next()
                }
                let counted = try snapshot.count(name)
                precondition(keys.count == counted, "cursor and catalog disagree on \(name)")
                var backwards = 0
                more = try cursor.last()
                while more { backwards += 1; more = try cursor.prev() }
                precondition(backwards == keys.count, "walking back finds another number of keys")
                for key in keys {
                    let found = try snapshot.get(key, in: name)
                    precondition(found != nil, "a listed key is not found")
                }
            } catch {
                preconditionFailure("a verified file fails to read: \(error)")
            }
        }
    }

    /// A journal with no commits for the meta page of `file` with the highest checkpoint
    /// number that decodes (for generation 1 at transaction 0 when none does).
    static func emptyJournal(for file: [UInt8]) -> [UInt8] {
        var newest: MetaPage?
        for slot in 0..<2 where file.count >= slot * btreePageSize + MetaPage.coveredBytes {
            let bytes = Array(file[(slot * btreePageSize)..<min(file.count, (slot + 1) * btreePageSize)])
            if let meta = MetaPage.decode(bytes, slot: slot), meta.checkpoint >= newest?.checkpoint ?? 0 { newest = meta }
        }
        return FileHeader(
            kind: .deferredQueueJournal, queueID: FuzzSeeds.queueID, segmentNumber: newest?.checkpoint ?? 1,
            baseSequence: newest?.txid ?? 0, createdMicros: 1_700_000_000_000_000
        ).encode()
    }

    /// The input is a journal for ``FuzzSeeds/btreeJournalBase`` (a new, empty file at
    /// checkpoint 1): opened as given and with the header's and every frame's checksum
    /// recomputed. When the open succeeds, the replayed state must verify and read.
    public static func btreeJournal(_ data: [UInt8]) {
        let base = FuzzSeeds.btreeJournalBase
        openAndRead(base, journal: data)
        openAndRead(base, journal: fixingJournalChecksums(data))
    }

    /// Recomputes the file header's checksum and, following the frames' length fields,
    /// every frame checksum (seeded with the header's generation).
    static func fixingJournalChecksums(_ data: [UInt8]) -> [UInt8] {
        let headerSize = FormatConstants.fileHeaderSize
        guard data.count >= headerSize else { return data }
        var bytes = data
        let sum = Checksum.xxh3(bytes[0..<56])
        bytes.withUnsafeMutableBytes { LittleEndian.store(sum, $0, 56) }
        let generation = bytes.withUnsafeBytes { LittleEndian.u64($0, 32) }
        var offset = headerSize
        while offset + FormatConstants.recordHeaderSize <= bytes.count {
            let length = Int(bytes.withUnsafeBytes { LittleEndian.u32($0, offset + 8) })
            let end = offset + FormatConstants.recordHeaderSize + length
            guard length > 0, end <= bytes.count else { break }
            let frameSum = Checksum.xxh3(bytes[(offset + 8)..<end], seed: generation)
            bytes.withUnsafeMutableBytes { LittleEndian.store(frameSum, $0, offset) }
            offset = FormatConstants.aligned(end)
        }
        return bytes
    }

    /// Recomputes both meta checksums and, for every 4 KiB page from 2 on, the page checksum.
    static func fixingBTreeChecksums(_ data: [UInt8]) -> [UInt8] {
        var bytes = data
        let size = btreePageSize
        for slot in 0..<2 where bytes.count >= slot * size + MetaPage.coveredBytes {
            let start = slot * size
            let sum = Checksum.xxh3(bytes[(start + 8)..<(start + MetaPage.coveredBytes)], seed: UInt64(slot))
            bytes.withUnsafeMutableBytes { LittleEndian.store(sum, $0, start) }
        }
        var number = 2
        while (number + 1) * size <= bytes.count {
            let page = Page.make(number: UInt64(number), bytes: Array(bytes[(number * size)..<((number + 1) * size)]))
            page.seal()
            bytes.replaceSubrange((number * size)..<((number + 1) * size), with: page.bytes)
            number += 1
        }
        return bytes
    }
}
