import Foundation
import Testing

/// `partition arm`: refused while a zone is not ready, exit delay, `--force` bypasses, disarm clears bypasses.
@Suite struct ArmingTests {
    @Test func armIsRefusedWhileAZoneIsFaultedAndArmsAfterTheExitDelay() throws {
        let sandbox = try Sandbox()
        let agent = try Agent(sandbox, config: Fixture.config(board: try Repo.board(), stateDir: sandbox.stateDir,
                                                             partitions: [Fixture.partition(exitDelayS: 1, entryDelayS: 10)]))
        defer { agent.stop() }
        try agent.start()
        let start = try agent.lastSeq

        try agent.ok("sim", "input", "in4", "active")
        let faulted = try agent.waitForEvent("zone.faulted", after: start)
        #expect(faulted.data["zone"] == "back_window")

        let refused = try agent.tool("partition", "arm", "main")
        #expect(refused.status == 1, "\(refused)")
        #expect(refused.stderr.contains("back_window"), "the refusal does not name the zone: \(refused)")
        #expect(refused.stderr.contains("zones_not_ready"), "\(refused)")
        #expect(try agent.status().entry("partitions", "main")?["state"] == "disarmed")
        #expect(try agent.events().actions(after: faulted.seq).isEmpty, agent.note)

        try agent.ok("sim", "input", "in4", "inactive")
        let restored = try agent.waitForEvent("zone.restored", after: faulted.seq)

        let t0 = WallClock.nowMs()
        try agent.ok("partition", "arm", "main")
        let arming = try #require(try agent.status().entry("partitions", "main"))
        #expect(arming["state"] == "arming", "\(arming)")
        let exitEnds = try #require(arming["exit_ends_at"]?.string.flatMap(WallClock.parse), "no exit_ends_at while arming: \(arming)")
        #expect(exitEnds - t0 >= 1000 - 20 && exitEnds - t0 <= 1000 + 1000, "exit delay ends \(exitEnds - t0) ms after the arm command")

        let armed = try agent.waitForEvent("partition.armed", after: restored.seq)
        #expect(armed.data == ["partition": "main", "mode": "away", "source": "technician", "bypassed": []], agent.note)
        #expect(armed.at >= exitEnds && armed.at <= exitEnds + 150, "armed at \(armed.at - exitEnds) ms after the exit delay's end")
        let main = try #require(try agent.status().entry("partitions", "main"))
        #expect(main["state"] == "armed_away", "\(main)")
        #expect(main["bypassed"] == [])
        #expect(try agent.events().actions(after: restored.seq).types == ["partition.armed"], agent.note)
    }

    @Test func forceBypassesTheFaultedZoneThenArmsAndDisarmClearsTheBypass() throws {
        let sandbox = try Sandbox()
        let agent = try Agent(sandbox, config: Fixture.config(board: try Repo.board(), stateDir: sandbox.stateDir,
                                                             partitions: [Fixture.partition(exitDelayS: 0, entryDelayS: 10)]))
        defer { agent.stop() }
        try agent.start()
        let start = try agent.lastSeq

        try agent.ok("sim", "input", "in4", "active")
        let faulted = try agent.waitForEvent("zone.faulted", after: start)

        let arm = try agent.tool("partition", "arm", "main", "--force")
        #expect(arm.status == 0, "\(arm)")
        let armed = try agent.waitForEvent("partition.armed", after: faulted.seq)
        let steps = try agent.events().actions(after: faulted.seq)
        #expect(steps.types == ["zone.bypassed", "partition.armed"], "\(steps.listing)\n\(agent.logTail)")
        #expect(steps.first?.data == ["zone": "back_window", "partition": "main", "source": "technician"])
        #expect(armed.data == ["partition": "main", "mode": "away", "source": "technician", "bypassed": ["back_window"]], agent.note)

        let status = try agent.status()
        #expect(status.entry("partitions", "main")?["state"] == "armed_away")
        #expect(status.entry("partitions", "main")?["bypassed"] == ["back_window"])
        #expect(status.entry("zones", "back_window")?["bypassed"] == true)
        #expect(status.entry("zones", "back_window")?["state"] == "faulted")

        // Disarm clears the bypasses, as panels do.
        try agent.ok("partition", "disarm", "main")
        let disarmed = try agent.waitForEvent("partition.disarmed", after: armed.seq)
        #expect(disarmed.data == ["partition": "main", "source": "technician"])
        let after = try agent.events().actions(after: armed.seq)
        #expect(after.types.sorted() == ["partition.disarmed", "zone.unbypassed"], "\(after.listing)")
        #expect(after.of("zone.unbypassed").first?.data == ["zone": "back_window", "partition": "main", "source": "technician"])
        let end = try agent.status()
        #expect(end.entry("partitions", "main")?["state"] == "disarmed")
        #expect(end.entry("zones", "back_window")?["bypassed"] == false)
    }

    @Test func bypassBeforeArmingIsRecordedAndListedInPartitionArmed() throws {
        let sandbox = try Sandbox()
        let agent = try Agent(sandbox, config: Fixture.config(board: try Repo.board(), stateDir: sandbox.stateDir,
                                                             partitions: [Fixture.partition(exitDelayS: 0, entryDelayS: 10)]))
        defer { agent.stop() }
        try agent.start()
        let start = try agent.lastSeq

        try agent.ok("zone", "bypass", "hall_pir")
        let bypassed = try agent.waitForEvent("zone.bypassed", after: start)
        #expect(bypassed.data == ["zone": "hall_pir", "partition": "main", "source": "technician"])
        let refused = try agent.tool("zone", "bypass", "smoke")
        #expect(refused.status == 1, "a fire zone is not bypassable by default: \(refused)")
        #expect(refused.stderr.contains("not_bypassable"), "\(refused)")

        try agent.ok("partition", "arm", "main")
        let armed = try agent.waitForEvent("partition.armed", after: bypassed.seq)
        #expect(armed.data["bypassed"] == ["hall_pir"])
        // A bypassed zone's faults are still recorded, but raise no alarm.
        try agent.ok("sim", "input", "in2", "active")
        let faulted = try agent.waitForEvent("zone.faulted", after: armed.seq)
        #expect(faulted.data["zone"] == "hall_pir")
        try agent.barrier(ms: 200)
        #expect(try agent.events().of("alarm.created").isEmpty, agent.note)
    }
}
