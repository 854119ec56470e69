import Foundation
import SMXQueueManager
import SMXTestSupport
import Testing

/// Keeps docs/queue-manager.md true: the example notification is what `render()` writes
/// for the fixtures, and the presets table lists the presets' first tries.
@Suite struct QueueManagerDocTests {
    /// This file is `<root>/Tests/SMXQueueManagerTests/Docs/QueueManagerDocTests.swift`.
    static let document: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return (try? String(contentsOf: url.appendingPathComponent("docs/queue-manager.md"), encoding: .utf8)) ?? ""
    }()

    /// The text of the first fenced block after `marker`.
    static func fencedBlock(after marker: String) -> String? {
        guard let start = document.range(of: marker) else { return nil }
        guard let open = document.range(of: "```\n", range: start.upperBound..<document.endIndex) else { return nil }
        guard let close = document.range(of: "\n```", range: open.upperBound..<document.endIndex) else { return nil }
        return String(document[open.upperBound..<close.lowerBound])
    }

    @Test func exampleNotificationMatchesRender() throws {
        let documented = try #require(Self.fencedBlock(after: "<!-- worked-example-dsn -->"))
        let rendered = NotificationFixtures.notification([NotificationFixtures.bobFailed, NotificationFixtures.carolFailed]).render()
        let expected = String(decoding: rendered.bytes, as: UTF8.self).replacing("\r\n", with: "\n")
        #expect(documented + "\n" == expected)
    }

    /// "1h46m40s" style, as the table writes durations.
    static func compact(_ seconds: Double) -> String {
        let whole = Int(seconds)
        let fraction = seconds - Double(whole)
        let parts = [(whole / 3_600, "h"), (whole / 60 % 60, "m")].filter { $0.0 > 0 }.map { "\($0.0)\($0.1)" }
        let secondsPart = whole % 60 == 0 && fraction == 0 ? "" : fraction == 0 ? "\(whole % 60)s" : "\(Double(whole % 60) + fraction)s"
        return parts.joined() + secondsPart
    }

    @Test func presetsTableListsTheFirstTries() {
        let rows: [(String, RetrySchedule, Int)] = [
            ("RetryRule.qmailRemote()", .qmailRemote, 7),
            ("RetryRule.qmailLocal()", .qmailLocal, 6),
            ("RetryRule.courierDefault()", .courierDefault, 13),
        ]
        for (name, schedule, count) in rows {
            let tries = RetryScheduleTests.onTime(schedule, count: count).map(Self.compact).joined(separator: ", ")
            let row = Self.document.split(separator: "\n").first { $0.hasPrefix("| `\(name)`") }
            #expect(row?.contains(tries) == true, "the \(name) row should list \(tries)")
        }
        let exim = RetryScheduleTests.onTime(.eximDefault, count: 14).suffix(6).map(Self.compact).joined(separator: ", ")
        #expect(Self.document.contains("2h, \(exim), then every 6h"), "the Exim row should list \(exim)")
    }
}
