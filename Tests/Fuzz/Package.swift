// swift-tools-version:5.3
import PackageDescription

// libFuzzer targets, one per decoder that bytes from outside reach. Built by scripts/fuzz.sh
// with -sanitize=fuzzer,address; each entry point is LLVMFuzzerTestOneInput. Kept out of the
// main package so its sanitizer flags never touch the normal build. Tools version 5.3: its
// plain targets with a main.swift link as executables without SwiftPM's renamed `main`
// (libFuzzer brings its own), as in apple/swift-protobuf's FuzzTesting.
let package = Package(
    name: "ShieldDiffFuzz",
    dependencies: [.package(name: "ShieldDiff", path: "../..")],
    targets: [
        .target(name: "FuzzSupport", path: "Sources/FuzzSupport"),
        .target(name: "FuzzEnvelope", dependencies: ["FuzzSupport", .product(name: "ShieldDiffDecoders", package: "ShieldDiff")]),
        .target(name: "FuzzSafeTensors", dependencies: ["FuzzSupport", .product(name: "ShieldDiffDecoders", package: "ShieldDiff")]),
        .target(name: "FuzzConfig", dependencies: ["FuzzSupport", .product(name: "ShieldDiffDecoders", package: "ShieldDiff")]),
        .target(name: "FuzzPrompt", dependencies: ["FuzzSupport", .product(name: "ShieldDiffDecoders", package: "ShieldDiff")]),
        .target(name: "FuzzAllowlist", dependencies: ["FuzzSupport", .product(name: "ShieldDiffDecoders", package: "ShieldDiff")]),
    ]
)
