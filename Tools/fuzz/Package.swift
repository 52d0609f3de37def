// swift-tools-version:6.0
// libFuzzer targets for the agent's input readers (Tools/fuzz/README.md). A separate package, so the agent's
// own `swift build` is unaffected; built by Tools/fuzz/run with `--sanitize fuzzer --sanitize address`.
import PackageDescription

// The root package's identity is its folder's name, lower-cased: it differs between checkouts (CI clones elsewhere).
let root: String = {
    var parts = Context.packageDirectory.split(separator: "/", omittingEmptySubsequences: true)
    parts.removeLast(2)  // Tools/fuzz
    return String(parts.last ?? "chekt-bridge").lowercased()
}()

func module(_ name: String) -> Target.Dependency { .product(name: name, package: root) }

/// One fuzz target: `Sources/fuzz-<name>/Fuzz<Name>.swift`, built as the executable `fuzz-<name>`.
func fuzz(_ name: String, _ modules: [String]) -> Target {
    .executableTarget(name: "fuzz-" + name, dependencies: ["FuzzSupport"] + modules.map(module))
}

let package = Package(
    name: "chekt-bridge-fuzz",
    dependencies: [.package(path: "../..")],
    targets: [
        // Input splitting and property checks shared by the targets.
        .target(name: "FuzzSupport"),

        // One line per target; Tools/fuzz/run lists them from here.
        fuzz("timestamp", ["BridgeCore", "BridgeUplink"]),
        fuzz("json", ["BridgeCore"]),
        fuzz("config", ["BridgeCore"]),
        fuzz("credentials", ["BridgeCore", "BridgeUplink"]),
        fuzz("signature", ["BridgeUplink"]),
        fuzz("journal", ["BridgeCore", "BridgeStore"]),
        fuzz("control", ["BridgeCore", "BridgeAgent"]),
        fuzz("commands", ["BridgeCore", "BridgeUplink"]),
    ],
    swiftLanguageModes: [.v6]
)
