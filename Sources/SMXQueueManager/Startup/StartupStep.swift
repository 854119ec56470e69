/// The steps of ``QueueStartup/run(now:)``, in the order they run.
public enum StartupStep: String, CaseIterable, Sendable, CustomStringConvertible {
    /// Read the deferred queue's sizes for the report (before the first step and after
    /// the last; not timed).
    case inspectDeferredQueue = "inspect-deferred-queue"
    /// Close open incoming transactions whose body is missing or does not verify: they
    /// were never acknowledged (rule 1).
    case discardWithoutBody = "discard-without-body"
    /// Move the other open incoming transactions into the deferred queue (rule 5), the
    /// deferred-queue commit durable before the incoming log's close (rule 3).
    case moveOpenTransactions = "move-open-transactions"
    /// Check every deferred envelope's body; drop the envelopes whose body is gone.
    case checkDeferredBodies = "check-deferred-bodies"
    /// Count the references to every body and release the bodies nothing refers to.
    case recountReferences = "recount-references"
    /// Fill the next-try cache from the deferred queue's next-try index.
    case rebuildNextTryCache = "rebuild-next-try-cache"

    public var description: String { rawValue }
}

/// A startup step failed because a store did: the queue is not ready. Nothing is lost:
/// every step is safe to run again, so the fix is to reopen the stores (which runs their
/// recovery, rule 6) and start again.
public struct StartupError: Error, Sendable, CustomStringConvertible {
    public var step: StartupStep
    public var cause: any Error

    public init(step: StartupStep, cause: any Error) {
        self.step = step
        self.cause = cause
    }

    public var description: String { "startup step \(step) failed: \(cause)" }
}
