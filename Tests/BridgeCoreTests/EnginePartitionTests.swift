import Testing
@testable import BridgeCore

/// Arming, readiness, force, disarm, bypass and the siren (docs/behaviour-decisions.md).
@Suite struct EnginePartitionTests {
    let arm = Request.arm(partition: "main", mode: .away, force: false)
    let forceArm = Request.arm(partition: "main", mode: .away, force: true)
    let command = Origin(source: .command, commandID: "cmd_1")

    @Test func localArmSucceedsWhenArmingStartsAndRecordsArmedWhenTheExitDelayEnds() throws {
        var rig = EngineRig()
        rig.settled()
        let effects = rig.submit(arm, at: T1)
        #expect(effects.count == 1)
        let r = try #require(result(effects))
        #expect(r.status == .succeeded)
        #expect(r.message == "partition main arming away, exit delay 30 s")
        #expect(r.state == ["id": "main", "state": "arming", "bypassed": [], "mode": "away",
                            "exit_ends_at": .string(Timestamp.rfc3339(T1 + 30_000))])
        #expect(rig.advance(T1 + 29_999).isEmpty)
        #expect(rig.advance(T1 + 30_000) == [rec(.partitionArmed, ["partition": "main", "mode": "away", "source": "technician", "bypassed": []])])
        #expect(rig.partitionState() == "armed_away")
    }

    @Test func platformArmUsesTheRemoteExitDelay() throws {
        var rig = EngineRig(EngineFixture.site({ $0.editPartition("main") { $0.remoteExitDelayS = 5 } }))
        rig.settled()
        let effects = rig.submit(arm, command, at: T1)
        #expect(withoutCompletions(effects).isEmpty)
        #expect(rig.engine.nextDeadline == T1 + 5_000)
        #expect(rig.advance(T1 + 5_000) == [rec(.partitionArmed, ["partition": "main", "mode": "away", "source": "command",
                                                                 "command_id": "cmd_1", "bypassed": []])])
    }

    @Test func zeroExitDelayArmsInTheSameCall() throws {
        var rig = EngineRig()
        rig.settled()
        let effects = rig.submit(.arm(partition: "main", mode: .stay, force: false), command, at: T1)
        #expect(withoutCompletions(effects) == [rec(.partitionArmed, ["partition": "main", "mode": "stay", "source": "command",
                                                                      "command_id": "cmd_1", "bypassed": []])])
        let r = try #require(result(effects))
        #expect(r.state?["state"] == "armed_stay")
        #expect(r.message == "partition main armed stay")
    }

    @Test func armingInTheSameModeAgainSucceedsWithoutEvents() throws {
        var rig = EngineRig()
        rig.settled()
        rig.armNow()
        let effects = rig.submit(arm, at: T1 + 10)
        #expect(effects.count == 1)
        #expect(result(effects)?.status == .succeeded)
        #expect(result(effects)?.message == "partition main is already armed_away")
    }

    @Test(arguments: [
        (Request.arm(partition: "main", mode: .stay, force: false), "partition main is armed_away; disarm first"),
    ])
    func armingInAnotherModeIsBusy(request: Request, message: String) throws {
        var rig = EngineRig()
        rig.settled()
        rig.armNow()
        let r = try #require(result(rig.submit(request, at: T1 + 10)))
        #expect(r.status == .failed)
        #expect(r.code == "busy")
        #expect(r.message == message)
    }

    @Test func armingWhileArmingOrInAlarmIsBusy() throws {
        var rig = EngineRig()
        rig.settled()
        _ = rig.submit(arm, at: T1)
        #expect(result(rig.submit(arm, at: T1 + 10))?.message == "partition main is arming; disarm first")
        _ = rig.advance(T1 + 30_000)
        _ = rig.flip("in3", true, at: T1 + 31_000)
        let r = try #require(result(rig.submit(arm, at: T1 + 32_000)))
        #expect(r.code == "busy")
        #expect(r.message == "partition main is alarm; disarm first")
    }

    @Test func zonesNotReadyListsFaultedAndTroubleZones() throws {
        var rig = EngineRig()
        rig.settled(["in3": true])
        for n in 0..<3 { _ = rig.device("io8", .failed(reason: "timeout"), at: T1 + Millis(n)) }
        let effects = rig.submit(arm, at: T1 + 100)
        #expect(withoutCompletions(effects).isEmpty)
        let r = try #require(result(effects))
        #expect(r.status == .failed)
        #expect(r.code == "zones_not_ready")
        #expect(r.zones == ["window", "shed"])
        #expect(r.message == "zones not ready: window (faulted), shed (trouble: device io8 offline)")
        #expect(r.state?["state"] == "disarmed")
    }

    @Test func stayIgnoresInteriorZonesAndMonitorZonesNeverBlock() throws {
        var rig = EngineRig()
        rig.settled(["in2": true, "in7": true])
        #expect(result(rig.submit(arm, at: T1))?.zones == ["hall_pir"])
        #expect(result(rig.submit(.arm(partition: "main", mode: .stay, force: false), at: T1 + 1))?.status == .succeeded)
    }

    @Test func forceBypassesNotReadyZonesFirstAndSaysSo() throws {
        var rig = EngineRig()
        rig.settled(["in2": true, "in3": true])
        let effects = rig.submit(forceArm, command, at: T1)
        #expect(withoutCompletions(effects) == [
            rec(.zoneBypassed, ["zone": "hall_pir", "partition": "main", "source": "command", "command_id": "cmd_1"]),
            rec(.zoneBypassed, ["zone": "window", "partition": "main", "source": "command", "command_id": "cmd_1"]),
            rec(.partitionArmed, ["partition": "main", "mode": "away", "source": "command", "command_id": "cmd_1",
                                  "bypassed": ["hall_pir", "window"]]),
        ])
        let r = try #require(result(effects))
        #expect(r.message == "bypassed hall_pir, window; partition main armed away")
        #expect(r.state?["bypassed"] == ["hall_pir", "window"])
    }

    @Test func forceFailsWithoutBypassingAnythingWhenANonBypassableZoneIsNotReady() throws {
        var rig = EngineRig()
        rig.settled(["in3": true, "in5": true])
        let effects = rig.submit(forceArm, at: T1)
        #expect(withoutCompletions(effects).isEmpty)
        let r = try #require(result(effects))
        #expect(r.code == "zones_not_ready")
        #expect(r.zones == ["smoke"])
        #expect(r.message == "zones not ready: smoke (faulted, not bypassable)")
        #expect(rig.entry("zones", "window")?["bypassed"] == false)
    }

    @Test func exitDelayEndWithAFaultedEntryExitZoneStartsTheEntryDelay() {
        var rig = EngineRig()
        rig.settled()
        _ = rig.submit(arm, at: T1)
        _ = rig.flip("in1", true, at: T1 + 20_000)
        let end = T1 + 30_000
        #expect(rig.advance(end) == [rec(.partitionArmed, ["partition": "main", "mode": "away", "source": "technician", "bypassed": []])])
        #expect(rig.engine.nextDeadline == end + 30_000)
        #expect(rig.advance(end + 30_000) == [alarm(1, "front_door")] + sirenOn())
    }

    @Test func exitDelayEndEvaluatesEntryExitZonesFirstSoInteriorZonesFollow() {
        var rig = EngineRig()
        rig.settled()
        _ = rig.submit(arm, at: T1)
        _ = rig.flip("in2", true, at: T1 + 10_000)
        _ = rig.flip("in3", true, at: T1 + 11_000)
        _ = rig.flip("in1", true, at: T1 + 12_000)
        let end = T1 + 30_000
        #expect(rig.advance(end) == [rec(.partitionArmed, ["partition": "main", "mode": "away", "source": "technician", "bypassed": []]),
                                     alarm(1, "window")] + sirenOn())
        #expect(rig.advance(end + 30_000) == [alarm(2, "front_door"), alarm(3, "hall_pir")])
    }

    @Test func exitDelayEndWithAZoneThatRestoredInTimeRaisesNothing() {
        var rig = EngineRig()
        rig.settled()
        _ = rig.submit(arm, at: T1)
        _ = rig.flip("in1", true, at: T1 + 1_000)
        _ = rig.flip("in1", false, at: T1 + 5_000)
        #expect(types(rig.advance(T1 + 100_000)) == [.partitionArmed])
    }

    @Test func disarmRecordsDisarmedSilencesTheSirenAndClearsBypasses() throws {
        var rig = EngineRig()
        rig.settled()
        _ = rig.submit(.bypass(zone: "hall_pir"), at: T1)
        rig.armNow(at: T1 + 10)
        _ = rig.flip("in3", true, at: T1 + 100)
        let effects = rig.submit(.disarm(partition: "main"), command, at: T1 + 5_000)
        #expect(withoutCompletions(effects) == [
            rec(.partitionDisarmed, ["partition": "main", "source": "command", "command_id": "cmd_1"]),
        ] + relayOff("siren", "out2", "command", commandID: "cmd_1") + [
            rec(.zoneUnbypassed, ["zone": "hall_pir", "partition": "main", "source": "command", "command_id": "cmd_1"]),
        ])
        let r = try #require(result(effects))
        #expect(r.status == .succeeded)
        #expect(r.state == ["id": "main", "state": "disarmed", "bypassed": []])
        #expect(rig.relayOn("siren") == false)
    }

    @Test func disarmDuringTheExitDelayCancelsIt() {
        var rig = EngineRig()
        rig.settled()
        _ = rig.submit(arm, at: T1)
        #expect(withoutCompletions(rig.submit(.disarm(partition: "main"), at: T1 + 1_000))
                == [rec(.partitionDisarmed, ["partition": "main", "source": "technician"])])
        #expect(rig.engine.nextDeadline == nil)
        #expect(rig.advance(T1 + 60_000).isEmpty)
    }

    @Test func disarmOfADisarmedPartitionRecordsNothingButSilencesItsSiren() throws {
        var rig = EngineRig()
        rig.settled()
        _ = rig.flip("in5", true, at: T1)
        let effects = rig.submit(.disarm(partition: "main"), at: T1 + 1_000)
        #expect(withoutCompletions(effects) == relayOff("siren", "out2", "technician"))
        #expect(result(effects)?.message == "partition main was already disarmed")
        #expect(withoutCompletions(rig.submit(.disarm(partition: "main"), at: T1 + 2_000)).isEmpty)
    }

    @Test func sirenTimesOutButThePartitionStaysInAlarmUntilDisarm() {
        var rig = EngineRig()
        rig.settled()
        rig.armNow()
        _ = rig.flip("in3", true, at: T1 + 100)
        let on = T1 + 150
        #expect(rig.entry("relays", "siren")?["until"] == .string(Timestamp.rfc3339(on + 240_000)))
        #expect(rig.advance(on + 239_999).isEmpty)
        #expect(rig.advance(on + 240_000) == relayOff("siren", "out2", "pulse_elapsed"))
        #expect(rig.partitionState() == "alarm")
        #expect(withoutCompletions(rig.submit(.disarm(partition: "main"), at: on + 300_000))
                == [rec(.partitionDisarmed, ["partition": "main", "source": "technician"])])
    }

    @Test func sirenBoundedByMaxOnIsReleasedWithReasonMaxOn() {
        var rig = EngineRig(EngineFixture.site({ $0.editRelay("siren") { $0.maxOnMs = 60_000 } }))
        rig.settled()
        rig.armNow()
        #expect(rig.flip("in3", true, at: T1 + 100) == [faulted("window"), alarm(1, "window")] + sirenOn(60_000))
        #expect(rig.advance(T1 + 150 + 60_000) == relayOff("siren", "out2", "max_on"))
    }

    @Test func aSecondAlarmDoesNotRestartTheSiren() {
        var rig = EngineRig()
        rig.settled()
        rig.armNow()
        _ = rig.flip("in3", true, at: T1 + 100)
        #expect(rig.flip("in2", true, at: T1 + 10_000) == [faulted("hall_pir"), alarm(2, "hall_pir")])
        #expect(rig.engine.nextDeadline == T1 + 150 + 240_000)
    }

    @Test func bypassAndUnbypassInAnyStateWithEvents() throws {
        var rig = EngineRig()
        rig.settled()
        rig.armNow()
        let bypass = rig.submit(.bypass(zone: "window"), command, at: T1 + 10)
        #expect(withoutCompletions(bypass) == [rec(.zoneBypassed, ["zone": "window", "partition": "main", "source": "command", "command_id": "cmd_1"])])
        #expect(result(bypass)?.state == ["id": "window", "partition": "main", "state": "normal", "bypassed": true,
                                          "type": "instant", "input": "in3", "trouble": false])
        #expect(rig.entry("partitions", "main")?["bypassed"] == ["window"])
        let again = rig.submit(.bypass(zone: "window"), at: T1 + 20)
        #expect(again.count == 1)
        #expect(result(again)?.status == .succeeded)
        #expect(withoutCompletions(rig.submit(.unbypass(zone: "window"), at: T1 + 30))
                == [rec(.zoneUnbypassed, ["zone": "window", "partition": "main", "source": "technician"])])
        let unbypassAgain = rig.submit(.unbypass(zone: "window"), at: T1 + 40)
        #expect(unbypassAgain.count == 1)
        #expect(result(unbypassAgain)?.message == "zone window is already not bypassed")
    }

    @Test func bypassingANonBypassableZoneIsRejected() throws {
        var rig = EngineRig()
        rig.settled()
        let effects = rig.submit(.bypass(zone: "smoke"), at: T1)
        #expect(effects.count == 1)
        let r = try #require(result(effects))
        #expect(r.status == .rejected)
        #expect(r.code == "not_bypassable")
        #expect(r.message == "zone smoke (fire) is not bypassable")
    }

    @Test func unbypassingAFaultedZoneWhileArmedDoesNotAlarmOnlyANewFaultDoes() {
        var rig = EngineRig()
        rig.settled(["in3": true])
        _ = rig.submit(forceArm, command, at: T1)
        #expect(withoutCompletions(rig.submit(.unbypass(zone: "window"), at: T1 + 10))
                == [rec(.zoneUnbypassed, ["zone": "window", "partition": "main", "source": "technician"])])
        #expect(rig.flip("in3", false, at: T1 + 100) == [restored("window")])
        #expect(records(rig.flip("in3", true, at: T1 + 200)) == [faulted("window"), alarm(1, "window"), sirenOn()[1]])
    }

    @Test func aSharedSirenStaysOnWhileAnotherPartitionIsInAlarm() {
        let site = EngineFixture.site({
            $0.editPartition("garage") { $0.keyswitch = nil; $0.siren = .init(relay: "siren", timeoutS: 240) }
        })
        var rig = EngineRig(site)
        rig.settled()
        _ = rig.submit(.arm(partition: "garage", mode: .away, force: false), Origin(source: .command), at: T1)
        _ = rig.flip("in8", true, at: T1 + 100)
        #expect(rig.partitionState("garage") == "alarm")
        #expect(withoutCompletions(rig.submit(.disarm(partition: "main"), at: T1 + 200)).isEmpty)
        #expect(rig.relayOn("siren") == true)
        #expect(withoutCompletions(rig.submit(.disarm(partition: "garage"), at: T1 + 300))
                == [rec(.partitionDisarmed, ["partition": "garage", "source": "technician"])] + relayOff("siren", "out2", "technician"))
    }
}
