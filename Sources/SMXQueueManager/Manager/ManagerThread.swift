#if canImport(Glibc)
import Glibc
#endif
import SMXStore
import Synchronization

/// The queue manager's own thread, the actor's serial executor. A pass is milliseconds of
/// work (a few hundred results, then the writes of the pass), and on Swift's cooperative
/// pool it held one of the pool's threads for that long: on a 2-core machine the pool has
/// two, and the other one alone then resumed every SMTP session a group commit had just
/// acknowledged. The pool stays for the sessions; the manager's thread takes its turn on
/// the CPUs like the stores' sync threads. Blocking calls of a pass (a deferred-queue read
/// for an operation, the content store's lock) no longer run on the pool either
/// (ARCHITECTURE.md, "Group commit").
///
/// Jobs run one at a time, in the order they were enqueued. After ``shutdown()`` (the
/// manager's deinit) the thread runs what was enqueued before and ends; nothing is enqueued
/// after, since a job of an actor holds the actor.
package final class ManagerThread: SerialExecutor, @unchecked Sendable {
    private let condition = ConditionLock()
    // Guarded by `condition`.
    private var jobs: [UnownedJob] = []
    private var stopping = false
    private let ended = Atomic<Bool>(false)

    private let name: String
    private let niceIncrement: Int

    /// Starts the thread, named `name`, `niceIncrement` nice steps below the calling thread
    /// (``QueueManagerConfiguration/threadNiceIncrement``).
    init(name: String, niceIncrement: Int) {
        self.name = name
        self.niceIncrement = niceIncrement
        // The thread holds the executor until it ends.
        let retained = Unmanaged.passRetained(self)
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { raw in
            let executor = Unmanaged<ManagerThread>.fromOpaque(raw!).takeRetainedValue()
            SyncThread.nameCurrentThread(executor.name)
            executor.lowerPriority(by: executor.niceIncrement)
            executor.run()
            return nil
        }, retained.toOpaque())
        precondition(result == 0, "pthread_create failed: \(result)")
        pthread_detach(thread)
    }

    /// Whether the thread has ended (after ``shutdown()``).
    package var hasEnded: Bool { ended.load(ordering: .acquiring) }

    /// The thread's nice value once it has set it (nil before).
    package var niceValue: Int? {
        let value = nice.load(ordering: .acquiring)
        return value == Int.min ? nil : value
    }

    private let nice = Atomic<Int>(Int.min)

    /// Jobs the thread has run: the actor's work runs here, not on the pool.
    package var jobsRun: Int { ran.load(ordering: .relaxed) }

    private let ran = Atomic<Int>(0)

    /// On the new thread: its nice value, inherited from the thread that made it, raised by
    /// `increment` (at most to 19). `setpriority(PRIO_PROCESS, 0, …)` sets the calling
    /// thread's value on Linux. A refusal leaves the priority as it was: raising a nice
    /// value is never refused for lack of privilege.
    private func lowerPriority(by increment: Int) {
        let which = __priority_which_t(PRIO_PROCESS.rawValue)
        errno = 0
        let current = Int(getpriority(which, 0))
        if errno == 0, increment > 0 {
            _ = setpriority(which, 0, Int32(min(19, current + increment)))
        }
        errno = 0
        let now = Int(getpriority(which, 0))
        nice.store(errno == 0 ? now : current, ordering: .releasing)
    }

    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        if jobs.count == 1 { condition.signal() }
        condition.unlock()
    }

    package func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// Lets the thread end once the jobs enqueued so far have run.
    func shutdown() {
        condition.withLock {
            stopping = true
            condition.signal()
        }
    }

    private func run() {
        let executor = asUnownedSerialExecutor()
        var batch: [UnownedJob] = []
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            if jobs.isEmpty {
                condition.unlock()
                ended.store(true, ordering: .releasing)
                return
            }
            swap(&batch, &jobs)
            condition.unlock()
            for job in batch { job.runSynchronously(on: executor) }
            ran.add(batch.count, ordering: .relaxed)
            batch.removeAll(keepingCapacity: true)
        }
    }
}
