import Foundation
import Testing
@testable import BridgeCore

/// power_on, restored deadlines, persisted state, shutdown and the restored summary (docs/behaviour-decisions.md).
@Suite struct EngineStartupTests {
    /// The fixture plus `light` (out6): power_on on, safe_state on.
    static func siteWithLight(_ edit: @escaping (inout SiteConfig.Relay) -> Void = { _ in }) -> Site {
        EngineFixture.site({ config in
            var light = SiteConfig.Relay(id: "light", output: "out6", maxOnMs: 3_600_000, powerOn: .on, safeState: .on)
            edit(&light)
            config.relays.append(light)
        })
    }

    static func roundTrip(_ state: PersistedState) throws -> PersistedState {
        try JSONDecoder().decode(PersistedState.self, from: JSONEncoder().encode(state))
    }

    @Test func powerOnOffKeepsARelayOffThatAStopAlreadyReleased() {
        var saved = PersistedState()
        saved.relays["gate_open"] = .init()
        saved.stoppedCleanly = true  // its relay.deactivated (shutdown) was recorded by the stop
        var rig = EngineRig(restored: saved)
        #expect(rig.engine.initialOutputs(now: T0)["out3"] == false)
        #expect(rig.start().isEmpty)
        #expect(rig.relayOn("gate_open") == false)
    }

    /// After `kill -9` or a power cut the journal's last word on a relay that was on is `relay.activated`.
    @Test(arguments: [(PersistedState.Relay(), "shutdown"),
                      (PersistedState.Relay(pulseUntil: T0 + 10_000), "shutdown"),
                      (PersistedState.Relay(pulseUntil: T0 - 1), "pulse_elapsed"),
                      (PersistedState.Relay(maxOnUntil: T0 - 1), "max_on")])
    func powerOnOffRecordsTheReleaseOfARelayThatWasOnWhenTheAgentDied(saved relay: PersistedState.Relay, reason: String) {
        var saved = PersistedState()
        saved.relays["gate_open"] = relay
        var rig = EngineRig(restored: saved)
        #expect(rig.engine.initialOutputs(now: T0)["out3"] == false)
        #expect(rig.relayOn("gate_open") == false)
        #expect(rig.start() == relayOff("gate_open", "out3", reason))
        #expect(rig.relayOn("gate_open") == false)
    }

    @Test func powerOnOnComesUpOnAndIsRecordedAtStart() {
        var rig = EngineRig(Self.siteWithLight())
        #expect(rig.engine.initialOutputs(now: T0)["out6"] == true)
        #expect(rig.start() == [output("out6", true), rec(.relayActivated, ["relay": "light", "mode": "latch", "source": "startup"])])
        #expect(rig.engine.nextDeadline == T0 + 50)
        _ = rig.advance(T0 + 50)
        #expect(rig.engine.nextDeadline == T0 + 3_600_000)
    }

    @Test func beforeStartTheStateShowsRestoredRelaysButNotPowerOnOnesYet() {
        var saved = PersistedState()
        saved.relays["pump"] = .init(pulseUntil: T0 + 5_000)
        let rig = EngineRig(Self.siteWithLight(), restored: saved)
        #expect(rig.relayOn("light") == false)
        #expect(rig.relayOn("pump") == true)
        #expect(rig.engine.persistedState.relays == ["pump": .init(pulseUntil: T0 + 5_000)])
    }

    @Test func powerOnOnThatWasAlreadyOnKeepsItsSavedDeadline() {
        var saved = PersistedState()
        saved.relays["light"] = .init(maxOnUntil: T0 + 5_000)
        var rig = EngineRig(Self.siteWithLight(), restored: saved)
        #expect(rig.engine.initialOutputs(now: T0)["out6"] == true)
        #expect(rig.start().isEmpty)
        _ = rig.advance(T0 + 50)
        #expect(rig.advance(T0 + 5_000) == relayOff("light", "out6", "max_on"))
    }

    @Test func restoreBringsARelayBackWithItsOriginalDeadline() {
        var saved = PersistedState()
        saved.relays["pump"] = .init(pulseUntil: T0 + 5_000)
        var rig = EngineRig(restored: saved)
        #expect(rig.engine.initialOutputs(now: T0)["io8.out1"] == true)
        #expect(rig.start().isEmpty)
        #expect(rig.relayOn("pump") == true)
        _ = rig.advance(T0 + 50)
        #expect(rig.advance(T0 + 4_999).isEmpty)
        #expect(rig.advance(T0 + 5_000) == relayOff("pump", "io8.out1", "pulse_elapsed"))
    }

    @Test(arguments: [(PersistedState.Relay(pulseUntil: T0 - 1), "pulse_elapsed"),
                      (PersistedState.Relay(pulseUntil: T0 + 10_000, maxOnUntil: T0), "max_on")])
    func aRestoredRelayWhoseDeadlinePassedComesUpOffAndIsRecorded(saved relay: PersistedState.Relay, reason: String) {
        var saved = PersistedState()
        saved.relays["pump"] = relay
        var rig = EngineRig(restored: saved)
        #expect(rig.engine.initialOutputs(now: T0)["io8.out1"] == false)
        #expect(rig.start() == relayOff("pump", "io8.out1", reason))
        #expect(rig.relayOn("pump") == false)
    }

    @Test func onlyTheFirstRelayOfAnInterlockGroupComesUp() {
        let site = EngineFixture.site({ config in
            config.editRelay("gate_open") { $0.powerOn = .restore }
            config.editRelay("gate_close") { $0.powerOn = .restore }
        })
        var saved = PersistedState()
        saved.relays["gate_open"] = .init()
        saved.relays["gate_close"] = .init()
        var rig = EngineRig(site, restored: saved)
        let levels = rig.engine.initialOutputs(now: T0)
        #expect(levels["out3"] == true)
        #expect(levels["out4"] == false)
        #expect(rig.start() == [output("out4", false), rec(.relayDeactivated, ["relay": "gate_close", "reason": "command", "interlock": "gate_open"])])
    }

    @Test func aPartitionRestoredInAlarmComesUpWithItsSirenOn() {
        var saved = PersistedState()
        saved.partitions["main"] = .init(state: .alarm, mode: .away)
        saved.relays["siren"] = .init(pulseUntil: T0 + 100_000, maxOnUntil: T0 + 400_000)
        var rig = EngineRig(restored: saved)
        #expect(rig.engine.initialOutputs(now: T0)["out2"] == true)
        #expect(rig.start().isEmpty)
        #expect(rig.partitionState() == "alarm")
        _ = rig.advance(T0 + 50)
        #expect(rig.advance(T0 + 100_000) == relayOff("siren", "out2", "pulse_elapsed"))
        #expect(rig.partitionState() == "alarm")
    }

    @Test func aSirenWhosePartitionIsNotInAlarmFollowsPowerOn() {
        var saved = PersistedState()
        saved.relays["siren"] = .init(pulseUntil: T0 + 100_000)
        let rig = EngineRig(restored: saved)
        #expect(rig.engine.initialOutputs(now: T0)["out2"] == false)
    }

    @Test func anExitDelayThatEndedWhileStoppedCompletesAtStart() {
        var saved = PersistedState()
        saved.partitions["main"] = .init(state: .arming, mode: .stay, exitEndsAt: T0 - 5_000, armSource: .command, armCommandID: "cmd_9")
        var rig = EngineRig(restored: saved)
        #expect(rig.start() == [rec(.partitionArmed, ["partition": "main", "mode": "stay", "source": "command", "command_id": "cmd_9", "bypassed": []])])
        #expect(rig.partitionState() == "armed_stay")
    }

    /// A snapshot from a far-future clock (or a hand-edited one) must not keep a relay on past max_on_ms, or hold a
    /// partition arming for centuries: saved deadlines are kept but never later than a full period from the start.
    @Test func savedDeadlinesFarAheadEndNoLaterThanAFullPeriodFromTheStart() {
        var saved = PersistedState()
        saved.relays["pump"] = .init(pulseUntil: 20_000_000_000_000_000)
        saved.partitions["main"] = .init(state: .arming, mode: .away, exitEndsAt: .max, armSource: .technician)
        var rig = EngineRig(restored: saved)
        _ = rig.start()
        _ = rig.advance(T0 + 50)
        #expect(rig.engine.nextDeadline == T0 + 30_000, "the exit delay, 30 s from the start")
        #expect(types(rig.advance(T0 + 30_000)) == [.partitionArmed])
        #expect(rig.engine.nextDeadline == T0 + 86_400_000, "the pump, with no max_on_ms: the longest pulse")
        #expect(rig.advance(T0 + 86_400_000) == relayOff("pump", "io8.out1", "pulse_elapsed"))
    }

    @Test func anExitDelayStillRunningEndsAtItsSavedTime() {
        var saved = PersistedState()
        saved.partitions["main"] = .init(state: .arming, mode: .away, exitEndsAt: T0 + 10_000, armSource: .technician)
        var rig = EngineRig(restored: saved)
        _ = rig.start()
        _ = rig.advance(T0 + 50)
        #expect(rig.engine.nextDeadline == T0 + 10_000)
        #expect(types(rig.advance(T0 + 10_000)) == [.partitionArmed])
    }

    @Test func anEntryDelayThatEndedWhileStoppedAlarmsAtStart() {
        var saved = PersistedState()
        saved.partitions["main"] = .init(state: .armedAway, mode: .away, entryEndsAt: T0 - 1, entryZones: ["front_door", "hall_pir"])
        saved.zones["front_door"] = .init(faulted: true, bypassed: false)
        var rig = EngineRig(restored: saved)
        #expect(rig.start(["in1": true]) == [alarm(1, "front_door")] + sirenOn() + [alarm(2, "hall_pir")])
        #expect(rig.partitionState() == "alarm")
        #expect(rig.engine.nextDeadline == T0 + 50)
    }

    @Test func anArmedPartitionSurvivesARestartThroughJSON() throws {
        var rig = EngineRig()
        rig.settled(["in3": true])
        _ = rig.submit(.arm(partition: "main", mode: .away, force: true), Origin(source: .command, commandID: "cmd_1"), at: T1)
        _ = rig.flip("in1", true, at: T1 + 1_000)
        _ = rig.device("io8", .ok, at: T1 + 2_000)
        let before = rig.engine.persistedState
        #expect(before.partitions["main"] == .init(state: .armedAway, mode: .away, entryEndsAt: T1 + 1_050 + 30_000, entryZones: ["front_door"]))
        #expect(before.zones["window"] == .init(faulted: true, bypassed: true))
        #expect(before.devices["io8"] == .init(online: true, lastSeen: T1 + 2_000))

        let decoded = try Self.roundTrip(before)
        #expect(decoded == before)
        var restarted = EngineRig(restored: decoded)
        #expect(restarted.engine.persistedState == before)
        #expect(restarted.start(["in1": true, "in3": true], at: T1 + 2_500).isEmpty)
        #expect(restarted.advance(T1 + 3_000).isEmpty)
        #expect(restarted.partitionState() == "armed_away")
        #expect(restarted.entry("partitions", "main")?["bypassed"] == ["window"])
        // The entry delay started before the restart still runs to its original end.
        #expect(restarted.advance(T1 + 1_050 + 30_000) == [alarm(1, "front_door")] + sirenOn())
    }

    @Test func snapshotJSONUsesSnakeCaseKeysAndAVersion() throws {
        var state = PersistedState()
        state.partitions["main"] = .init(state: .arming, mode: .away, exitEndsAt: 5, armSource: .technician)
        state.relays["siren"] = .init(pulseUntil: 7, maxOnUntil: 9)
        state.devices["io8"] = .init(online: false, lastSeen: nil)
        let json = try JSONValue.decode(Array(JSONEncoder().encode(state)))
        #expect(json["version"] == 1)
        #expect(json["partitions"]?["main"] == ["state": "arming", "mode": "away", "exit_ends_at": 5, "arm_source": "technician"])
        #expect(json["relays"]?["siren"] == ["pulse_until": 7, "max_on_until": 9])
        #expect(json["devices"]?["io8"]?["online"] == false)
        #expect(json["stopped_cleanly"] == nil, "written only by a clean stop")
        state.stoppedCleanly = true
        #expect(try JSONValue.decode(Array(JSONEncoder().encode(state)))["stopped_cleanly"] == true)
        #expect(try Self.roundTrip(state).stoppedCleanly)
    }

    @Test func aSnapshotFromANewerAgentDoesNotDecode() {
        let text = #"{"version": 2, "partitions": {}, "zones": {}, "relays": {}, "devices": {}}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(PersistedState.self, from: Data(text.utf8)) }
    }

    @Test func shutdownPutsEveryRelayInItsSafeStateAndKeepsTheStateBeforeForRestore() {
        var rig = EngineRig(Self.siteWithLight())
        _ = rig.start()
        _ = rig.advance(T0 + 50)
        _ = rig.submit(.relayActivate(relay: "light", durationMs: nil), at: T1)
        _ = rig.submit(.relayDeactivate(relay: "light"), at: T1 + 1)
        _ = rig.submit(.relayActivate(relay: "pump", durationMs: 60_000), at: T1 + 2)
        _ = rig.submit(.relayActivate(relay: "gate_open", durationMs: nil), at: T1 + 3)
        let effects = rig.engine.shutdown(now: T1 + 10)
        #expect(effects == relayOff("gate_open", "out3", "shutdown") + relayOff("pump", "io8.out1", "shutdown") + [
            output("out6", true), rec(.relayActivated, ["relay": "light", "mode": "latch", "source": "rule"]),
        ])
        let saved = rig.engine.persistedState
        #expect(saved.relays == ["pump": .init(pulseUntil: T1 + 2 + 60_000), "gate_open": .init()])
        #expect(saved.stoppedCleanly)
        #expect(rig.engine.shutdown(now: T1 + 20).isEmpty)

        // The next start: the relays the stop released come up off without a second event; `light` follows power_on.
        var next = EngineRig(Self.siteWithLight(), restored: try? Self.roundTrip(saved))
        #expect(next.start() == [output("out6", true), rec(.relayActivated, ["relay": "light", "mode": "latch", "source": "startup"])])
        #expect(next.engine.persistedState.stoppedCleanly == false)
    }

    @Test func shutdownCompletesRequestsStillWaiting() {
        var rig = EngineRig()
        rig.settled()
        _ = rig.submit(.relayActivate(relay: "gate_open", durationMs: nil), at: T1)
        _ = rig.submit(.relayActivate(relay: "gate_close", durationMs: nil), at: T1 + 1)
        _ = rig.submit(.arm(partition: "garage", mode: .away, force: false), at: T1 + 2)
        let done = completions(rig.engine.shutdown(now: T1 + 3))
        #expect(done.map(\.ticket) == [2, 3])
        #expect(done.map(\.result.code) == ["busy", "not_confirmed"])
    }

    @Test func restoredSummarySaysWhatCameBack() {
        #expect(EngineRig().engine.restoredSummary == ["snapshot": false])
        var saved = PersistedState()
        saved.partitions["main"] = .init(state: .armedAway, mode: .away)
        saved.zones["hall_pir"] = .init(faulted: false, bypassed: true)
        saved.relays["pump"] = .init()
        saved.relays["siren"] = .init()
        saved.relays["door_strike"] = .init(pulseUntil: T0 + 1)
        var rig = EngineRig(Self.siteWithLight { $0.powerOn = .on }, restored: saved)
        let expected: JSONValue = ["snapshot": true, "partitions": ["main": "armed_away", "garage": "disarmed"],
                                   "relays_on": ["pump"], "bypassed": ["hall_pir"]]
        #expect(rig.engine.restoredSummary == expected)
        _ = rig.start(at: T0 + 10)
        #expect(rig.engine.restoredSummary == expected)
    }
}
