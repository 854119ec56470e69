import ArgumentParser

/// Options every suite takes.
struct BenchmarkOptions: ParsableArguments {
    @Flag(help: "Print one JSON object as the last line of stdout instead of a table.")
    var json = false

    @Flag(help: "Shorter phases and fewer samples (the whole suite in well under a minute).")
    var quick = false

    @Option(help: "Parent of the temporary directory the suite works in (removed at the end).")
    var dir = "/var/tmp"
}
