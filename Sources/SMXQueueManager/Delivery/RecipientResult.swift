import SMXStore

/// The outcome for one recipient of a job, by its id.
public struct RecipientResult: Equatable, Sendable {
    public var id: RecipientID
    public var outcome: RecipientOutcome

    public init(_ id: RecipientID, _ outcome: RecipientOutcome) {
        self.id = id
        self.outcome = outcome
    }
}
