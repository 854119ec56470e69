// swift-tools-version:6.0
//
// libFuzzer targets for smx's decoders. Separate from the root package so that the
// sanitizer flags never reach the main build. Build and run with `tools/fuzz` (see
// ../../shared/design/NOTES.md, "libFuzzer with SwiftPM"); the harness bodies live in
// `SMXTestSupport.FuzzHarness` so `FuzzRegressionTests` replays crashes through the same code.
import PackageDescription

let fuzzTargets = [
    "FuzzRecordDecoder", "FuzzSegmentReader", "FuzzFileHeader",
    "FuzzBlobDecoder", "FuzzContentSegment", "FuzzSegmentHint", "FuzzReleaseJournal",
    "FuzzBTreePage", "FuzzBTreeFile", "FuzzBTreeJournal", "FuzzDeferredRecord",
    "FuzzXText", "FuzzStatusReply",
]

let package = Package(
    name: "smx-fuzz",
    dependencies: [
        .package(name: "smx", path: ".."),
    ],
    targets: fuzzTargets.map { name in
        .executableTarget(
            name: name,
            dependencies: [
                .product(name: "SMXStore", package: "smx"),
                .product(name: "SMXTestSupport", package: "smx"),
            ]
        )
    },
    swiftLanguageModes: [.v6]
)
