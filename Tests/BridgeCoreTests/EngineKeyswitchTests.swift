import Testing
@testable import BridgeCore

/// Keyswitch partitions: relay drive, confirmation, timeout, keypad changes (docs/behaviour-decisions.md).
@Suite struct EngineKeyswitchTests {
    let armGarage = Request.arm(partition: "garage", mode: .away, force: false)
    let disarmGarage = Request.disarm(partition: "garage")
    let command = Origin(source: .command, commandID: "cmd_ks")

    static func holdSite() -> Site {
        EngineFixture.site({ $0.editPartition("garage") { $0.keyswitch?.hold = true } })
    }

    func ksActivated(_ mode: String, _ ms: Int64? = 1000, source: String = "command", commandID: String? = "cmd_ks") -> Effect {
        var d: JSONObject = ["relay": "ks", "mode": .string(mode), "source": .string(source)]
        if let ms { d["duration_ms"] = .int(ms) }
        if let commandID { d["command_id"] = .string(commandID) }
        return rec(.relayActivated, d)
    }

    @Test func armPulsesTheKeyswitchAndSucceedsWhenThePanelConfirms() throws {
        var rig = EngineRig()
        rig.settled()
        let effects = rig.submit(armGarage, command, at: T1)
        #expect(effects == [output("out5", true), ksActivated("pulse")])
        #expect(rig.advance(T1 + 1_000) == relayOff("ks", "out5", "pulse_elapsed"))
        _ = rig.input("panel_armed", true, at: T1 + 3_000)
        let confirmed = rig.advance(T1 + 3_050)
        #expect(withoutCompletions(confirmed) == [rec(.partitionArmed, ["partition": "garage", "mode": "away", "source": "command",
                                                                        "command_id": "cmd_ks", "bypassed": []])])
        let r = try #require(result(confirmed))
        #expect(completions(confirmed).first?.ticket == 1)
        #expect(r.status == .succeeded)
        #expect(r.state == ["id": "garage", "state": "armed_away", "bypassed": [], "mode": "away"])
        #expect(rig.advance(T1 + 60_000).isEmpty)
    }

    @Test func armFailsNotConfirmedWhenThePanelDoesNotFollow() throws {
        var rig = EngineRig()
        rig.settled()
        _ = rig.submit(armGarage, command, at: T1)
        _ = rig.advance(T1 + 1_000)
        #expect(rig.advance(T1 + 9_999).isEmpty)
        let effects = rig.advance(T1 + 10_000)
        #expect(effects.count == 1)
        let r = try #require(result(effects))
        #expect(r.status == .failed)
        #expect(r.code == "not_confirmed")
        #expect(r.message == "the panel did not confirm arming within 10 s (input panel_armed stayed inactive)")
        #expect(rig.partitionState("garage") == "disarmed")
    }

    @Test func holdKeyswitchLatchesForArmAndIsPutBackOnTimeout() {
        var rig = EngineRig(Self.holdSite())
        rig.settled()
        #expect(rig.submit(armGarage, command, at: T1) == [output("out5", true), ksActivated("latch", nil)])
        let timeout = rig.advance(T1 + 10_000)
        #expect(withoutCompletions(timeout) == relayOff("ks", "out5", "command", commandID: "cmd_ks"))
        #expect(result(timeout)?.code == "not_confirmed")
    }

    @Test func holdKeyswitchReleasesForDisarmAndConfirmsOnInactive() throws {
        var rig = EngineRig(Self.holdSite())
        rig.settled()
        _ = rig.submit(armGarage, command, at: T1)
        _ = rig.flip("panel_armed", true, at: T1 + 500)
        #expect(rig.partitionState("garage") == "armed_away")
        #expect(rig.relayOn("ks") == true)
        let effects = rig.submit(disarmGarage, Origin.technician, at: T1 + 5_000)
        #expect(effects == relayOff("ks", "out5", "technician"))
        let confirmed = rig.flip("panel_armed", false, at: T1 + 5_500)
        #expect(withoutCompletions(confirmed) == [rec(.partitionDisarmed, ["partition": "garage", "source": "technician"])])
        #expect(result(confirmed)?.status == .succeeded)
    }

    @Test func holdDisarmTimeoutPutsTheRelayBackOn() {
        var rig = EngineRig(Self.holdSite())
        rig.settled()
        _ = rig.submit(armGarage, command, at: T1)
        _ = rig.flip("panel_armed", true, at: T1 + 500)
        _ = rig.submit(disarmGarage, command, at: T1 + 5_000)
        let timeout = rig.advance(T1 + 15_000)
        #expect(withoutCompletions(timeout) == [output("out5", true), ksActivated("latch", nil)])
        #expect(result(timeout)?.code == "not_confirmed")
        #expect(result(timeout)?.message == "the panel did not confirm disarming within 10 s (input panel_armed stayed active)")
        #expect(rig.partitionState("garage") == "armed_away")
    }

    @Test func keypadChangesAreReportedWithSourceKeyswitch() {
        var rig = EngineRig()
        rig.settled()
        #expect(rig.flip("panel_armed", true, at: T1) == [rec(.partitionArmed, ["partition": "garage", "mode": "away", "source": "keyswitch", "bypassed": []])])
        #expect(rig.partitionState("garage") == "armed_away")
        #expect(rig.flip("panel_armed", false, at: T1 + 1_000) == [rec(.partitionDisarmed, ["partition": "garage", "source": "keyswitch"])])
    }

    @Test func keypadDisarmHasTheDisarmSideEffects() {
        var rig = EngineRig()
        rig.settled()
        _ = rig.submit(.bypass(zone: "garage_door"), at: T1)
        _ = rig.flip("panel_armed", true, at: T1 + 100)
        #expect(rig.entry("partitions", "garage")?["bypassed"] == ["garage_door"])
        #expect(rig.flip("panel_armed", false, at: T1 + 1_000) == [
            rec(.partitionDisarmed, ["partition": "garage", "source": "keyswitch"]),
            rec(.zoneUnbypassed, ["zone": "garage_door", "partition": "garage", "source": "keyswitch"]),
        ])
    }

    @Test func aSecondRequestWhileOneIsPendingIsBusy() throws {
        var rig = EngineRig()
        rig.settled()
        _ = rig.submit(armGarage, command, at: T1)
        for request in [armGarage, disarmGarage] {
            let r = try #require(result(rig.submit(request, at: T1 + 10)))
            #expect(r.code == "busy")
            #expect(r.message == "partition garage is waiting for the panel to confirm an earlier arm")
        }
    }

    @Test func keyswitchRequestsAreBusyWhileInputsSettle() throws {
        var saved = PersistedState()
        saved.partitions["garage"] = .init(state: .armedAway, mode: .away)
        var rig = EngineRig(restored: saved)
        _ = rig.start(["panel_armed": true])
        for request in [armGarage, disarmGarage] {
            let effects = rig.submit(request, at: T0 + 10)
            #expect(effects.count == 1)
            #expect(result(effects)?.code == "busy")
            #expect(result(effects)?.message == "inputs are settling; try again in a moment")
        }
    }

    @Test func alreadyInTheAskedStateSucceedsWithoutTouchingTheRelay() {
        var rig = EngineRig()
        rig.settled()
        let disarm = rig.submit(disarmGarage, at: T1)
        #expect(disarm.count == 1)
        #expect(result(disarm)?.status == .succeeded)
        _ = rig.flip("panel_armed", true, at: T1 + 100)
        let arm = rig.submit(armGarage, at: T1 + 1_000)
        #expect(arm.count == 1)
        #expect(result(arm)?.message == "partition garage is already armed_away")
    }

    @Test func keyswitchArmChecksReadinessAndForceBypasses() throws {
        var rig = EngineRig()
        rig.settled(["in8": true])
        let refused = try #require(result(rig.submit(armGarage, at: T1)))
        #expect(refused.code == "zones_not_ready")
        #expect(refused.zones == ["garage_door"])
        let forced = rig.submit(.arm(partition: "garage", mode: .away, force: true), command, at: T1 + 10)
        #expect(forced == [rec(.zoneBypassed, ["zone": "garage_door", "partition": "garage", "source": "command", "command_id": "cmd_ks"]),
                           output("out5", true), ksActivated("pulse")])
        let confirmed = rig.flip("panel_armed", true, at: T1 + 500)
        #expect(data(confirmed, .partitionArmed).first?["bypassed"] == ["garage_door"])
    }

    @Test func keyswitchArmFailsWhenThePanelInputIsUnreadable() throws {
        var rig = EngineRig()
        rig.settled(["panel_armed": nil as Bool?])
        let effects = rig.submit(armGarage, at: T1)
        #expect(effects.count == 1)
        let r = try #require(result(effects))
        #expect(r.code == "hardware_error")
        #expect(r.message == "the panel's armed-status input panel_armed gives no level (input panel_armed unreadable)")
    }

    @Test func zonesOfAKeyswitchPartitionFollowItsMirroredStateAfterTheExitGrace() {
        var rig = EngineRig()
        rig.settled()
        #expect(rig.flip("in8", true, at: T1) == [faulted("garage_door")])
        _ = rig.flip("in8", false, at: T1 + 100)
        // Armed at the keypad (confirmed at T1 + 250): the panel runs its exit delay and people walk out,
        // so for exit_delay_s (30 s) the bridge ignores the partition's instant/entry/interior zones.
        _ = rig.flip("panel_armed", true, at: T1 + 200)
        #expect(rig.partitionState("garage") == "armed_away")
        #expect(rig.flip("in8", true, at: T1 + 300) == [faulted("garage_door")])
        #expect(rig.advance(T1 + 250 + 29_999).isEmpty)
        // Still faulted when the grace ends: it counts now, as at the end of any exit delay.
        #expect(rig.advance(T1 + 250 + 30_000) == [alarm(1, "garage_door")])
        #expect(rig.partitionState("garage") == "alarm")
    }

    @Test func aKeyswitchArmedByAPlatformCommandUsesTheRemoteExitDelay() {
        var rig = EngineRig()
        rig.settled()
        _ = rig.submit(armGarage, command, at: T1)
        _ = rig.advance(T1 + 1_000)
        _ = rig.input("panel_armed", true, at: T1 + 3_000)
        _ = rig.advance(T1 + 3_050)
        // remote_exit_delay_s is 0: no grace, a fault alarms at once.
        #expect(rig.flip("in8", true, at: T1 + 4_000) == [faulted("garage_door"), alarm(1, "garage_door")])
    }

    @Test func fireZonesAreNeverGraced() {
        var rig = EngineRig(EngineFixture.site({ config in
            config.zones.append(.init(id: "garage_smoke", input: "in9", partition: "garage", type: .fire))
        }, board: { board in
            board.inputs.append(.init(id: "in9", source: .gpio(.init(chip: "header", line: .name("GPIO9"))), debounceMs: 50))
        }))
        rig.settled()
        _ = rig.flip("panel_armed", true, at: T1)
        let effects = rig.flip("in9", true, at: T1 + 100)
        #expect(types(effects).contains(.alarmCreated))
    }

    @Test func aPanelArmedWhileTheAgentWasStoppedIsReportedAfterSettling() {
        var rig = EngineRig()
        _ = rig.start(["panel_armed": true])
        #expect(rig.advance(T0 + 50) == [rec(.partitionArmed, ["partition": "garage", "mode": "away", "source": "keyswitch", "bypassed": []])])
    }
}
