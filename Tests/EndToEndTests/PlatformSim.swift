import Foundation
import Glibc
import TestSupport
import Testing

/// The reference platform (`Tools/platform-sim`) as a real process on a free loopback port, and its admin API.
///
/// Started with `--port 0 --bridge ID:CREDFILE --quiet`; the port is read from
/// its one stdout line. The admin API is driven with `curl` (a separate
/// process, as the README's examples do), so no URLSession busy-waits in the
/// test process. `stop()` (SIGTERM, then SIGKILL) belongs in a `defer`.
final class PlatformSim {
    /// `$PLATFORM_SIM_BIN`, else `Tools/platform-sim/.build/debug/platform-sim` of this repository.
    static func binary() throws -> String {
        let fm = FileManager.default
        if let override = ProcessInfo.processInfo.environment["PLATFORM_SIM_BIN"], !override.isEmpty {
            guard fm.isExecutableFile(atPath: override) else {
                throw E2EFailure("PLATFORM_SIM_BIN=\(override) is not an executable file")
            }
            return override
        }
        let path = Repo.root + "/Tools/platform-sim/.build/debug/platform-sim"
        guard fm.isExecutableFile(atPath: path) else {
            throw E2EFailure("the reference platform binary \(path) is missing; build it: (cd Tools/platform-sim && swift build), or set PLATFORM_SIM_BIN")
        }
        return path
    }

    let bridge: String
    private let child = StoppableProcess()
    var process: Process { child.process }
    let stdoutPath: String
    let stderrPath: String
    /// `http://127.0.0.1:PORT`.
    private(set) var base = ""
    private(set) var port = 0

    /// The base URL the agent is given: `http://127.0.0.1:PORT/v1`.
    var apiURL: String { base + "/v1" }

    /// Starts the platform with one bridge registered with `credentials` (a file `{"api_key","signing_secret"}`).
    init(_ sandbox: Sandbox, bridge: String = "brg_e2e", credentials: String, name: String = "platform") throws {
        self.bridge = bridge
        stdoutPath = sandbox.root + "/\(name).stdout"
        stderrPath = sandbox.root + "/\(name).stderr"
        let fm = FileManager.default
        for path in [stdoutPath, stderrPath] {
            guard fm.createFile(atPath: path, contents: nil) else { throw E2EFailure("cannot create \(path)") }
        }
        process.executableURL = URL(fileURLWithPath: try Self.binary())
        process.arguments = ["--port", "0", "--bridge", "\(bridge):\(credentials)", "--quiet"]
        process.standardInput = FileHandle.nullDevice
        guard let out = FileHandle(forWritingAtPath: stdoutPath), let err = FileHandle(forWritingAtPath: stderrPath) else {
            throw E2EFailure("cannot open \(stdoutPath) / \(stderrPath)")
        }
        process.standardOutput = out
        process.standardError = err
        do { try child.run() } catch { throw E2EFailure("cannot start the reference platform: \(error)") }
        try? out.close()
        try? err.close()

        let prefix = "platform-sim listening on "
        let listening = try pollUntil(timeout: 20) { () throws -> Substring? in
            let text = (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) { return line }
            if !isRunning {
                throw E2EFailure("the reference platform exited (\(process.terminationStatus)) before listening:\n\(stderrText)")
            }
            return nil
        }
        guard let line = listening else {
            stop()
            throw E2EFailure("the reference platform did not print its listening line within 20 s:\n\(stderrText)")
        }
        base = String(line.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces)
        port = Int(base.split(separator: ":").last ?? "") ?? 0
        guard base.hasPrefix("http://127.0.0.1:"), port > 0 else {
            stop()
            throw E2EFailure("unexpected listening line from the reference platform: \(line)")
        }
    }

    deinit { stop() }

    var isRunning: Bool { child.isRunning }

    var stderrText: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// SIGTERM, then SIGKILL after 3 s.
    func stop() { child.stop() }

    // MARK: The admin API

    /// One admin request with curl; returns the HTTP status and the body (`body`: an object or an array).
    func call(_ method: String, _ path: String, _ body: Any? = nil) throws -> (status: Int, body: String) {
        var arguments = ["-s", "-S", "--max-time", "10", "-X", method, "-w", "\n%{http_code}", base + path]
        if let body {
            let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
            arguments += ["-H", "Content-Type: application/json", "--data-binary", String(decoding: data, as: UTF8.self)]
        }
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = arguments
        let out = Pipe(), err = Pipe()
        curl.standardOutput = out
        curl.standardError = err
        curl.standardInput = FileHandle.nullDevice
        do { try curl.run() } catch { throw E2EFailure("cannot run /usr/bin/curl (needed for the platform's admin API): \(error)") }
        let bytes = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        curl.waitUntilExit()
        let text = String(decoding: bytes, as: UTF8.self)
        guard curl.terminationStatus == 0, let cut = text.lastIndex(of: "\n"), let status = Int(text[text.index(after: cut)...]) else {
            throw E2EFailure("curl \(method) \(base)\(path) failed (exit \(curl.terminationStatus)): \(String(decoding: errors, as: UTF8.self))\(text)\nplatform stderr:\n\(stderrText.suffix(2000))")
        }
        return (status, String(text[..<cut]))
    }

    /// An admin request that must answer 2xx; its body as JSON (`null` for an empty body).
    @discardableResult
    func admin(_ method: String, _ path: String, _ body: Any? = nil) throws -> JSON {
        let (status, text) = try call(method, path, body)
        guard (200...299).contains(status) else {
            throw E2EFailure("platform admin \(method) \(path) answered \(status): \(text)")
        }
        return text.isEmpty ? .null : try JSON.parse(text)
    }

    private var bridgePath: String { "/admin/bridges/" + bridge }

    /// Issues a command for the bridge; returns its id. `id` replays a command id; `expiresInS` negative is already expired.
    @discardableResult
    func issue(_ type: String, _ params: [String: Any] = [:], id: String? = nil, expiresInS: Int? = nil,
               scopes: [String]? = nil) throws -> String {
        var body: [String: Any] = ["type": type, "params": params]
        if let id { body["id"] = id }
        if let expiresInS { body["expires_in_s"] = expiresInS }
        if let scopes { body["scopes"] = scopes }
        let command = try admin("POST", bridgePath + "/commands", body)
        guard let issued = command["id"]?.string else { throw E2EFailure("the platform issued a command without id: \(command)") }
        return issued
    }

    /// Issues a raw command: `text` goes into the poll answer byte for byte; `id` is the id its result is filed under.
    @discardableResult
    func issueRaw(_ text: String, id: String) throws -> String {
        try issueAll([["raw": text, "id": id]])[0]
    }

    /// Issues several command requests (typed `{"type","params",...}` or raw `{"raw","id"}`) at once, so that one
    /// poll answer carries them all; returns their ids in order.
    @discardableResult
    func issueAll(_ requests: [[String: Any]]) throws -> [String] {
        let issued = try admin("POST", bridgePath + "/commands", requests)
        let ids = (issued.array ?? []).compactMap { $0["id"]?.string }
        guard ids.count == requests.count else { throw E2EFailure("the platform issued \(issued) for \(requests.count) requests") }
        return ids
    }

    /// The platform's cursor for a position (its README: unpadded base64url of `pos:<n>`), to write into a raw answer.
    static func cursor(position: Int) -> String {
        Data("pos:\(position)".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Installs a fault (`kind` and its keys); returns its id (`flt_N`).
    @discardableResult
    func fault(_ object: [String: Any]) throws -> String {
        let answer = try admin("POST", "/admin/faults", object)
        guard let id = answer["id"]?.string else { throw E2EFailure("a fault without id: \(answer)") }
        return id
    }

    /// Replaces the bridge's credentials on the platform now (the `rotate_key` fault; the old key gets 401 from here on).
    func rotateKey(apiKey: String, signingSecret: String) throws {
        let answer = try admin("POST", "/admin/faults", ["kind": "rotate_key", "bridge": bridge, "api_key": apiKey, "signing_secret": signingSecret])
        guard answer["applied"] == true else { throw E2EFailure("rotate_key was not applied: \(answer)") }
    }

    func removeFault(_ id: String) throws { try admin("DELETE", "/admin/faults/" + id) }
    func clearFaults() throws { try admin("DELETE", "/admin/faults") }

    /// `{"events", "total", "order_violations", "duplicates_received"}`.
    func eventsReport() throws -> JSON { try admin("GET", bridgePath + "/events") }

    /// The accepted events in arrival order, without the platform's `received_at`.
    func events() throws -> [JSON] {
        (try eventsReport()["events"]?.array ?? []).map { event in
            guard var o = event.object else { return event }
            o.removeValue(forKey: "received_at")
            return .object(o)
        }
    }

    /// The stored result of every command that has one, by command id.
    func results() throws -> [String: JSON] { try admin("GET", bridgePath + "/results")["results"]?.object ?? [:] }

    /// `{"state": latest or null, "count": N, "last_at"}`.
    func state() throws -> JSON { try admin("GET", bridgePath + "/state") }

    /// The request log, oldest first: `{"method","path","query","status","at","duration_ms","fault"}`.
    func requests() throws -> [JSON] { try admin("GET", bridgePath + "/requests").array ?? [] }

    /// `{"commands": [...with position, delivered, result], "delivered_up_to"}`.
    func commands() throws -> JSON { try admin("GET", bridgePath + "/commands") }

    /// The last requests, one line each, for failure messages.
    var requestTail: String {
        guard let log = try? requests() else { return "(request log unavailable)" }
        return log.suffix(40).map { r in
            "\(r["at"]?.string ?? "?") \(r["method"]?.string ?? "?") \(r["path"]?.string ?? "?") \(r["status"].map(\.description) ?? "?")"
                + (r["fault"]?.string.map { " fault=\($0)" } ?? "")
        }.joined(separator: "\n")
    }
}

extension JSON {
    /// The object without `keys` (for comparing what was sent with what the platform kept).
    func removing(_ keys: String...) -> JSON {
        guard var o = object else { return self }
        for key in keys { o.removeValue(forKey: key) }
        return .object(o)
    }
}
