// swift-tools-version:6.0
// Swift 6.0 is the lowest supported (Debian 13's swiftlang 6.0.3): checked by Tools/trixie/check.
// chekt-bridge: the agent on the bridge hardware. No Swift package
// dependencies: FoundationEssentials plus Debian's C libraries.
import PackageDescription

// Release builds put each of the agent's functions in its own section, so that the link order of
// Tools/order/chekt-bridge.order (below) can place every executed function with the others.
let ownCode: [SwiftSetting] = [.unsafeFlags(["-Xfrontend", "-function-sections"], .when(configuration: .release))]

let package = Package(
    name: "chekt-bridge",
    products: [
        .executable(name: "chekt-bridge", targets: ["chekt-bridge"]),
        // Library products exist only so that Tools/fuzz (a separate package) can link the agent's modules.
        .library(name: "BridgeCore", targets: ["BridgeCore"]),
        .library(name: "BridgeStore", targets: ["BridgeStore"]),
        .library(name: "BridgeUplink", targets: ["BridgeUplink"]),
        .library(name: "BridgeAgent", targets: ["BridgeAgent"]),
        .library(name: "BridgeSystem", targets: ["BridgeSystem"]),
    ],
    targets: [
        // C libraries from Debian, one system-library target each.
        .systemLibrary(name: "CGPIOD", pkgConfig: "libgpiod", providers: [.apt(["libgpiod-dev"])]),
        .systemLibrary(name: "CModbus", pkgConfig: "libmodbus", providers: [.apt(["libmodbus-dev"])]),
        // libcurl and libcrypto: headers at build time, loaded with dlopen at run time only when the platform link
        // is used (see their shim.h), so local mode maps neither them nor the ~30 libraries they pull in.
        .systemLibrary(name: "CCurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CCrypto", providers: [.apt(["libssl-dev"])]),
        // libgpiod 1.6 or 2.x behind one small C API: the only code that knows which (its include/chekt_gpio.h).
        .target(name: "CGPIODAdapter", dependencies: ["CGPIOD"]),
        // glibc and Linux calls Swift's Glibc module lacks: malloc statistics and trimming, thread names.
        .systemLibrary(name: "CGlibcExtras"),

        // The domain: configuration, zones, partitions, relays, devices. Pure.
        .target(name: "BridgeCore", swiftSettings: ownCode),
        // Threads, conditions, logging, errno words: the few POSIX helpers every I/O target shares.
        .target(name: "BridgeSystem", dependencies: ["CGlibcExtras"], swiftSettings: ownCode),
        // What the board is: the hardware protocol and its backends.
        .target(name: "BridgeHardware", dependencies: ["BridgeCore", "BridgeSystem", "CGPIODAdapter", "CModbus"], swiftSettings: ownCode),
        // Durable journal and state snapshot.
        .target(name: "BridgeStore", dependencies: ["BridgeCore"], swiftSettings: ownCode),
        // The platform link.
        .target(name: "BridgeUplink", dependencies: ["BridgeCore", "BridgeStore", "BridgeSystem", "CCurl", "CCrypto"], swiftSettings: ownCode),
        // The wiring: runtime, control socket, signals.
        .target(name: "BridgeAgent", dependencies: ["BridgeCore", "BridgeHardware", "BridgeStore", "BridgeSystem", "BridgeUplink"], swiftSettings: ownCode),
        // Release links with lld (docs/benchmarks.md, "Where the memory goes"; debug builds link as usual):
        // - Tools/order/chekt-bridge.order (made by Tools/profile-order): the functions a running agent executes
        //   are placed together, so the kernel's 64 KB fault-around maps fewer code pages (1.5-1.9 MB less resident);
        // - packed relative relocations (DT_RELR, glibc >= 2.36 as in Debian 12): a 7 KB table instead of 880 KB
        //   read at every start, still position-independent (0.7 MB less resident);
        // - libstdc++ from GCC's static archive (Tools/link/libstdc++.so is a linker script saying so), instead of
        //   mapping libstdc++.so.6 for the Swift runtime (0.85 MB less resident);
        // - no exported symbols (the Swift driver passes -export-dynamic; nothing looks the agent's symbols up).
        // .ci/run checks that the last two took effect.
        .executableTarget(name: "chekt-bridge", dependencies: ["BridgeAgent"], swiftSettings: ownCode, linkerSettings: [
            .unsafeFlags(["-use-ld=lld", "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/Tools/order/chekt-bridge.order",
                          "-Xlinker", "--no-warn-symbol-ordering", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
                          "-L", "\(Context.packageDirectory)/Tools/link", "-Xlinker", "--no-export-dynamic"],
                         .when(configuration: .release)),
        ]),
        // Prints the figures of docs/benchmarks.md (swift run -c release chekt-bridge-bench).
        .executableTarget(name: "chekt-bridge-bench", dependencies: ["BridgeAgent", "BridgeSystem", "BridgeUplink"]),

        // What several test targets share (a test target cannot import another).
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "BridgeCoreTests", dependencies: ["BridgeCore"]),
        .testTarget(name: "BridgeHardwareTests", dependencies: ["BridgeHardware", "BridgeSystem", "TestSupport"]),
        .testTarget(name: "BridgeStoreTests", dependencies: ["BridgeStore", "TestSupport"]),
        .testTarget(name: "BridgeUplinkTests", dependencies: ["BridgeUplink", "TestSupport"]),
        .testTarget(name: "BridgeAgentTests", dependencies: ["BridgeAgent", "BridgeSystem"]),
        .testTarget(name: "BridgeSystemTests", dependencies: ["BridgeSystem"]),
        // The command's pure parts (tables, reports) without a process.
        .testTarget(name: "chekt-bridgeTests", dependencies: ["chekt-bridge"]),
        // Runs the built `chekt-bridge` as a user would: real files, real socket, real signals.
        .testTarget(name: "EndToEndTests", dependencies: ["chekt-bridge", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
