import Foundation
import Glibc
import TestSupport
import Testing

/// `run` under systemd: syslog priority prefixes when stderr is the journal (`$JOURNAL_STREAM`), `--log-level`.
@Suite struct JournaldLogTests {
    /// Runs the demo-like agent for a moment with `env` and `arguments`, stops it with SIGTERM, and returns its stderr.
    func runBriefly(_ sandbox: Sandbox, arguments: [String] = [], journalStream: Bool) throws -> String {
        let config = try sandbox.writeJSON("config.json", Fixture.config(board: try Repo.board(), stateDir: sandbox.stateDir))
        let errPath = sandbox.root + "/run.stderr"
        guard FileManager.default.createFile(atPath: errPath, contents: nil) else { throw E2EFailure("cannot create \(errPath)") }
        var st = stat()
        guard stat(errPath, &st) == 0 else { throw E2EFailure("cannot stat \(errPath)") }
        let env = journalStream ? ["JOURNAL_STREAM": "\(st.st_dev):\(st.st_ino)"] : [:]
        let run = try RunningTool(["run", "--config", config, "--simulate", "--socket", sandbox.socket] + arguments,
                                  env: env, stderrPath: errPath)
        defer { run.stopIfRunning() }
        // Started: it answers on its socket (the log may say nothing at --log-level warning).
        guard pollUntil(timeout: 10, { (try? Tool.run(["status", "--socket", sandbox.socket]))?.status == 0 ? true : nil }) != nil else {
            throw E2EFailure("no answer within 10 s: \((try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")")
        }
        run.process.terminate()
        guard let ended = run.wait(timeout: 10) else { throw E2EFailure("the agent did not stop") }
        #expect(ended.status == 0, "\(ended)")
        return (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
    }

    @Test func underTheJournalEveryLineCarriesItsPriority() throws {
        let log = try runBriefly(try Sandbox(), journalStream: true)
        let lines = log.split(separator: "\n")
        #expect(!lines.isEmpty && lines.allSatisfy { $0.hasPrefix("<6>") || $0.hasPrefix("<4>") || $0.hasPrefix("<3>") }, "\(log)")
        #expect(lines.contains { $0.hasPrefix("<6>#1 bridge.started") }, "\(log)")
    }

    @Test func elsewhereLinesArePlainAndLogLevelLeavesOutWhatIsLessSevere() throws {
        let plain = try runBriefly(try Sandbox(), journalStream: false)
        #expect(plain.contains("#1 bridge.started") && !plain.contains("<6>"), "\(plain)")
        let quiet = try runBriefly(try Sandbox(), arguments: ["--log-level", "warning"], journalStream: false)
        #expect(!quiet.contains("bridge.started") && !quiet.contains("chekt-bridge 0.1"), "info lines left out: \(quiet)")
    }

    @Test func anUnknownLogLevelIsAUsageError() throws {
        let r = try Tool.run(["run", "--config", "/nowhere.json", "--log-level", "loud"])
        #expect(r.status == 2 && r.stderr.contains("--log-level must be one of error, warning, info, debug, not \"loud\""), "\(r)")
    }
}
