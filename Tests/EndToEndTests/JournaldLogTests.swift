import Foundation
import Glibc
import Testing

/// `run` under systemd: syslog priority prefixes when stderr is the journal (`$JOURNAL_STREAM`), `--log-level`.
@Suite struct JournaldLogTests {
    /// Runs the demo-like agent for a moment with `arguments` (and JOURNAL_STREAM naming its stderr when `journalStream`),
    /// stops it with SIGTERM, and returns its stderr.
    func runBriefly(_ sandbox: Sandbox, arguments: [String] = [], journalStream: Bool) throws -> String {
        let agent = try Agent(sandbox, config: Fixture.config(board: try Repo.board(), stateDir: sandbox.stateDir), arguments: arguments)
        defer { agent.stop() }
        // JOURNAL_STREAM names the device and inode of the agent's stderr: its first run's log, made here to stat.
        let errPath = agent.logPath(1)
        guard FileManager.default.createFile(atPath: errPath, contents: nil) else { throw E2EFailure("cannot create \(errPath)") }
        var st = stat()
        guard stat(errPath, &st) == 0 else { throw E2EFailure("cannot stat \(errPath)") }
        if journalStream { agent.environment = ["JOURNAL_STREAM": "\(st.st_dev):\(st.st_ino)"] }
        try agent.start()  // it answers on its socket (the log may say nothing at --log-level warning)
        let (ended, _) = try #require(agent.stop(grace: 10), "the agent did not stop")
        #expect(ended.status == 0 && !ended.signalled, "\(ended)")
        return agent.log
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
