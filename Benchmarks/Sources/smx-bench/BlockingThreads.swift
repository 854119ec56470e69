#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Runs blocking work (syscalls that wait for the disk) on dedicated threads, never on
/// Swift's cooperative pool, which has one thread per core and stalls every task when
/// one of them blocks in `fsync`.
enum BlockingThreads {
    /// Runs `body(index)` for `index` in `0..<count`, each on a new detached thread, and
    /// returns the results in index order once every thread has finished. The awaiting task
    /// is suspended meanwhile (its thread is not blocked). The first error thrown by a body
    /// is rethrown, after all threads are done.
    static func run<T: Sendable>(
        count: Int,
        _ body: @escaping @Sendable (Int) throws -> T
    ) async throws -> [T] {
        precondition(count > 0, "no threads to run")
        let results: [Result<T, any Error>] = await withCheckedContinuation { continuation in
            let gang = Gang(count: count, body: body, continuation: continuation)
            for index in 0..<count {
                startThread { gang.runOne(index) }
            }
        }
        return try results.map { try $0.get() }
    }

    /// Starts a detached thread that runs `body`.
    private static func startThread(_ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(ThreadBody(body))
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { raw in
            Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, box.toOpaque())
        precondition(result == 0, "pthread_create failed: \(result)")
        pthread_detach(thread)
    }

    private final class ThreadBody: Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    /// The threads of one ``run(count:_:)``: the last one to finish resumes the caller.
    private final class Gang<T: Sendable>: Sendable {
        private let body: @Sendable (Int) throws -> T
        private let state: Mutex<(results: [Result<T, any Error>?], remaining: Int)>
        private let continuation: CheckedContinuation<[Result<T, any Error>], Never>

        init(count: Int, body: @escaping @Sendable (Int) throws -> T, continuation: CheckedContinuation<[Result<T, any Error>], Never>) {
            self.body = body
            self.continuation = continuation
            state = Mutex((Array(repeating: nil, count: count), count))
        }

        func runOne(_ index: Int) {
            let result = Result { try body(index) }
            let finished: [Result<T, any Error>]? = state.withLock { state in
                state.results[index] = result
                state.remaining -= 1
                return state.remaining == 0 ? state.results.map { $0! } : nil
            }
            if let finished { continuation.resume(returning: finished) }
        }
    }
}
