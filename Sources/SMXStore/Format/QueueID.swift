/// The identity of one queue, written into every file header so that a segment copied in
/// from another queue is recognised as foreign.
public struct QueueID: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 16, "a queue id is 16 bytes")
        self.bytes = bytes
    }

    /// A new random id from the system's cryptographic generator.
    public static func random() -> QueueID {
        var generator = SystemRandomNumberGenerator()
        return QueueID(bytes: (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    public var description: String {
        bytes.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
