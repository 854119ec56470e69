import SMXStore

/// Why an operation changed nothing. Either the deferred queue could not be read to find
/// the recipients, or its commit failed (then nothing of the operation was written, and a
/// failed sync poisons the file until it is reopened: rule 6).
public enum QueueOperationError: Error, Sendable {
    case reading(StoreError)
    case commit(StoreError)

    static func wrapping(_ error: any Error, _ make: (StoreError) -> QueueOperationError) -> QueueOperationError {
        if let error = error as? StoreError { return make(error) }
        return make(StoreError(.io, "queue operation: \(error)", cause: error))
    }
}
