import SMXQueueManager
import Synchronization

/// Helpers for tests of asynchronous scheduling parts.
enum SchedulingTestSupport {
    /// Waits, at most about five seconds, until `condition` holds; returns whether it did.
    /// For a test to know that a task has gone to sleep before it moves a clock; the code
    /// under test never polls.
    static func eventually(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<5_000 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(1))
        }
        return condition()
    }

    /// Lets other tasks run for a while (for "nothing happens" checks).
    static func settle() async {
        for _ in 0..<20 {
            await Task.yield()
            try? await Task.sleep(for: .milliseconds(1))
        }
    }
}

/// A value a task sets when it finishes, for tests that check it has not finished yet.
final class Outcome<Value: Sendable>: Sendable {
    private let value = Mutex<Value?>(nil)

    func set(_ newValue: Value) { value.withLock { $0 = newValue } }
    var current: Value? { value.withLock { $0 } }
}
