#if canImport(Glibc)
import Glibc
#endif
import CLinuxShims

/// A dedicated thread (not Swift's cooperative pool, which must never block on a syscall)
/// for work that syncs: a ``LogDirectory``'s group commit loop, a segment prepared ahead, a
/// B+tree checkpoint's writes.
package final class SyncThread: @unchecked Sendable {
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
            SyncThread.nameCurrentThread(me.name)
            me.body()
            return nil
        }, box.toOpaque())
        precondition(result == 0, "pthread_create failed: \(result)")
    }

    /// Names the calling thread (`name` shows in debuggers and `top -H`; Linux keeps 15
    /// characters). For threads made outside this module, e.g. the queue manager's.
    package static func nameCurrentThread(_ name: String) {
        _ = smx_set_current_thread_name(String(name.utf8.prefix(15))!)
    }

    func join() {
        pthread_join(thread, nil)
    }
}
