import Foundation
import Testing

/// Relays driven from the CLI: pulse timing and interlock order, measured on the agent's own timestamps.
@Suite struct RelayTests {
    @Test func pulseIsReleasedWhenItsDurationHasElapsed() throws {
        let sandbox = try Sandbox()
        let agent = try Agent(sandbox, config: Fixture.config(board: try Repo.board(), stateDir: sandbox.stateDir))
        defer { agent.stop() }
        try agent.start()
        let start = try agent.lastSeq

        // Long enough for `status`, the next tool run, to land within it: a tool run takes 0.3 s and more under a
        // sanitizer on a loaded 2-core machine (Tools/sanitize/run), and 400 ms was missed there.
        let pulseMs: Int64 = 2000
        try agent.ok("relay", "pulse", "door_strike", "--ms", String(pulseMs))
        let status = try agent.status()
        let on = try agent.waitForEvent("relay.activated", after: start)
        #expect(on.data == ["relay": "door_strike", "mode": "pulse", "duration_ms": .int(pulseMs), "source": "technician"], agent.note)
        let relay = try #require(status.entry("relays", "door_strike"))
        #expect(relay["on"] == true, "door_strike is not shown on during its pulse: \(relay)")
        let until = relay["until"]?.string.flatMap(WallClock.parse)
        #expect(until == on.at + pulseMs, "until \(String(describing: relay["until"])) is not activation + \(pulseMs) ms (\(on.occurredAt))")

        let off = try agent.waitForEvent("relay.deactivated", after: on.seq)
        #expect(off.data == ["relay": "door_strike", "reason": "pulse_elapsed"], agent.note)
        let lasted = off.at - on.at
        #expect(abs(lasted - pulseMs) <= 150, "the \(pulseMs) ms pulse lasted \(lasted) ms")
        #expect(try agent.status().entry("relays", "door_strike")?["on"] == false)
        #expect(try agent.events().actions(after: start).types == ["relay.activated", "relay.deactivated"], agent.note)
    }

    @Test func interlockReleasesTheOtherRelayAndWaitsTheGap() throws {
        let sandbox = try Sandbox()
        let relays = Fixture.interlockedPair("lock_a", "lock_b", group: "doors")
        let agent = try Agent(sandbox, config: Fixture.config(board: try Repo.board(), stateDir: sandbox.stateDir,
                                                             partitions: [Fixture.partition(siren: false)], relays: relays))
        defer { agent.stop() }
        try agent.start()
        let start = try agent.lastSeq

        try agent.ok("relay", "on", "lock_a")
        let aOn = try agent.waitForEvent("relay.activated", after: start)
        #expect(aOn.data == ["relay": "lock_a", "mode": "latch", "source": "technician"], agent.note)

        // Turn B on in the background and watch status meanwhile: A and B are never on together.
        let turnOn = try RunningTool(["relay", "on", "lock_b", "--socket", sandbox.socket])
        defer { turnOn.stopIfRunning() }
        var samples = 0
        var bothOn: [JSON] = []
        while turnOn.wait(timeout: 0) == nil, samples < 500 {
            let s = try agent.status()
            samples += 1
            if s.entry("relays", "lock_a")?["on"] == true && s.entry("relays", "lock_b")?["on"] == true { bothOn.append(s) }
        }
        let result = try #require(turnOn.wait(timeout: 10), "relay on lock_b did not finish")
        #expect(result.status == 0, "\(result)")
        #expect(bothOn.isEmpty, "status showed lock_a and lock_b on together: \(bothOn.first.map(\.description) ?? "")")

        let aOff = try agent.waitForEvent("relay.deactivated", after: aOn.seq)
        let bOn = try agent.waitForEvent("relay.activated", after: aOn.seq)
        #expect(aOff.data == ["relay": "lock_a", "reason": "technician", "interlock": "lock_b"], agent.note)
        #expect(bOn.data == ["relay": "lock_b", "mode": "latch", "source": "technician"], agent.note)
        #expect(aOff.seq < bOn.seq, "lock_b was energised before lock_a was released")
        #expect(bOn.at - aOff.at >= 195, "lock_b came on \(bOn.at - aOff.at) ms after lock_a went off (gap 200 ms)")
        let end = try agent.status()
        #expect(end.entry("relays", "lock_a")?["on"] == false)
        #expect(end.entry("relays", "lock_b")?["on"] == true)
    }

    /// A relay on a Modbus module whose device is silent: `relay on` fails (exit 1, hardware_error), the relay is
    /// released again at once, and it stays off when the device answers again (docs/behaviour-decisions.md).
    @Test func aRelayThatCannotBeSwitchedOnIsReleasedAgainAndStaysOffWhenTheDeviceReturns() throws {
        let sandbox = try Sandbox()
        let board = Repo.root + "/boards/rpi-modbus-io8.json"
        let gate: [String: Any] = ["id": "gate", "output": "io8.out1", "mode": "latch"]  // no max_on_ms
        let agent = try Agent(sandbox, config: Fixture.config(
            board: board, stateDir: sandbox.stateDir, partitions: [Fixture.partition(siren: false)],
            zones: [["id": "front_door", "input": "in1", "partition": "main", "type": "entry_exit"]], relays: [gate]))
        defer { agent.stop() }
        try agent.start()
        let before = try agent.lastSeq
        try agent.ok("sim", "device", "io8", "offline")
        let start = try agent.waitForEvent("device.offline", after: before) { $0.data["device"] == "io8" }.seq

        let on = try agent.tool("relay", "on", "gate")
        #expect(on.status == 1 && on.stderr.contains("hardware_error"), "\(on)")
        let events = try agent.events().actions(after: start)
        #expect(events.map(\.type) == ["relay.activated", "relay.deactivated"], agent.note)
        #expect(events.last?.data == ["relay": "gate", "reason": "technician"], agent.note)

        try agent.ok("sim", "device", "io8", "online")
        _ = try agent.waitForEvent("device.online", after: start) { $0.data["device"] == "io8" }
        let relay = try agent.status().entry("relays", "gate")
        #expect(relay?["on"] == false && relay?["applied"] == true, "\(relay ?? .null)\n\(agent.logTail)")
    }
}
