import Foundation
import Glibc
import TestSupport
import Testing

/// One test's `chekt-bridge run --simulate` process, and the tools pointed at its control socket.
///
/// Real process, real socket, real signals. Waiting polls a condition every
/// 20 ms up to a deadline (never a fixed sleep), and fails early with the
/// agent's log when the agent has died meanwhile. Every test stops its agent
/// in a `defer` (SIGTERM, then SIGKILL after 3 s), so none is left behind.
final class Agent {
    let sandbox: Sandbox
    let config: String
    let runArguments: [String]
    /// False: `run` without `--simulate`, on the hardware the profile names (Modbus peers in ModbusRunTests).
    var simulate = true
    /// Added to the agent's environment (JOURNAL_STREAM in JournaldLogTests).
    var environment: [String: String] = [:]
    private(set) var process: RunningTool?
    /// How many times the agent was launched; each run logs to its own file.
    private(set) var runs = 0

    init(_ sandbox: Sandbox, config: String, arguments: [String] = []) {
        self.sandbox = sandbox
        self.config = config
        self.runArguments = arguments
    }

    /// Writes `config` (a JSON object) as `config.json` in the sandbox and returns an agent for it.
    convenience init(_ sandbox: Sandbox, config object: [String: Any], arguments: [String] = []) throws {
        self.init(sandbox, config: try sandbox.writeJSON("config.json", object), arguments: arguments)
    }

    func logPath(_ run: Int) -> String { sandbox.root + "/agent-\(run).stderr" }

    // MARK: Life cycle

    /// Launches `run --config FILE --simulate --socket SOCK` (without `--simulate` when `simulate` is false) and
    /// returns without waiting for it.
    @discardableResult
    func launch() throws -> RunningTool {
        if let process, process.wait(timeout: 0) == nil {
            throw E2EFailure("the agent of this test is already running (pid \(process.pid))")
        }
        runs += 1
        let p = try RunningTool(["run", "--config", config] + (simulate ? ["--simulate"] : []) + ["--socket", sandbox.socket] + runArguments,
                                cwd: sandbox.root, env: environment,
                                stdoutPath: sandbox.root + "/agent-\(runs).stdout", stderrPath: logPath(runs))
        process = p
        return p
    }

    /// Launches the agent and waits until it answers `status` with every input settled (zones are evaluated then).
    @discardableResult
    func start(timeout: Double = 10) throws -> JSON {
        try launch()
        return try waitReady(timeout: timeout)
    }

    @discardableResult
    func waitReady(timeout: Double = 10) throws -> JSON {
        try waitFor("the agent to answer on \(sandbox.socket) with its inputs settled", timeout: timeout) { () throws -> JSON? in
            let r = try Tool.run(["status", "--json", "--socket", sandbox.socket])
            guard r.status == 0 else { return nil }
            let status = try r.json()
            guard let inputs = status["inputs"]?.array, !inputs.isEmpty,
                  inputs.allSatisfy({ $0["active"] != nil && $0["active"] != .null }) else { return nil }
            return status
        }
    }

    /// SIGTERM, then SIGKILL after `grace` s. Returns how the process ended and the seconds it took after SIGTERM.
    @discardableResult
    func stop(grace: Double = 3) -> (result: ToolResult, seconds: Double)? {
        guard let process else { return nil }
        if let done = process.wait(timeout: 0) { return (done, 0) }
        let t0 = Date()
        process.kill(SIGTERM)
        if let done = process.wait(timeout: grace) { return (done, Date().timeIntervalSince(t0)) }
        process.kill(SIGKILL)
        guard let done = process.wait(timeout: 5) else { return nil }
        return (done, Date().timeIntervalSince(t0))
    }

    /// `kill -9`: no chance to save anything more.
    @discardableResult
    func kill9() throws -> ToolResult {
        guard let process else { throw E2EFailure("no agent to kill") }
        process.kill(SIGKILL)
        guard let done = process.wait(timeout: 5) else { throw E2EFailure("the agent survived SIGKILL for 5 s") }
        return done
    }

    /// True while the current run's process is alive.
    var isRunning: Bool { process.map { $0.wait(timeout: 0) == nil } ?? false }

    // MARK: Diagnostics

    /// The current run's stderr.
    var log: String { runs == 0 ? "" : ((try? String(contentsOfFile: logPath(runs), encoding: .utf8)) ?? "") }

    /// The last lines of every run's stderr, for failure messages.
    var logTail: String {
        var text = ""
        for run in stride(from: 1, through: runs, by: 1) {
            let lines = ((try? String(contentsOfFile: logPath(run), encoding: .utf8)) ?? "").split(separator: "\n", omittingEmptySubsequences: false)
            text += "--- agent run \(run) stderr (last \(min(lines.count, 40)) lines)\n" + lines.suffix(40).joined(separator: "\n") + "\n"
        }
        return text.isEmpty ? "(the agent was never started)" : text
    }

    /// A failure comment with the agent's log tail; evaluated only when an expectation fails.
    var note: Comment { Comment(rawValue: logTail) }

    // MARK: The tools

    /// `chekt-bridge ARGS --socket SOCK`.
    func tool(_ arguments: String...) throws -> ToolResult { try tool(arguments) }

    func tool(_ arguments: [String]) throws -> ToolResult {
        try Tool.run(arguments + ["--socket", sandbox.socket], cwd: sandbox.root)
    }

    /// Runs a tool command that must succeed (exit 0).
    @discardableResult
    func ok(_ arguments: String...) throws -> ToolResult {
        let r = try tool(arguments)
        guard r.status == 0, !r.signalled else { throw E2EFailure("expected exit 0 from:\n\(r)\n\(logTail)") }
        return r
    }

    /// Every event of the journal, via `events --json --since 1`.
    func events() throws -> [RecordedEvent] {
        let r = try tool("events", "--json", "--since", "1")
        guard r.status == 0 else { throw E2EFailure("events failed:\n\(r)\n\(logTail)") }
        return try RecordedEvent.list(r.stdout)
    }

    /// `status --json`.
    func status() throws -> JSON {
        let r = try tool("status", "--json")
        guard r.status == 0 else { throw E2EFailure("status failed:\n\(r)\n\(logTail)") }
        return try r.json()
    }

    var lastSeq: Int64 { get throws { try events().last?.seq ?? 0 } }

    // MARK: Waiting for the agent

    /// Polls `condition` every 20 ms until it gives a value; fails after `timeout` s or when the agent dies.
    func waitFor<T>(_ what: String, timeout: Double = 8, _ condition: () throws -> T?) throws -> T {
        let value = try pollUntil(timeout: timeout) { () throws -> T? in
            if let value = try condition() { return value }
            if let process, let ended = process.wait(timeout: 0) {
                throw E2EFailure("the agent ended (\(ended.signalled ? "signal" : "exit") \(ended.status)) while waiting for \(what)\n\(logTail)")
            }
            return nil
        }
        guard let value else {
            let journal = (try? events())?.listing ?? "(events unavailable)"
            throw E2EFailure("timed out after \(timeout) s waiting for \(what)\njournal:\n\(journal)\n\(logTail)")
        }
        return value
    }

    /// The first event of `type` after `seq` that satisfies `predicate`, waiting for it to be recorded.
    func waitForEvent(_ type: String, after seq: Int64 = 0, timeout: Double = 8,
                      where predicate: (RecordedEvent) -> Bool = { _ in true }) throws -> RecordedEvent {
        try waitFor("a \(type) event after seq \(seq)", timeout: timeout) {
            try events().first { $0.seq > seq && $0.type == type && predicate($0) }
        }
    }

    /// A clock barrier: pulses `relay` for `ms` and waits for its release. Everything the agent had due
    /// before the release has run by then (one loop runs every deadline in order), so a test can check
    /// that something did NOT happen without a fixed sleep.
    @discardableResult
    func barrier(relay: String = "gate", ms: Int) throws -> RecordedEvent {
        let before = try lastSeq
        try ok("relay", "pulse", relay, "--ms", String(ms))
        let on = try waitForEvent("relay.activated", after: before) { $0.data["relay"] == .string(relay) }
        return try waitForEvent("relay.deactivated", after: on.seq, timeout: Double(ms) / 1000 + 8) {
            $0.data["relay"] == .string(relay) && $0.data["reason"] == "pulse_elapsed"
        }
    }
}

extension JSON {
    /// The entry with `id` in the status list `list` (`partitions`, `zones`, `relays`, `devices`, `inputs`).
    func entry(_ list: String, _ id: String) -> JSON? {
        self[list]?.array?.first { $0["id"] == .string(id) }
    }
}
