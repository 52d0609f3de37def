import Foundation
import Testing

/// Alarms: instant, entry/exit and fire zones, the siren relay, disarm.
@Suite struct AlarmTests {
    func armedAgent(_ sandbox: Sandbox, entryDelayS: Int = 1) throws -> (Agent, RecordedEvent) {
        let agent = try Agent(sandbox, config: Fixture.config(board: try Repo.board(), stateDir: sandbox.stateDir,
                                                             partitions: [Fixture.partition(exitDelayS: 0, entryDelayS: entryDelayS)]))
        try agent.start()
        let start = try agent.lastSeq
        try agent.ok("partition", "arm", "main")
        let armed = try agent.waitForEvent("partition.armed", after: start)
        return (agent, armed)
    }

    @Test func instantZoneRaisesAnAlarmAndTheSirenUntilDisarm() throws {
        let sandbox = try Sandbox()
        let (agent, armed) = try armedAgent(sandbox)
        defer { agent.stop() }

        try agent.ok("sim", "input", "in4", "active")
        let alarm = try agent.waitForEvent("alarm.created", after: armed.seq)
        let alarmID = try #require(alarm.data["alarm_id"]?.string, "alarm.created without alarm_id: \(alarm)")
        #expect(alarmID.hasPrefix("alm_"), "alarm_id \(alarmID)")
        #expect(alarm.data == ["alarm_id": .string(alarmID), "partition": "main", "zone": "back_window", "kind": "burglary"], agent.note)
        let siren = try agent.waitForEvent("relay.activated", after: armed.seq) { $0.data["relay"] == "siren" }
        #expect(siren.data["source"] == "rule", "\(siren)")
        #expect(siren.data == ["relay": "siren", "mode": "pulse", "duration_ms": 120_000, "source": "rule"], "\(siren)")
        let raised = try agent.events().actions(after: armed.seq)
        #expect(raised.types == ["zone.faulted", "alarm.created", "relay.activated"], "\(raised.listing)")

        let status = try agent.status()
        #expect(status.entry("relays", "siren")?["on"] == true, "\(status)")
        #expect(status.entry("partitions", "main")?["state"] == "alarm")

        try agent.ok("partition", "disarm", "main")
        let disarmed = try agent.waitForEvent("partition.disarmed", after: siren.seq)
        #expect(disarmed.data == ["partition": "main", "source": "technician"])
        let released = try agent.waitForEvent("relay.deactivated", after: siren.seq) { $0.data["relay"] == "siren" }
        #expect(released.data == ["relay": "siren", "reason": "technician"], "\(released)")
        let end = try agent.status()
        #expect(end.entry("partitions", "main")?["state"] == "disarmed")
        #expect(end.entry("relays", "siren")?["on"] == false)
        #expect(try agent.events().actions(after: siren.seq).types.sorted() == ["partition.disarmed", "relay.deactivated"], agent.note)
    }

    @Test func entryExitZoneAlarmsAfterTheEntryDelay() throws {
        let sandbox = try Sandbox()
        let (agent, armed) = try armedAgent(sandbox, entryDelayS: 1)
        defer { agent.stop() }

        try agent.ok("sim", "input", "in1", "active")
        let faulted = try agent.waitForEvent("zone.faulted", after: armed.seq)
        #expect(faulted.data["zone"] == "front_door")
        let during = try agent.status().entry("partitions", "main")
        let entryEnds = during?["entry_ends_at"]?.string.flatMap(WallClock.parse)
        // The delay runs from the debounced change; the event's time is when the agent got to record it (a few ms later).
        let ends = try #require(entryEnds, "no entry_ends_at while the entry delay runs: \(String(describing: during))")
        #expect(ends <= faulted.at + 1000 && ends >= faulted.at + 1000 - 100,
                "entry_ends_at is \(ends - faulted.at) ms after zone.faulted (entry delay 1000 ms)")

        let alarm = try agent.waitForEvent("alarm.created", after: faulted.seq)
        #expect(alarm.data["zone"] == "front_door")
        #expect(alarm.data["kind"] == "burglary")
        #expect(alarm.data["partition"] == "main")
        let delay = alarm.at - faulted.at
        #expect(abs(delay - 1000) <= 150, "the alarm came \(delay) ms after the fault (entry delay 1000 ms)")
        #expect(alarm.at >= ends, "the alarm came before the entry delay ended")
        #expect(try agent.status().entry("partitions", "main")?["state"] == "alarm")
    }

    @Test func disarmWithinTheEntryDelayRaisesNoAlarm() throws {
        let sandbox = try Sandbox()
        let (agent, armed) = try armedAgent(sandbox, entryDelayS: 1)
        defer { agent.stop() }

        try agent.ok("sim", "input", "in1", "active")
        let faulted = try agent.waitForEvent("zone.faulted", after: armed.seq)
        try agent.ok("partition", "disarm", "main")
        let disarmed = try agent.waitForEvent("partition.disarmed", after: faulted.seq)
        try #require(disarmed.at - faulted.at < 1000, "the disarm came \(disarmed.at - faulted.at) ms after the fault: too late to test")

        // Past the moment the entry delay would have ended:
        try agent.barrier(ms: 1200)
        let events = try agent.events()
        #expect(events.of("alarm.created").isEmpty, "\(events.listing)\n\(agent.logTail)")
        #expect(events.of("relay.activated").allSatisfy { $0.data["relay"] == "gate" }, "\(events.listing)")
        #expect(try agent.status().entry("partitions", "main")?["state"] == "disarmed")
    }

    @Test func fireZoneAlarmsWhileDisarmed() throws {
        let sandbox = try Sandbox()
        let agent = try Agent(sandbox, config: Fixture.config(board: try Repo.board(), stateDir: sandbox.stateDir))
        defer { agent.stop() }
        try agent.start()
        let start = try agent.lastSeq

        try agent.ok("sim", "input", "in3", "active")
        let alarm = try agent.waitForEvent("alarm.created", after: start)
        let alarmID = try #require(alarm.data["alarm_id"]?.string)
        #expect(alarm.data == ["alarm_id": .string(alarmID), "partition": "main", "zone": "smoke", "kind": "fire"], agent.note)
        let faulted = try #require(try agent.events().of("zone.faulted", after: start).first)
        #expect(faulted.seq < alarm.seq, "zone.faulted must come before the alarm it causes")
        // The siren sounds whatever the arming state; the partition was not armed, so it does not go to alarm.
        let siren = try agent.waitForEvent("relay.activated", after: start) { $0.data["relay"] == "siren" }
        #expect(siren.data["source"] == "rule")
        #expect(try agent.status().entry("partitions", "main")?["state"] == "disarmed")
    }
}
