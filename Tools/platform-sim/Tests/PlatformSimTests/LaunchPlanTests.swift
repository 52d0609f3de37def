import Foundation
import NIOCore
import Testing

@testable import PlatformSim

/// A fresh temporary folder, removed at the end.
func withTempFolder<T>(_ body: (String) throws -> T) throws -> T {
    let path = NSTemporaryDirectory() + "platform-sim-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

func write(_ text: String, to path: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

@Suite("Launch plan and credentials")
struct LaunchPlanTests {
    @Test func pairsPlainBridgesWithCredentialsInOrder() throws {
        try withTempFolder { dir in
            try write(#"{"api_key":"ka","signing_secret":"sa"}"#, to: "\(dir)/a.json")
            try write(#"{"api_key":"kb","signing_secret":"sb"}"#, to: "\(dir)/b.json")
            try write(#"{"api_key":"kc","signing_secret":"sc"}"#, to: "\(dir)/c.json")
            let plan = try LaunchPlan.registrations(
                bridgeFlags: ["brg_a", "brg_c:\(dir)/c.json", "brg_b"],
                credentialFlags: ["\(dir)/a.json", "\(dir)/b.json"], bridgesFile: nil)
            #expect(plan.map(\.id) == ["brg_a", "brg_c", "brg_b"])
            #expect(plan.map(\.credentials.apiKey) == ["ka", "kc", "kb"])
            #expect(plan.map(\.credentials.signingSecret) == ["sa", "sc", "sb"])
        }
    }

    @Test func readsABridgesFileWithRelativePaths() throws {
        try withTempFolder { dir in
            try FileManager.default.createDirectory(atPath: "\(dir)/creds", withIntermediateDirectories: true)
            try write(#"{"api_key":"k1","signing_secret":"s1"}"#, to: "\(dir)/creds/one.json")
            try write(
                #"{"bridges":[{"id":"brg_1","credentials":"creds/one.json"},{"id":"brg_2","api_key":"k2","signing_secret":"s2"}]}"#,
                to: "\(dir)/bridges.json")
            let plan = try LaunchPlan.registrations(bridgeFlags: [], credentialFlags: [], bridgesFile: "\(dir)/bridges.json")
            #expect(
                plan == [
                    BridgeRegistration(id: "brg_1", credentials: BridgeCredentials(apiKey: "k1", signingSecret: "s1")),
                    BridgeRegistration(id: "brg_2", credentials: BridgeCredentials(apiKey: "k2", signingSecret: "s2")),
                ])
        }
    }

    @Test func explainsEveryMistake() throws {
        try withTempFolder { dir in
            try write(#"{"api_key":"k","signing_secret":"s"}"#, to: "\(dir)/ok.json")
            try write(#"{"api_key":"k","signing_secret":"TOPSECRET","extra":1}"#, to: "\(dir)/extra.json")
            try write(#"{"api_key":"k","signing_secret":""}"#, to: "\(dir)/empty.json")
            try write(#"{"api_key":"k", TOPSECRET"#, to: "\(dir)/broken.json")
            let cases: [([String], [String], String?, String)] = [
                (["brg_a"], [], nil, "--bridge brg_a has no credentials"),
                (["brg_a"], ["\(dir)/ok.json", "\(dir)/ok.json"], nil, "is not paired"),
                (["brg_a:"], [], nil, "nothing after ':'"),
                (["brg a:\(dir)/ok.json"], [], nil, "may hold only"),
                (["brg_a:\(dir)/missing.json"], [], nil, "no such credentials file"),
                (["brg_a:\(dir)/extra.json"], [], nil, "unknown key \"extra\""),
                (["brg_a:\(dir)/empty.json"], [], nil, "signing_secret must be a non-empty string"),
                (["brg_a:\(dir)/broken.json"], [], nil, "not valid JSON"),
                (["brg_a:\(dir)/ok.json", "brg_a:\(dir)/ok.json"], [], nil, "registered twice"),
                ([], [], "\(dir)/ok.json", "expected {\"bridges\""),
            ]
            for (bridges, credentials, file, expected) in cases {
                do {
                    _ = try LaunchPlan.registrations(bridgeFlags: bridges, credentialFlags: credentials, bridgesFile: file)
                    Issue.record("\(bridges) \(credentials) was accepted; expected \"\(expected)\"")
                } catch let error as SetupError {
                    #expect(error.message.contains(expected), "\(error.message)")
                    #expect(!error.message.contains("TOPSECRET"), "file content leaked: \(error.message)")
                }
            }
        }
    }

    @Test func credentialsNeverShowTheirValues() {
        let c = BridgeCredentials(apiKey: "key_visible?", signingSecret: "secret_visible?")
        let text = "\(c) \(String(describing: c)) \(String(reflecting: c))"
        #expect(!text.contains("key_visible") && !text.contains("secret_visible"))
    }

    @Test func listeningURLBracketsIPv6() {
        #expect(LaunchPlan.baseURL(host: "127.0.0.1", port: 8443) == "http://127.0.0.1:8443")
        #expect(LaunchPlan.baseURL(host: "::1", port: 80) == "http://[::1]:80")
    }

    @Test func adminIsForLoopbackPeersOnly() throws {
        #expect(SimRequestContext.isLoopback(try SocketAddress(ipAddress: "127.0.0.1", port: 1)))
        #expect(SimRequestContext.isLoopback(try SocketAddress(ipAddress: "127.3.4.5", port: 1)))
        #expect(SimRequestContext.isLoopback(try SocketAddress(ipAddress: "::1", port: 1)))
        #expect(SimRequestContext.isLoopback(try SocketAddress(ipAddress: "::ffff:127.0.0.1", port: 1)))
        #expect(!SimRequestContext.isLoopback(try SocketAddress(ipAddress: "10.0.0.1", port: 1)))
        #expect(!SimRequestContext.isLoopback(try SocketAddress(ipAddress: "192.168.1.20", port: 1)))
        #expect(!SimRequestContext.isLoopback(try SocketAddress(ipAddress: "fe80::1", port: 1)))
        #expect(!SimRequestContext.isLoopback(try SocketAddress(ipAddress: "::ffff:10.0.0.1", port: 1)))
        #expect(!SimRequestContext.isLoopback(nil))
    }
}
