// swift-tools-version:6.0
//
// smx-bench: benchmarks for the smx storage engine, a separate package so the engine's own
// package keeps no benchmark-only dependencies. Run from the repository root with
// `make bench`, or `swift run -c release --package-path Benchmarks smx-bench ibdb --json`.
// SQLite and LMDB, the peers of the `defedb` suite, are linked here only (Debian
// libsqlite3-dev and liblmdb-dev, installed by tools/setup), never by the engine.
import PackageDescription

let package = Package(
    name: "smx-bench",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "smx-bench", targets: ["smx-bench"]),
    ],
    dependencies: [
        .package(name: "smx", path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(
            name: "CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        .executableTarget(
            name: "smx-bench",
            dependencies: [
                "CSQLite",
                "CLMDB",
                .product(name: "SMXStore", package: "smx"),
                .product(name: "SMXQueueManager", package: "smx"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
