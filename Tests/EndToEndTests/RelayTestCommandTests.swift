import Foundation
import Testing

/// `relay test`: one relay at a time, answers from a script, and an honest verdict per relay.
@Suite struct RelayTestCommandTests {
    /// Runs `relay test ARGS` with `answers` as its standard input (a script, not a terminal).
    func relayTest(_ agent: Agent, _ arguments: [String], answers: String) throws -> ToolResult {
        let input = try agent.sandbox.write("answers-\(UUID().uuidString).txt", answers)
        return try Tool.run(["relay", "test"] + arguments + ["--socket", agent.sandbox.socket], cwd: agent.sandbox.root, stdin: input)
    }

    /// The `RELAY  RESULT` rows printed at the end, as relay → result.
    func verdicts(_ r: ToolResult) -> [String: String] {
        var rows: [String: String] = [:]
        let lines = r.stdout.split(separator: "\n").map(String.init)
        guard let header = lines.firstIndex(where: { $0.hasPrefix("RELAY") && $0.hasSuffix("RESULT") }) else { return rows }
        for line in lines[(header + 1)...] where !line.hasPrefix("relay test ") {
            let cells = line.split(separator: " ", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 2 else { break }
            rows[cells[0]] = cells[1]
        }
        return rows
    }

    @Test func quittingOrRunningOutOfAnswersPassesNothingThatWasNotConfirmed() throws {
        let sandbox = try Sandbox()
        let agent = try Agent(sandbox, config: Fixture.config(board: try Repo.board(), stateDir: sandbox.stateDir))
        defer { agent.stop() }
        try agent.start()
        let start = try agent.lastSeq

        // y for door_strike, q at siren: gate is never pulsed.
        let quit = try relayTest(agent, ["--ms", "100"], answers: "y\nq\n")
        #expect(quit.status == 1 && !quit.signalled, "\(quit)")
        #expect(verdicts(quit) == ["door_strike": "confirmed", "siren": "pulsed, not answered", "gate": "not tested"], "\(quit)")
        #expect(quit.stderr.contains("relay test failed: not confirmed: siren (pulsed, not answered), gate (not tested)"), "\(quit)")
        #expect(!quit.stdout.contains("passed"), "\(quit)")
        let pulsed = try agent.events().of("relay.activated", after: start).compactMap { $0.data["relay"]?.string }
        #expect(pulsed == ["door_strike", "siren"], agent.note)

        // n, y, then the input ends at gate, which was pulsed but never answered.
        let ended = try relayTest(agent, ["--ms", "100"], answers: "n\ny\n")
        #expect(ended.status == 1 && !ended.signalled, "\(ended)")
        #expect(verdicts(ended) == ["door_strike": "answered no", "siren": "confirmed", "gate": "pulsed, not answered"], "\(ended)")
        #expect(ended.stderr.contains("not confirmed: door_strike (answered no), gate (pulsed, not answered)"), "\(ended)")

        // Every relay named was pulsed and confirmed: the only way to exit 0.
        let passed = try relayTest(agent, ["siren", "gate", "--ms", "100"], answers: "y\nyes\n")
        #expect(passed.status == 0, "\(passed)")
        #expect(verdicts(passed) == ["siren": "confirmed", "gate": "confirmed"], "\(passed)")
        #expect(passed.stdout.contains("relay test passed"), "\(passed)")
    }

    @Test func answersFromAScriptStillPulseOneRelayAfterAnother() throws {
        let sandbox = try Sandbox()
        let relays = Fixture.interlockedPair("il1", "il2", group: "g", extra: ["mode": "pulse", "pulse_ms": 300])
        let agent = try Agent(sandbox, config: Fixture.config(board: try Repo.board(), stateDir: sandbox.stateDir,
                                                             partitions: [Fixture.partition(siren: false)], relays: relays))
        defer { agent.stop() }
        try agent.start()
        let start = try agent.lastSeq

        let r = try relayTest(agent, ["il1", "il2", "gate", "--ms", "300"], answers: "y\ny\ny\n")
        #expect(r.status == 0, "\(r)\n\(agent.logTail)")
        #expect(verdicts(r) == ["il1": "confirmed", "il2": "confirmed", "gate": "confirmed"], "\(r)")

        // Each relay on, then off at the end of its own pulse, before the next one comes on.
        let events = try agent.events().actions(after: start)
        #expect(events.map { "\($0.type) \($0.data["relay"]?.string ?? "")" } == [
            "relay.activated il1", "relay.deactivated il1", "relay.activated il2", "relay.deactivated il2",
            "relay.activated gate", "relay.deactivated gate",
        ], "\(events.listing)")
        for off in events.of("relay.deactivated") {
            #expect(off.data["reason"] == "pulse_elapsed" && off.data["interlock"] == nil, "released early: \(off)")
        }
        for (off, on) in zip(events.of("relay.deactivated").dropLast(), events.of("relay.activated").dropFirst()) {
            #expect(on.at >= off.at, "\(on) came on before \(off)")
        }
        for (on, off) in zip(events.of("relay.activated"), events.of("relay.deactivated")) {
            #expect(off.at - on.at >= 295, "the pulse \(on) lasted only \(off.at - on.at) ms")
        }
    }

    @Test func aPulseCutByMaxOnSaysSo() throws {
        let sandbox = try Sandbox()
        let short: [String: Any] = ["id": "gate", "output": "out3", "mode": "pulse", "pulse_ms": 100, "max_on_ms": 300]
        let agent = try Agent(sandbox, config: Fixture.config(board: try Repo.board(), stateDir: sandbox.stateDir,
                                                             relays: [Fixture.doorStrike, Fixture.siren, short]))
        defer { agent.stop() }
        try agent.start()

        var seq = try agent.lastSeq
        let cut = try agent.ok("relay", "pulse", "gate", "--ms", "1000")
        #expect(cut.stdout.contains("cut to 300 ms by max_on_ms (asked for 1000 ms)"), "\(cut)")
        _ = try agent.waitForEvent("relay.deactivated", after: seq) { $0.data["relay"] == "gate" && $0.data["reason"] == "max_on" }

        seq = try agent.lastSeq
        let whole = try agent.ok("relay", "pulse", "gate", "--ms", "200")
        #expect(!whole.stdout.contains("cut to"), "\(whole)")
        // Off again, so that the test's pulse starts a fresh max_on period (a relay already on keeps its own).
        _ = try agent.waitForEvent("relay.deactivated", after: seq) { $0.data["relay"] == "gate" && $0.data["reason"] == "pulse_elapsed" }

        let tested = try relayTest(agent, ["gate", "--ms", "1000"], answers: "y\n")
        #expect(tested.status == 0, "\(tested)")
        #expect(tested.stdout.contains("gate: cut to 300 ms by max_on_ms (asked for 1000 ms)"), "\(tested)")
    }
}
