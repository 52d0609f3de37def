import Foundation
import Testing

/// Start-up and zones: `sim input` changes reach the journal as zone events, after the debounce.
@Suite struct ZoneTests {
    @Test func firstStartRecordsBridgeStartedWithNothingRestored() throws {
        let sandbox = try Sandbox()
        let agent = try Agent(sandbox, config: Fixture.config(board: try Repo.board(), stateDir: sandbox.stateDir))
        defer { agent.stop() }
        let status = try agent.start()

        let events = try agent.events()
        let started = try #require(events.first, agent.note)
        #expect(started.seq == 1, agent.note)
        #expect(started.type == "bridge.started", agent.note)
        #expect(started.id.wholeMatch(of: /evt_[0-9A-HJKMNP-TV-Z]{26}/) != nil, "id \(started.id) is not evt_ + a 26-character ULID")
        #expect(started.data["board"] == "rpi-relay-3ch")
        #expect(started.data["simulated"] == true)
        #expect(started.data["restored"] == ["snapshot": false])
        #expect(started.data["version"]?.string?.isEmpty == false)
        #expect(Set(started.data.keys) == ["version", "board", "simulated", "restored"])
        // Every input starts inactive on the simulated board: no zone is faulted, nothing else happened.
        #expect(events.actions().isEmpty, "\(events.listing)")
        #expect(status["partitions"]?.array?.map { $0["state"] } == ["disarmed"])
        #expect(status["zones"]?.array?.map { $0["state"] } == ["normal", "normal", "normal", "normal"])
        #expect(status["relays"]?.array?.map { $0["on"] } == [false, false, false])
        #expect(status["inputs"]?.array?.compactMap { $0["id"]?.string } == ["in1", "in2", "in3", "in4"])
        #expect(status["agent"]?["simulated"] == true)
        #expect(status["bridge"]?["id"] == "brg_e2e")
        #expect(sandbox.exists(sandbox.stateDir), "the state folder was not created")
    }

    @Test func inputChangesFaultAndRestoreTheZone() throws {
        let sandbox = try Sandbox()
        let agent = try Agent(sandbox, config: Fixture.config(board: try Repo.board(), stateDir: sandbox.stateDir))
        defer { agent.stop() }
        try agent.start()
        let start = try agent.lastSeq

        let sim = try agent.ok("sim", "input", "in1", "active")
        #expect(sim.stdout.contains("in1 active"))
        let faulted = try agent.waitForEvent("zone.faulted", after: start)
        #expect(faulted.data == ["zone": "front_door", "partition": "main", "input": "in1"], agent.note)
        let zone = try agent.status().entry("zones", "front_door")
        #expect(zone?["state"] == "faulted")
        #expect(zone?["partition"] == "main")
        #expect(zone?["bypassed"] == false)

        try agent.ok("sim", "input", "in1", "inactive")
        let restored = try agent.waitForEvent("zone.restored", after: faulted.seq)
        #expect(restored.data == ["zone": "front_door", "partition": "main", "input": "in1"], agent.note)
        #expect(restored.at >= faulted.at)
        #expect(try agent.status().entry("zones", "front_door")?["state"] == "normal")

        // Disarmed: an entry/exit zone gives its zone events and nothing else.
        #expect(try agent.events().actions(after: start).types == ["zone.faulted", "zone.restored"], agent.note)
    }

    /// The shipped board debounces for 50 ms; a copy with 1500 ms on in1 leaves room for two tool runs
    /// ("active", then "inactive" at once) to land inside the debounce period, whatever the machine's load
    /// (400 ms did not under ThreadSanitizer on a loaded 2-core machine: the two took 700 ms; Tools/sanitize/run).
    @Test func aPulseShorterThanTheDebounceRecordsNothing() throws {
        let sandbox = try Sandbox()
        let debounceMs = 1500
        let board = try boardCopy(in: sandbox, in1DebounceMs: debounceMs)
        let agent = try Agent(sandbox, config: Fixture.config(board: board, stateDir: sandbox.stateDir))
        defer { agent.stop() }
        try agent.start()
        let start = try agent.lastSeq

        let t0 = Date()
        try agent.ok("sim", "input", "in1", "active")
        try agent.ok("sim", "input", "in1", "inactive")
        let pulseMs = Date().timeIntervalSince(t0) * 1000
        try #require(pulseMs < Double(debounceMs) - 50, "the two sim commands took \(Int(pulseMs)) ms: too slow to test a short pulse")

        // in1's debounce deadline has passed once a later pulse has ended.
        try agent.barrier(ms: debounceMs + 100)
        #expect(try agent.events().actions(after: start).filter { $0.type.hasPrefix("zone.") }.isEmpty, agent.note)
        #expect(try agent.status().entry("zones", "front_door")?["state"] == "normal")

        // A level that holds for the debounce period does count, and not before it has held that long.
        let before = try agent.lastSeq
        let t1 = WallClock.nowMs()
        try agent.ok("sim", "input", "in1", "active")
        let faulted = try agent.waitForEvent("zone.faulted", after: before)
        #expect(faulted.data == ["zone": "front_door", "partition": "main", "input": "in1"])
        #expect(faulted.at - t1 >= Int64(debounceMs) - 10, "zone.faulted came \(faulted.at - t1) ms after the input changed")
    }

    /// The shipped board with a longer debounce on in1 (everything else as shipped).
    private func boardCopy(in sandbox: Sandbox, in1DebounceMs: Int) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: try Repo.board()))
        guard var board = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              var inputs = board["inputs"] as? [[String: Any]],
              let i = inputs.firstIndex(where: { $0["id"] as? String == "in1" }) else {
            throw E2EFailure("the shipped board has no input in1")
        }
        inputs[i]["debounce_ms"] = in1DebounceMs
        board["inputs"] = inputs
        return try sandbox.writeJSON("slow-board.json", board)
    }
}
