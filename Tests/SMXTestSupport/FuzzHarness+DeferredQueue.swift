import SMXStore

/// The deferred queue file's fuzz targets: single pages, meta pages, and whole files that
/// are opened, verified and read. As in ``FuzzHarness``, every contract is a
/// `precondition`; as in the content store's targets, each input is also tried with its
/// checksums recomputed so that mutations reach the checks behind them.
extension FuzzHarness {
    public static func btreePage(_ input: UnsafeRawBufferPointer) {
        btreePage(Array(input.prefix(maxInput)))
    }

    public static func btreeFile(_ input: UnsafeRawBufferPointer) {
        btreeFile(Array(input.prefix(maxInput)))
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

    static func openAndRead(_ data: [UInt8]) {
        let fs = SimulatedFileSystem()
        let configuration = BTreeFile.Configuration(queueID: FuzzSeeds.queueID, path: "/q/defedb/queue.db")
        do {
            try fs.createDirectory("/q/defedb", intermediate: true)
            let handle = try fs.openFile(configuration.path, mode: .createNew)
            try handle.write(data, at: 0)
            try handle.close()
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
