/// A few dedicated threads that run blocking file work for async callers, so that no
/// syscall ever blocks a thread of Swift's cooperative pool (ARCHITECTURE.md, "Group
/// commit"). Work runs in submission order per thread; the caller's task suspends until
/// its closure has run.
final class BlockingIOPool: @unchecked Sendable {
    private typealias Job = () -> Void

    private let condition = ConditionLock()
    private var jobs: [Job] = []
    private var head = 0
    private var stopping = false
    private var threads: [SyncThread] = []

    init(threads count: Int, name: String) {
        for i in 0..<max(1, count) {
            let thread = SyncThread(name: "\(name)-\(i)") { [unowned self] in runLoop() }
            threads.append(thread)
        }
        for thread in threads { thread.start() }
    }

    /// Runs `work` on one of the pool's threads and returns its result.
    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withUnsafeThrowingContinuation { continuation in
            condition.withLock {
                if stopping {
                    continuation.resume(throwing: StoreError(.closed, "blocking I/O pool is stopped"))
                    return
                }
                jobs.append {
                    do { continuation.resume(returning: try work()) } catch { continuation.resume(throwing: error) }
                }
                condition.signal()
            }
        }
    }

    /// Runs what is queued, then stops and joins the threads.
    func shutdown() {
        condition.withLock {
            stopping = true
            condition.broadcast()
        }
        for thread in threads { thread.join() }
        threads = []
    }

    private func runLoop() {
        while true {
            condition.lock()
            while head == jobs.count && !stopping { condition.wait() }
            if head == jobs.count {
                condition.unlock()
                return
            }
            let job = jobs[head]
            head += 1
            if head == jobs.count {
                jobs.removeAll(keepingCapacity: true)
                head = 0
            }
            condition.unlock()
            job()
        }
    }
}
