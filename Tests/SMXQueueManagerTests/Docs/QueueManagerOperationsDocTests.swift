import Testing
import SMXQueueManager
import SMXStore

/// Keeps the "Notification pass" and "Operations and statistics" sections of
/// docs/queue-manager.md complete: every field of the pass's report, of an operation's
/// result and of the statistics, and every verb, is named there.
@Suite struct QueueManagerOperationsDocTests {
    static func section(_ heading: String, until next: String?) -> Substring {
        let document = QueueManagerDocTests.document
        guard let start = document.range(of: heading) else { return "" }
        let end = next.flatMap { document.range(of: $0, range: start.upperBound..<document.endIndex)?.lowerBound } ?? document.endIndex
        return document[start.lowerBound..<end]
    }

    static func fields(of value: Any) -> [String] {
        Mirror(reflecting: value).children.compactMap(\.label)
    }

    @Test func theNotificationPassSectionNamesEveryReportField() {
        let section = Self.section("## Notification pass", until: "## Operations and statistics")
        let fields = Self.fields(of: NotificationPassReport())
        #expect(fields.count >= 10)
        for field in fields {
            #expect(section.contains("`\(field)`"), "docs/queue-manager.md does not describe NotificationPassReport.\(field)")
        }
        #expect(section.contains("`\(NotificationPass.postmasterNoticeEnvelopeID)`"))
    }

    @Test func theOperationsSectionNamesEveryVerbAndField() {
        let section = Self.section("## Operations and statistics", until: nil)
        for kind in QueueOperationKind.allCases {
            #expect(section.contains("| `\(kind.rawValue)` |"), "docs/queue-manager.md does not describe the operation \(kind)")
        }
        for field in Self.fields(of: QueueOperationResult(operation: .hold)) + Self.fields(of: QueueStatistics()) {
            #expect(section.contains("`\(field)`"), "docs/queue-manager.md does not describe \(field)")
        }
        #expect(section.contains("`\(QueueOperations.defaultBounceReason)`") || section.contains("5.0.0 \(QueueOperations.defaultBounceReason)"))
    }
}
