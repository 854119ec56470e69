/// Copying the live content of a B+tree file into a fresh, compact file (for
/// `smx-fsck --compact`): every tree is read in key order from one snapshot and inserted in
/// order into the new file, which fills its pages (the quick balance) and leaves no free
/// pages but the new freelist's. The source stays usable; the caller swaps the files (for
/// example with a rename while no writer runs).
public struct BTreeCompaction: Sendable, Equatable {
    public var trees = 0
    public var keys = 0
    public var pagesBefore = 0
    public var pagesAfter = 0
}

extension BTreeFile {
    /// Writes the newest committed state into a new file at `path` (which must not exist)
    /// and verifies it.
    public func copyCompacted(to path: String, fileSystem: any FileSystem) throws -> BTreeCompaction {
        guard try fileSystem.itemType(path) == nil else {
            throw StoreError(.alreadyExists, "compaction target exists", path: path)
        }
        var target = configuration
        target.path = path
        target.pageSize = pageSize
        target.readOnly = false
        let snapshot = try self.snapshot()
        defer { snapshot.close() }
        let copy = try BTreeFile.open(fileSystem: fileSystem, configuration: target, logger: logger)
        defer { copy.close() }
        var report = BTreeCompaction(pagesBefore: Int(snapshot.meta.pageCount))
        for name in try snapshot.treeNames() {
            report.trees += 1
            let cursor = try snapshot.cursor(name)
            var more = try cursor.first()
            while more {
                try copy.write { txn in
                    var inBatch = 0
                    while more && inBatch < 20_000 {
                        guard let key = cursor.key, let value = try cursor.value() else { break }
                        try txn.put(key, value, in: name)
                        inBatch += 1
                        more = try cursor.next()
                    }
                    report.keys += inBatch
                }
            }
        }
        let verification = copy.verify()
        guard verification.isClean else {
            throw StoreError(.corrupted, "compacted copy does not verify: \(verification.problems.prefix(3))", path: path)
        }
        report.pagesAfter = copy.pageStatistics.pages
        return report
    }
}
