/// What a suite hands back: the report's keys in order, and the same numbers as a table.
struct SuiteReport {
    var fields: [(String, JSON)]
    var table: String
}

extension BenchmarkOptions {
    /// Runs one suite in a fresh temporary directory under `dir` (removed afterwards, also
    /// on failure), adds `duration_s`, and prints the report: one JSON object as the last
    /// line of stdout with `--json`, a table otherwise. Progress goes to stderr.
    func runSuite(_ name: String, _ body: (_ directory: String) async throws -> SuiteReport) async throws {
        let started = monotonicNanos()
        let temporary = try TemporaryDirectory(under: dir, prefix: "smx-bench-\(name)-")
        progress("smx-bench \(name)\(quick ? " (quick)" : ""): working in \(temporary.path)")
        var report: SuiteReport
        do {
            report = try await body(temporary.path)
        } catch {
            temporary.remove()
            throw error
        }
        temporary.remove()
        let seconds = Double(monotonicNanos() - started) / 1e9
        report.fields.append(("duration_s", .number(seconds, decimals: 1)))
        progress("smx-bench \(name): done in \(fixed(seconds)) s")
        if json {
            print(JSON.object(report.fields).rendered)
        } else {
            print(report.table)
            print("duration: \(fixed(seconds)) s")
        }
    }
}
