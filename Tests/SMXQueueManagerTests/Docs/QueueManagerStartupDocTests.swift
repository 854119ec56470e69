import Testing
import SMXQueueManager
import SMXStore
import SMXTestSupport

/// Keeps the "Startup and recovery" section of docs/queue-manager.md true: its report
/// table names every field of `StartupReport`, and its step table every step.
@Suite struct QueueManagerStartupDocTests {
    static var section: Substring {
        let document = QueueManagerDocTests.document
        guard let start = document.range(of: "## Startup and recovery") else { return "" }
        return document[start.lowerBound...]
    }

    @Test func theReportTableNamesEveryField() async throws {
        let stores = try QueueStores(SimulatedFileSystem(seed: 1))
        defer { stores.close() }
        let report = try QueueStartup(log: stores.log, contentStore: stores.content, deferredQueue: stores.deferred).makeReport()
        let fields = Mirror(reflecting: report).children.compactMap(\.label)
        #expect(fields.count >= 20)
        for field in fields {
            #expect(Self.section.contains("`\(field)`"), "docs/queue-manager.md does not describe StartupReport.\(field)")
        }
    }

    @Test func theStepTableNamesEveryStep() {
        for step in StartupStep.allCases where step != .inspectDeferredQueue {
            #expect(Self.section.contains("`\(step.rawValue)`"), "docs/queue-manager.md does not describe the step \(step)")
        }
    }
}
