#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A serial executor that runs every job on one dedicated thread, never on Swift's
/// cooperative pool: an actor that makes blocking calls (a C library's commit waits in
/// `fsync`) uses one as its executor, so its methods may block without stalling other
/// tasks. ``stop()`` ends the thread once the jobs already enqueued have run.
final class DedicatedThreadExecutor: SerialExecutor, @unchecked Sendable {
    private let queue = Mutex<(jobs: [UnownedJob], head: Int)>(([], 0))
    /// Posted once per enqueued job and once by `stop()`.
    private let wakeUp: UnsafeMutablePointer<sem_t>

    init() {
        wakeUp = .allocate(capacity: 1)
        sem_init(wakeUp, 0, 0)
        let box = Unmanaged.passRetained(self)
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { raw in
            let executor = Unmanaged<DedicatedThreadExecutor>.fromOpaque(raw!).takeRetainedValue()
            executor.loop()
            return nil
        }, box.toOpaque())
        precondition(result == 0, "pthread_create failed: \(result)")
        pthread_detach(thread)
    }

    deinit {
        sem_destroy(wakeUp)
        wakeUp.deallocate()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.withLock { $0.jobs.append(job) }
        sem_post(wakeUp)
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// Ends the thread after the jobs enqueued so far.
    func stop() {
        sem_post(wakeUp)
    }

    private func loop() {
        while true {
            while sem_wait(wakeUp) != 0 {}
            let next: UnownedJob? = queue.withLock { queue in
                guard queue.head < queue.jobs.count else { return nil }
                let job = queue.jobs[queue.head]
                queue.head += 1
                if queue.head == queue.jobs.count {
                    queue.jobs.removeAll(keepingCapacity: true)
                    queue.head = 0
                }
                return job
            }
            // Every post but stop's comes with a job, so an empty queue means stop.
            guard let job = next else { return }
            job.runSynchronously(on: asUnownedSerialExecutor())
        }
    }
}
