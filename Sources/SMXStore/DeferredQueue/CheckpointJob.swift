import Synchronization

/// The writes of a checkpoint that commits do not wait for (``BTreeFile/Configuration/checkpointScheduling``):
/// the pages committed up to its transaction, synced; its meta page, synced; then the
/// journal its commits went on in (`<file>.journal.next`) renamed over the journal and the
/// directory synced. The writer started it (took the pending pages, created the next
/// journal) and finishes it (``BTreeFile``: waits for it before the next checkpoint, then
/// lets the pages freed up to its transaction be reused).
///
/// Nothing here touches the file's in-memory state: the pages it writes are immutable
/// (a page it holds is reachable from its state, so a page number of it can be handed
/// out again only after a later checkpoint), and the writer grew the file for them first.
final class CheckpointJob: @unchecked Sendable {
    let meta: MetaPage
    private let pages: [Page]
    private let store: PageStore
    private let fileSystem: any FileSystem
    private let file: String
    /// The error it ended with; nil while it runs or when it succeeded.
    private let outcome = Mutex<(done: Bool, error: StoreError?)>((false, nil))
    private var thread: SyncThread?
    /// `.deferred` scheduling: commits still to come before the writer runs it itself.
    var commitsBeforeRunning: Int

    init(meta: MetaPage, pages: [Page], store: PageStore, fileSystem: any FileSystem, file: String, commitsBeforeRunning: Int) {
        self.meta = meta
        self.pages = pages
        self.store = store
        self.fileSystem = fileSystem
        self.file = file
        self.commitsBeforeRunning = commitsBeforeRunning
    }

    var pageCount: Int { pages.count }

    /// Runs the writes on a thread of their own; `onFailure` is called there if one fails.
    func start(onFailure: @escaping @Sendable (StoreError) -> Void) {
        let thread = SyncThread(name: "smx-defedb-ckpt") { [self] in
            if let error = run() { onFailure(error) }
        }
        self.thread = thread
        thread.start()
    }

    /// Whether the writes are over (the writer can finish it without waiting).
    var isDone: Bool { outcome.withLock { $0.done } }

    /// Waits for the writes (runs them now if they were not started) and returns their
    /// error, if any.
    func wait() -> StoreError? {
        if let thread {
            thread.join()
            self.thread = nil
        } else if !isDone {
            _ = run()
        }
        return outcome.withLock { $0.error }
    }

    private func run() -> StoreError? {
        var failure: StoreError?
        do {
            try store.writeAndSync(pages)
            try store.writeRaw(meta.encode(), page: UInt64(meta.slot))
            try store.sync()
            try BTreeJournal.promoteNext(fileSystem: fileSystem, file: file)
        } catch {
            failure = error as? StoreError ?? StoreError(.io, "\(error)", path: file)
        }
        outcome.withLock { $0 = (true, failure) }
        return failure
    }
}
