import Testing
@testable import BridgeCore

/// behaviour.md's zone table in every partition state; entry delay, followers, swinger (docs/behaviour-decisions.md).
@Suite struct EngineZoneTests {
    @Test func instantZoneAlarmsOnlyWhenArmed() {
        var rig = EngineRig()
        rig.settled()
        #expect(rig.flip("in3", true, at: T1) == [faulted("window")])
        _ = rig.flip("in3", false, at: T1 + 100)
        rig.armNow(at: T1 + 200)
        #expect(rig.flip("in3", true, at: T1 + 300) == [faulted("window"), alarm(1, "window")] + sirenOn())
        #expect(rig.partitionState() == "alarm")
    }

    @Test func instantZoneAlarmsInStay() {
        var rig = EngineRig()
        rig.settled()
        rig.armNow(.stay)
        #expect(records(rig.flip("in3", true, at: T1 + 100)) == [faulted("window"), alarm(1, "window"), sirenOn()[1]])
    }

    @Test func burglaryZonesDoNotAlarmDuringTheExitDelay() {
        var rig = EngineRig()
        rig.settled()
        _ = rig.submit(.arm(partition: "main", mode: .away, force: false), at: T1)
        #expect(rig.flip("in3", true, at: T1 + 1_000) == [faulted("window")])
        #expect(rig.flip("in1", true, at: T1 + 2_000) == [faulted("front_door")])
        #expect(rig.flip("in2", true, at: T1 + 3_000) == [faulted("hall_pir")])
        #expect(rig.partitionState() == "arming")
    }

    @Test func entryExitFaultAlarmsWhenTheEntryDelayRunsOut() {
        var rig = EngineRig()
        rig.settled()
        rig.armNow()
        #expect(rig.flip("in1", true, at: T1 + 1_000) == [faulted("front_door")])
        let fault = T1 + 1_050
        #expect(rig.entry("partitions", "main")?["entry_ends_at"] == .string(Timestamp.rfc3339(fault + 30_000)))
        #expect(rig.advance(fault + 29_999).isEmpty)
        #expect(rig.advance(fault + 30_000) == [alarm(1, "front_door")] + sirenOn())
        #expect(rig.partitionState() == "alarm")
    }

    @Test func disarmWithinTheEntryDelayPreventsTheAlarm() {
        var rig = EngineRig()
        rig.settled()
        rig.armNow()
        _ = rig.flip("in1", true, at: T1 + 1_000)
        let effects = rig.submit(.disarm(partition: "main"), at: T1 + 1_050 + 29_999)
        #expect(withoutCompletions(effects) == [rec(.partitionDisarmed, ["partition": "main", "source": "technician"])])
        #expect(rig.advance(T1 + 100_000).isEmpty)
    }

    @Test func entryExitZoneUsesTheEntryDelayInStayToo() {
        var rig = EngineRig()
        rig.settled()
        rig.armNow(.stay)
        #expect(rig.flip("in1", true, at: T1 + 1_000) == [faulted("front_door")])
        #expect(types(rig.advance(T1 + 1_050 + 30_000)) == [.alarmCreated, .relayActivated])
    }

    @Test func interiorFaultFollowsARunningEntryDelayThenAlarmsInFaultOrder() {
        var rig = EngineRig()
        rig.settled()
        rig.armNow()
        _ = rig.flip("in1", true, at: T1 + 1_000)
        #expect(rig.flip("in2", true, at: T1 + 5_000) == [faulted("hall_pir")])
        #expect(rig.advance(T1 + 1_050 + 30_000) == [alarm(1, "front_door")] + sirenOn() + [alarm(2, "hall_pir")])
    }

    @Test func aSecondEntryExitFaultJoinsTheRunningEntryDelay() {
        var rig = EngineRig(EngineFixture.site({ $0.zones[2].type = .entryExit }))
        rig.settled()
        rig.armNow()
        _ = rig.flip("in1", true, at: T1 + 1_000)
        #expect(rig.flip("in3", true, at: T1 + 10_000) == [faulted("window")])
        #expect(types(rig.advance(T1 + 1_050 + 29_999)).isEmpty)
        #expect(records(rig.advance(T1 + 1_050 + 30_000)) == [alarm(1, "front_door"), sirenOn()[1], alarm(2, "window")])
    }

    @Test func interiorFaultWithoutEntryDelayAlarmsAtOnceInAway() {
        var rig = EngineRig()
        rig.settled()
        rig.armNow()
        #expect(rig.flip("in2", true, at: T1 + 1_000) == [faulted("hall_pir"), alarm(1, "hall_pir")] + sirenOn())
    }

    @Test func interiorFaultIsIgnoredInStay() {
        var rig = EngineRig()
        rig.settled()
        rig.armNow(.stay)
        #expect(rig.flip("in2", true, at: T1 + 1_000) == [faulted("hall_pir")])
        #expect(rig.partitionState() == "armed_stay")
    }

    @Test func interiorFaultStaysIgnoredWhenAStayPartitionIsInAlarm() {
        var rig = EngineRig()
        rig.settled()
        rig.armNow(.stay)
        _ = rig.flip("in3", true, at: T1 + 100)
        #expect(rig.partitionState() == "alarm")
        #expect(rig.flip("in2", true, at: T1 + 200) == [faulted("hall_pir")])
    }

    @Test func zeroEntryDelayAlarmsAtOnce() {
        var rig = EngineRig(EngineFixture.site({ $0.editPartition("main") { $0.entryDelayS = 0 } }))
        rig.settled()
        rig.armNow()
        #expect(rig.flip("in1", true, at: T1 + 1_000) == [faulted("front_door"), alarm(1, "front_door")] + sirenOn())
    }

    @Test(arguments: [("tamper", "in4", "tamper"), ("smoke", "in5", "fire"), ("panic_btn", "in6", "panic")])
    func twentyFourHourZonesAlarmWhileDisarmedWithoutChangingThePartition(zone: String, input: String, kind: String) {
        var rig = EngineRig()
        rig.settled()
        #expect(rig.flip(input, true, at: T1) == [faulted(zone), alarm(1, zone, kind)] + sirenOn())
        #expect(rig.partitionState() == "disarmed")
    }

    @Test func fireWhileArmedPutsThePartitionInAlarm() {
        var rig = EngineRig()
        rig.settled()
        rig.armNow()
        #expect(rig.flip("in5", true, at: T1 + 100) == [faulted("smoke"), alarm(1, "smoke", "fire")] + sirenOn())
        #expect(rig.partitionState() == "alarm")
    }

    @Test func fireDuringTheExitDelayAlarmsButArmingContinues() {
        var rig = EngineRig()
        rig.settled()
        _ = rig.submit(.arm(partition: "main", mode: .away, force: false), at: T1)
        #expect(rig.flip("in5", true, at: T1 + 100) == [faulted("smoke"), alarm(1, "smoke", "fire")] + sirenOn())
        #expect(rig.partitionState() == "arming")
        #expect(types(rig.advance(T1 + 30_000)) == [.partitionArmed])
        #expect(rig.partitionState() == "armed_away")
    }

    @Test func monitorZoneNeverAlarms() {
        var rig = EngineRig()
        rig.settled()
        rig.armNow()
        #expect(rig.flip("in7", true, at: T1 + 100) == [faulted("water")])
        #expect(rig.flip("in7", false, at: T1 + 200) == [restored("water")])
    }

    @Test func bypassedZoneStillReportsButDoesNotAlarm() {
        var rig = EngineRig()
        rig.settled()
        _ = rig.submit(.bypass(zone: "window"), at: T1)
        rig.armNow(at: T1 + 10)
        #expect(rig.flip("in3", true, at: T1 + 100) == [faulted("window")])
        #expect(rig.flip("in3", false, at: T1 + 200) == [restored("window")])
    }

    @Test func swingerLimitStopsAlarmsButNotZoneEventsUntilTheNextArmingPeriod() {
        var rig = EngineRig()
        rig.settled()
        rig.armNow()
        var t = T1 + 1_000
        var alarms = 0
        for _ in 1...4 {
            let effects = rig.flip("in3", true, at: t) + rig.flip("in3", false, at: t + 100)
            #expect(types(effects).filter { $0 == .zoneFaulted }.count == 1)
            alarms += types(effects).filter { $0 == .alarmCreated }.count
            t += 1_000
        }
        #expect(alarms == 3)
        _ = rig.submit(.disarm(partition: "main"), at: t)
        rig.armNow(at: t + 10)
        #expect(records(rig.flip("in3", true, at: t + 100)) == [faulted("window"), alarm(4, "window"), sirenOn()[1]])
    }

    @Test func swingerCountsAlsoLimitTwentyFourHourZonesWhileDisarmed() {
        var rig = EngineRig(EngineFixture.site({ $0.zones[3].swingerLimit = 1 }))
        rig.settled()
        #expect(types(rig.flip("in4", true, at: T1)) == [.zoneFaulted, .alarmCreated, .relayActivated])
        _ = rig.flip("in4", false, at: T1 + 100)
        #expect(rig.flip("in4", true, at: T1 + 200) == [faulted("tamper")])
    }

    @Test func inAlarmFurtherFaultsAlarmAtOnceEvenEntryExit() {
        var rig = EngineRig()
        rig.settled()
        rig.armNow()
        _ = rig.flip("in3", true, at: T1 + 100)
        #expect(rig.flip("in1", true, at: T1 + 200) == [faulted("front_door"), alarm(2, "front_door")])
        #expect(rig.flip("in2", true, at: T1 + 300) == [faulted("hall_pir"), alarm(3, "hall_pir")])
    }

    @Test func aZoneWaitingOnTheEntryDelayThatAlarmsMeanwhileIsNotAlarmedTwice() {
        var rig = EngineRig()
        rig.settled()
        rig.armNow()
        _ = rig.flip("in1", true, at: T1 + 1_000)
        _ = rig.flip("in1", false, at: T1 + 2_000)
        _ = rig.flip("in3", true, at: T1 + 3_000)
        #expect(rig.flip("in1", true, at: T1 + 4_000) == [faulted("front_door"), alarm(2, "front_door")])
        #expect(rig.advance(T1 + 1_050 + 30_000).isEmpty)
    }

    @Test func zoneEventsComeBeforeTheAlarmTheyCause() {
        var rig = EngineRig()
        rig.settled()
        rig.armNow()
        let effects = rig.flip("in3", true, at: T1 + 100)
        #expect(types(effects).first == .zoneFaulted)
    }

    @Test func aZoneInTroubleRecordsNothing() {
        var rig = EngineRig()
        rig.settled()
        rig.armNow()
        for n in 0..<3 { _ = rig.device("io8", .failed(reason: "timeout"), at: T1 + 100 + Millis(n)) }
        #expect(rig.flip("io8.in1", true, at: T1 + 200).isEmpty)
        #expect(rig.entry("zones", "shed")?["trouble"] == true)
    }
}
