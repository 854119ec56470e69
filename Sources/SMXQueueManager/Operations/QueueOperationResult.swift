import SMXStore

/// What one operation changed, after its commit is durable. The queue manager receives it
/// too (``QueueOperations/onChange``) to refresh its next-try cache and active queue.
public struct QueueOperationResult: Equatable, Sendable {
    public var operation: QueueOperationKind
    /// Recipients the commit changed (or removed), in id order.
    public var changed: [RecipientID] = []
    /// Recipients found whose status the operation does not apply to (holding a failed
    /// recipient, releasing one that is not held, requeueing one already due then), or
    /// that another writer changed or removed between the read and the commit.
    public var unchanged: [RecipientID] = []
    /// Named envelopes the deferred queue does not hold.
    public var envelopesNotFound: [EnvelopeID] = []
    /// Named recipients the deferred queue does not hold.
    public var recipientsNotFound: [RecipientID] = []
    /// Bodies released because their envelope left both queues.
    public var releasedBodies: [ContentID] = []
    /// The body of each envelope whose record the commit removed (its last recipient left
    /// the deferred queue), released or not: a queue manager drops that reference.
    public var envelopesRemoved: [RemovedEnvelope] = []
    /// The deferred-queue transaction that committed the change; nil when nothing was
    /// committed (nothing found).
    public var txid: UInt64?

    public init(operation: QueueOperationKind) {
        self.operation = operation
    }
}

/// An envelope whose record an operation's commit removed, with its body.
public struct RemovedEnvelope: Equatable, Sendable {
    public var envelopeID: EnvelopeID
    public var content: ContentReference

    public init(envelopeID: EnvelopeID, content: ContentReference) {
        self.envelopeID = envelopeID
        self.content = content
    }
}
