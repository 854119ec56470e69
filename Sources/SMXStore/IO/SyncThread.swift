#if canImport(Glibc)
import Glibc
#endif
import CLinuxShims

/// A dedicated thread (not Swift's cooperative pool, which must never block on a syscall)
/// for work that syncs: a ``LogDirectory``'s group commit loop, a segment prepared ahead, a
/// B+tree checkpoint's writes.
final class SyncThread: @unchecked Sendable {
    private var thread = pthread_t()
    private let name: String
    private let body: () -> Void

    /// `name` shows in debuggers and `top -H` (Linux keeps 15 characters).
    init(name: String, body: @escaping () -> Void) {
        self.name = name
        self.body = body
    }

    func start() {
        let box = Unmanaged.passRetained(self)
        let result = pthread_create(&thread, nil, { raw in
            let me = Unmanaged<SyncThread>.fromOpaque(raw!).takeRetainedValue()
            _ = smx_set_current_thread_name(String(me.name.utf8.prefix(15))!)
            me.body()
            return nil
        }, box.toOpaque())
        precondition(result == 0, "pthread_create failed: \(result)")
    }

    func join() {
        pthread_join(thread, nil)
    }
}
