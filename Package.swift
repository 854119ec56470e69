// swift-tools-version:6.0
//
// smx: a crash-safe mail-queue storage engine. See docs/architecture.md and
// ../shared/design/ARCHITECTURE.md for the design and the durability contract.
import PackageDescription

let package = Package(
    name: "smx",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SMXStore", targets: ["SMXStore"]),
        .library(name: "SMXQueueManager", targets: ["SMXQueueManager"]),
        .library(name: "SMXTestSupport", targets: ["SMXTestSupport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        .systemLibrary(
            name: "CXXHash",
            pkgConfig: "libxxhash",
            providers: [.apt(["libxxhash-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // Linux-only calls Glibc does not import (fallocate); static inline wrappers.
        .systemLibrary(name: "CLinuxShims"),
        .target(
            name: "SMXStore",
            dependencies: [
                "CLinuxShims",
                "CXXHash",
                "CZstd",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Queue semantics: retry policy, delivery status notifications, address resolution,
        // delivery jobs and destination state (pure code, no I/O), and the receiving side,
        // startup, the queue manager's loop, the notification pass and the operations,
        // which drive the stores (see docs/queue-manager.md).
        .target(name: "SMXQueueManager", dependencies: ["SMXStore", .product(name: "Logging", package: "swift-log")]),
        // The simulated file layer and workload generators shared by every test target
        // (and by crash loops in tools/). Not shipped in any executable.
        .target(
            name: "SMXTestSupport",
            dependencies: ["SMXStore", "SMXQueueManager"],
            path: "Tests/SMXTestSupport"
        ),
        .testTarget(
            name: "SMXStoreTests",
            dependencies: [
                "SMXStore",
                "SMXTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "SMXQueueManagerTests",
            dependencies: [
                "SMXQueueManager",
                "SMXStore",
                "SMXTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
