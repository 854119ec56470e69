import ArgumentParser

/// `smx-bench <suite>`: one subcommand per store, each in `<Suite>Benchmark.swift`.
@main
struct SMXBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "smx-bench",
        abstract: "Benchmarks of the smx storage engine on the real disk.",
        discussion: """
            Every suite works in a fresh temporary directory, measures the disk's own sync \
            latency in the same run, and reports same-run ratios next to absolute figures.
            """,
        subcommands: [IBDBBenchmark.self, CDBBenchmark.self, DefEDBBenchmark.self, QMGRBenchmark.self]
    )
}
