import Foundation
import SMXStore
import SMXTestSupport
import Testing

/// Replays the fuzz seeds and every input libFuzzer ever crashed on through the same
/// harness functions the fuzz targets run (`FuzzHarness`). A harness checks with
/// `precondition`, so a regression crashes this test process: the run fails.
///
/// Inputs: `FuzzTests/Corpus/<Target>/*` (seeds) and `FuzzTests/Regressions/<Target>/*`
/// (crash inputs, kept forever). Dot files such as `.keep` are skipped.
@Suite struct FuzzRegressionTests {
    static let targets = FuzzSeeds.all().map(\.target)

    /// The repository root: this file is `<root>/Tests/SMXStoreTests/FuzzRegressionTests.swift`.
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .deletingLastPathComponent()

    static func inputs(_ kind: String, _ target: String) throws -> [URL] {
        let directory = root.appendingPathComponent("FuzzTests/\(kind)/\(target)", isDirectory: true)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        return names.filter { !$0.hasPrefix(".") }.sorted().map { directory.appendingPathComponent($0) }
    }

    static func replay(_ files: [URL], target: String) throws {
        let harness = try #require(FuzzSeeds.harness(for: target))
        for file in files {
            let bytes = [UInt8](try Data(contentsOf: file))
            harness(bytes)
        }
    }

    @Test(arguments: targets)
    func regressionsDoNotCrash(target: String) throws {
        // The directory is kept (with a .keep file) even when no crash was ever found.
        try Self.replay(try Self.inputs("Regressions", target), target: target)
    }

    @Test(arguments: targets)
    func corpusDoesNotCrash(target: String) throws {
        let files = try Self.inputs("Corpus", target)
        #expect(!files.isEmpty, "no seed files in FuzzTests/Corpus/\(target)")
        try Self.replay(files, target: target)
    }

    /// The generated seeds themselves (and, with SMX_WRITE_FUZZ_CORPUS=1, writes them to
    /// `FuzzTests/Corpus/<Target>/<name>`).
    @Test func generatedSeedsDoNotCrash() throws {
        let write = ProcessInfo.processInfo.environment["SMX_WRITE_FUZZ_CORPUS"] == "1"
        for (target, seeds) in FuzzSeeds.all() {
            let harness = try #require(FuzzSeeds.harness(for: target))
            let directory = Self.root.appendingPathComponent("FuzzTests/Corpus/\(target)", isDirectory: true)
            if write {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            }
            for seed in seeds {
                harness(seed.bytes)
                if write {
                    try Data(seed.bytes).write(to: directory.appendingPathComponent(seed.name))
                }
            }
        }
    }
}
