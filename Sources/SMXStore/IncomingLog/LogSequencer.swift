import Synchronization

/// Hands out the numbers that order the incoming log: record sequence numbers (commit
/// order across all log directories) and segment numbers (unique for the life of the
/// queue, so a recycled file never verifies a record of its earlier life).
final class LogSequencer: Sendable {
    private let nextSequence: Atomic<UInt64>
    private let nextSegment: Atomic<UInt64>

    init(firstSequence: UInt64, firstSegment: UInt64) {
        nextSequence = Atomic(firstSequence)
        nextSegment = Atomic(firstSegment)
    }

    func sequence() -> UInt64 {
        nextSequence.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    func segmentNumber() -> UInt64 {
        nextSegment.wrappingAdd(1, ordering: .relaxed).oldValue
    }
}
