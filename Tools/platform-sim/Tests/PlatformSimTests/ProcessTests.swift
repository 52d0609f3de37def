import Foundation
import Synchronization
import Testing

@testable import PlatformSim

/// The built `platform-sim` executable, run as the agent's end-to-end tests will run it.
@Suite("platform-sim process")
struct ProcessTests {
    /// The executable next to the test bundle (SwiftPM builds it first: the test target depends on it).
    static func binary() throws -> String {
        if let override = ProcessInfo.processInfo.environment["PLATFORM_SIM_BIN"] { return override }
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var folder = exe.deletingLastPathComponent()
        // On Linux the test binary may sit inside `platform-simPackageTests.xctest/`; walk up to the build folder.
        for _ in 0..<3 {
            let candidate = folder.appendingPathComponent("platform-sim").path
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue {
                return candidate
            }
            folder = folder.deletingLastPathComponent()
        }
        throw TestFailure("platform-sim executable not found near \(exe.path); build it or set PLATFORM_SIM_BIN")
    }

    /// Collects a pipe's output as it arrives.
    final class Collector: Sendable {
        private let text = Mutex("")
        init(_ pipe: Pipe) {
            pipe.fileHandleForReading.readabilityHandler = { [self] handle in
                let data = handle.availableData
                if !data.isEmpty { text.withLock { $0 += String(decoding: data, as: UTF8.self) } }
            }
        }
        var value: String { text.withLock { $0 } }

        /// Polls (every 20 ms, up to `seconds`) until `condition` holds for the output so far.
        func waitFor(seconds: Double, _ condition: (String) -> Bool) async throws -> String {
            let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
            while ContinuousClock.now < deadline {
                let v = value
                if condition(v) { return v }
                try await Task.sleep(for: .milliseconds(20))
            }
            return value
        }
    }

    @Test func listensServesAndStopsOnSIGTERM() async throws {
        let dir = NSTemporaryDirectory() + "platform-sim-proc-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try write(#"{"api_key":"key_p","signing_secret":"secret_p"}"#, to: "\(dir)/p.json")
        try write(#"{"api_key":"key_q","signing_secret":"secret_q"}"#, to: "\(dir)/q.json")
        try write(#"{"bridges":[{"id":"brg_r","api_key":"key_r","signing_secret":"secret_r"}]}"#, to: "\(dir)/more.json")

        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.binary())
        process.arguments = [
            "--port", "0", "--bridge", "brg_p", "--credentials", "\(dir)/p.json", "--bridge", "brg_q:\(dir)/q.json",
            "--bridges-file", "\(dir)/more.json",
        ]
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let stdout = Collector(out)
        let stderr = Collector(err)
        try process.run()
        defer {
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }

        let text = try await stdout.waitFor(seconds: 15) { $0.contains("\n") }
        let line = try #require(text.split(separator: "\n").first.map(String.init), "stderr: \(stderr.value)")
        #expect(line.hasPrefix("platform-sim listening on http://127.0.0.1:"), "\(line)")
        let port = try #require(Int(line.split(separator: ":").last ?? ""))
        #expect(port > 0)

        let p = TestPlatform(store: PlatformStore(bridges: []), port: port)
        let q = BridgeRegistration(id: "brg_q", credentials: BridgeCredentials(apiKey: "key_q", signingSecret: "secret_q"))
        let answer = try await p.postEvents([event("e1", seq: 1)], as: q)
        #expect(answer.status == 200)
        #expect(try answer.json.strings("accepted") == ["e1"])
        let bridges = try await p.admin(.GET, "/bridges").json["bridges"]?.arrayValue ?? []
        #expect(bridges.map { $0["id"]?.stringValue ?? "" } == ["brg_p", "brg_q", "brg_r"])

        let logged = try await stderr.waitFor(seconds: 5) { $0.contains("POST /v1/bridges/brg_q/events 200") }
        #expect(logged.contains("POST /v1/bridges/brg_q/events 200"), "one line per request on stderr")
        #expect(!logged.contains("secret_q") && !logged.contains("key_q"), "credentials never logged")
        #expect(stdout.value == line + "\n", "stdout holds the listening line only")

        kill(process.processIdentifier, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(10)
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!process.isRunning, "stops on SIGTERM")
        if !process.isRunning { #expect(process.terminationStatus == 0) }
    }

    @Test func answersExpectContinueAtOnce() async throws {
        // libcurl (the agent's HTTP stack) announces large bodies with `Expect: 100-continue` and waits for
        // "100 Continue" up to --expect100-timeout before sending the body anyway: 30 s here, so a platform that
        // never answers it makes this request take 30 s.
        let curl = try #require(
            ["/usr/bin/curl", "/usr/local/bin/curl"].first { FileManager.default.isExecutableFile(atPath: $0) },
            "curl is needed for this test (apt-get install curl)")
        try await TestPlatform.with { p in
            let body = JSONValue.object(["events": [event("e1", seq: 1)]]).serialized
            let t = Int64(Date().timeIntervalSince1970)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: curl)
            process.arguments = [
                "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "--expect100-timeout", "30",
                "-H", "Expect: 100-continue", "-H", "Authorization: Bearer key_a", "-H", "X-Bridge-Id: brg_a",
                "-H", "X-Chekt-Signature: \(TestHMAC.header(secret: "secret_a", body: Array(body.utf8), t: t))",
                "-H", "Content-Type: application/json", "--data-binary", body,
                "http://127.0.0.1:\(p.port)/v1/bridges/brg_a/events",
            ]
            let out = Pipe()
            process.standardOutput = out
            let collected = Collector(out)
            try process.run()
            let deadline = ContinuousClock.now + .seconds(60)
            while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            let text = try await collected.waitFor(seconds: 2) { $0.contains(" ") }
            let parts = text.split(separator: " ")
            #expect(parts.first == "200", "\(text)")
            let seconds = try #require(parts.last.flatMap { Double($0) })
            #expect(seconds < 10, "the body waited for a 100 Continue that never came (\(seconds) s)")
        }
    }

    @Test func badFlagsExitTwoWithAMessage() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.binary())
        process.arguments = ["--port", "0", "--bridge", "brg_x:/nonexistent/creds.json"]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = Pipe()
        let stderr = Collector(err)
        try process.run()
        let deadline = ContinuousClock.now + .seconds(15)
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            Issue.record("platform-sim kept running with a missing credentials file")
        }
        process.waitUntilExit()
        #expect(process.terminationStatus == 2)
        let message = try await stderr.waitFor(seconds: 2) { $0.contains("\n") }
        #expect(message.contains("/nonexistent/creds.json: no such credentials file"), "\(message)")
    }
}
