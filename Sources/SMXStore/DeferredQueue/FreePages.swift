/// The free pages of a ``BTreeFile``'s newest committed state, sorted by what they wait
/// for before a write transaction may reuse them. A page freed by transaction F is still
/// reachable from snapshots before F, and from the checkpoint on disk when that checkpoint
/// wrote it. So a free page is:
///
/// - *reusable*: no reader holds a snapshot before F, and no checkpoint on disk reaches
///   it (F is at or before the newest checkpoint, or no checkpoint ever wrote the page);
/// - *waiting for readers*: only readers keep it (ordered by F);
/// - *waiting for a checkpoint*: a checkpoint wrote it (or one in progress is writing
///   it) and it was freed after the newest one. Once a checkpoint at or after the
///   transaction that freed it is on disk (``checkpointed(through:)``, or the list read
///   back from a checkpoint's freelist chain, ``init(checkpointList:)``), only readers
///   keep it.
///
/// A page never goes back: the oldest reader only moves forward (a new reader takes the
/// newest state, or in another process the newest checkpoint, which is not older than the
/// transactions that freed the pages it could see; ``ReaderTable/pin(_:)`` covers the
/// race). Each transaction therefore moves pages forward from the front of the readers'
/// queue instead of classifying the whole list again.
///
/// Owned by the file and changed only with its writer lock held; a transaction takes
/// pages from the end of `reusable` without changing it, and
/// ``commit(taken:returned:freed:txid:)`` applies what it did.
struct FreePages {
    /// Reusable pages; transactions take them from the end.
    private(set) var reusable: [UInt64] = []
    private var waitingForReaders = FreePageQueue()
    private var waitingForCheckpoint = FreePageQueue()

    /// No free pages.
    init() {}

    /// The free list of the newest checkpoint (read at open, or just written): every page
    /// on it was freed at or before that checkpoint.
    init(checkpointList: [FreePage]) {
        for entry in checkpointList.sorted(by: { ($0.freedAt, $0.page) < ($1.freedAt, $1.page) }) {
            waitingForReaders.append(entry)
        }
    }

    var count: Int { reusable.count + waitingForReaders.count + waitingForCheckpoint.count }

    /// Every free page (``FreePage/freedAt`` 0 for reusable ones), in no particular order.
    var all: [FreePage] {
        var list: [FreePage] = []
        list.reserveCapacity(count)
        list += reusable.map { FreePage(page: $0, freedAt: 0) }
        list += waitingForReaders.elements
        list += waitingForCheckpoint.elements
        return list
    }

    /// A checkpoint of transaction `txid` is on disk: pages freed at or before it wait
    /// only for readers now (merged into their queue in `freedAt` order).
    mutating func checkpointed(through txid: UInt64) {
        guard let first = waitingForCheckpoint.first, first.freedAt <= txid else { return }
        var promoted: [FreePage] = []
        while let next = waitingForCheckpoint.first, next.freedAt <= txid {
            promoted.append(waitingForCheckpoint.removeFirst())
        }
        guard let newest = waitingForReaders.last, newest.freedAt > promoted[0].freedAt else {
            for entry in promoted { waitingForReaders.append(entry) }
            return
        }
        var merged = FreePageQueue()
        var waiting = waitingForReaders.elements.makeIterator()
        var a = waiting.next()
        var b = 0
        while a != nil || b < promoted.count {
            if let x = a, b == promoted.count || x.freedAt <= promoted[b].freedAt {
                merged.append(x)
                a = waiting.next()
            } else {
                merged.append(promoted[b])
                b += 1
            }
        }
        waitingForReaders = merged
    }

    /// Moves pages forward before a transaction: `oldestReader` is the oldest snapshot of
    /// any reader (nil: none). (Pages waiting for a checkpoint wait for
    /// ``checkpointed(through:)``.)
    mutating func release(oldestReader: UInt64?) {
        while let first = waitingForReaders.first, oldestReader.map({ first.freedAt <= $0 }) ?? true {
            reusable.append(waitingForReaders.removeFirst().page)
        }
    }

    /// After a commit: the transaction took the last `taken` reusable pages, gave back
    /// `returned` (pages it allocated and freed again: reusable at once), and freed
    /// committed pages `freed` at `txid`, each marked whether a checkpoint wrote it.
    mutating func commit(taken: Int, returned: [UInt64], freed: [(page: UInt64, written: Bool)], txid: UInt64) {
        reusable.removeLast(taken)
        reusable += returned
        for entry in freed {
            if entry.written {
                waitingForCheckpoint.append(FreePage(page: entry.page, freedAt: txid))
            } else {
                waitingForReaders.append(FreePage(page: entry.page, freedAt: txid))
            }
        }
    }
}

/// A FIFO of free pages in `freedAt` order: an array and the index of its first element.
struct FreePageQueue {
    private var storage: [FreePage] = []
    private var head = 0

    var isEmpty: Bool { head == storage.count }
    var count: Int { storage.count - head }
    var first: FreePage? { isEmpty ? nil : storage[head] }
    var last: FreePage? { isEmpty ? nil : storage[storage.count - 1] }
    var elements: ArraySlice<FreePage> { storage[head...] }

    mutating func append(_ entry: FreePage) {
        assert(storage.last.map { $0.freedAt <= entry.freedAt } ?? true, "free pages out of order")
        storage.append(entry)
    }

    mutating func removeFirst() -> FreePage {
        let entry = storage[head]
        head += 1
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 4096 && head * 2 >= storage.count {
            storage.removeFirst(head)
            head = 0
        }
        return entry
    }
}
