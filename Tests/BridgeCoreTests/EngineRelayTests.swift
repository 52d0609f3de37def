import Testing
@testable import BridgeCore

/// Latch, pulse, max_on, re-activation, deactivation and interlock (docs/behaviour-decisions.md).
@Suite struct EngineRelayTests {
    let command = Origin(source: .command, commandID: "cmd_7")

    func activated(_ relay: String, _ mode: String, _ ms: Int64? = nil, source: String = "technician", commandID: String? = nil) -> Effect {
        var d: JSONObject = ["relay": .string(relay), "mode": .string(mode), "source": .string(source)]
        if let ms { d["duration_ms"] = .int(ms) }
        if let commandID { d["command_id"] = .string(commandID) }
        return rec(.relayActivated, d)
    }

    @Test func pulseRelayActivatesForItsPulseAndEndsWithPulseElapsed() throws {
        var rig = EngineRig()
        rig.settled()
        let effects = rig.submit(.relayActivate(relay: "door_strike", durationMs: nil), command, at: T1)
        #expect(withoutCompletions(effects) == [output("out1", true), activated("door_strike", "pulse", 3000, source: "command", commandID: "cmd_7")])
        let r = try #require(result(effects))
        #expect(r.status == .succeeded)
        #expect(r.state == ["id": "door_strike", "on": true, "output": "out1", "mode": "pulse",
                            "until": .string(Timestamp.rfc3339(T1 + 3000))])
        #expect(rig.advance(T1 + 2_999).isEmpty)
        #expect(rig.advance(T1 + 3_000) == relayOff("door_strike", "out1", "pulse_elapsed"))
    }

    @Test func requestedDurationIsBoundedByMaxOn() {
        var rig = EngineRig()
        rig.settled()
        let effects = rig.submit(.relayActivate(relay: "door_strike", durationMs: 20_000), at: T1)
        #expect(withoutCompletions(effects) == [output("out1", true), activated("door_strike", "pulse", 10_000)])
        #expect(rig.advance(T1 + 9_999).isEmpty)
        #expect(rig.advance(T1 + 10_000) == relayOff("door_strike", "out1", "max_on"))
    }

    @Test func aPulseEndingExactlyAtMaxOnEndsWithPulseElapsed() {
        var rig = EngineRig()
        rig.settled()
        _ = rig.submit(.relayActivate(relay: "door_strike", durationMs: 10_000), at: T1)
        #expect(rig.advance(T1 + 10_000) == relayOff("door_strike", "out1", "pulse_elapsed"))
    }

    @Test func latchRelayStaysOnUntilMaxOn() {
        var rig = EngineRig()
        rig.settled()
        #expect(withoutCompletions(rig.submit(.relayActivate(relay: "siren", durationMs: nil), at: T1))
                == [output("out2", true), activated("siren", "latch")])
        #expect(rig.entry("relays", "siren")?["until"] == .string(Timestamp.rfc3339(T1 + 600_000)))
        #expect(rig.advance(T1 + 599_999).isEmpty)
        #expect(rig.advance(T1 + 600_000) == relayOff("siren", "out2", "max_on"))
    }

    @Test func latchRelayWithoutMaxOnHasNoDeadline() {
        var rig = EngineRig()
        rig.settled()
        _ = rig.submit(.relayActivate(relay: "gate_open", durationMs: nil), at: T1)
        #expect(rig.engine.nextDeadline == nil)
        #expect(rig.entry("relays", "gate_open") == ["id": "gate_open", "on": true, "output": "out3", "mode": "latch"])
    }

    @Test func durationMakesAPulseOfALatchRelay() {
        var rig = EngineRig()
        rig.settled()
        #expect(withoutCompletions(rig.submit(.relayActivate(relay: "gate_open", durationMs: 2_500), at: T1))
                == [output("out3", true), activated("gate_open", "pulse", 2_500)])
        #expect(rig.advance(T1 + 2_500) == relayOff("gate_open", "out3", "pulse_elapsed"))
    }

    @Test(arguments: [("door_strike", nil, Int64(3000)), ("door_strike", 500, 500), ("gate_open", nil, 1000), ("door_strike", 60_000, 10_000)])
    func relayPulseUsesTheGivenDurationElseThePulseElse1000Ms(relay: String, duration: Int?, expected: Int64) {
        var rig = EngineRig()
        rig.settled()
        let effects = rig.submit(.relayPulse(relay: relay, durationMs: duration), at: T1)
        #expect(data(effects, .relayActivated) == [["relay": .string(relay), "mode": "pulse", "duration_ms": .int(expected), "source": "technician"]])
        #expect(rig.engine.nextDeadline == T1 + expected)
    }

    @Test func activatingARelayThatIsOnRestartsItsPulseWithoutSetOutput() {
        var rig = EngineRig()
        rig.settled()
        _ = rig.submit(.relayActivate(relay: "door_strike", durationMs: nil), at: T1)
        #expect(withoutCompletions(rig.submit(.relayActivate(relay: "door_strike", durationMs: 5_000), at: T1 + 2_000))
                == [activated("door_strike", "pulse", 5_000)])
        #expect(rig.advance(T1 + 6_999).isEmpty)
        #expect(rig.advance(T1 + 7_000) == relayOff("door_strike", "out1", "pulse_elapsed"))
    }

    @Test func reactivationStaysBoundedByMaxOnFromWhenTheRelayFirstCameOn() {
        var rig = EngineRig()
        rig.settled()
        _ = rig.submit(.relayActivate(relay: "door_strike", durationMs: nil), at: T1)
        _ = rig.submit(.relayActivate(relay: "door_strike", durationMs: 3_000), at: T1 + 2_500)
        #expect(withoutCompletions(rig.submit(.relayActivate(relay: "door_strike", durationMs: 9_000), at: T1 + 5_000))
                == [activated("door_strike", "pulse", 5_000)])
        #expect(rig.advance(T1 + 9_999).isEmpty)
        #expect(rig.advance(T1 + 10_000) == relayOff("door_strike", "out1", "max_on"))
    }

    @Test func latchingAPulsingRelayKeepsItOnUntilMaxOn() {
        var rig = EngineRig()
        rig.settled()
        _ = rig.submit(.relayPulse(relay: "siren", durationMs: 1_000), at: T1)
        #expect(withoutCompletions(rig.submit(.relayActivate(relay: "siren", durationMs: nil), at: T1 + 500))
                == [activated("siren", "latch")])
        #expect(rig.advance(T1 + 599_999).isEmpty)
        #expect(rig.advance(T1 + 600_000) == relayOff("siren", "out2", "max_on"))
    }

    @Test func deactivateReasonFollowsTheSource() {
        var rig = EngineRig()
        rig.settled()
        _ = rig.submit(.relayActivate(relay: "gate_open", durationMs: nil), at: T1)
        #expect(withoutCompletions(rig.submit(.relayDeactivate(relay: "gate_open"), command, at: T1 + 1))
                == relayOff("gate_open", "out3", "command", commandID: "cmd_7"))
        _ = rig.submit(.relayActivate(relay: "gate_open", durationMs: nil), at: T1 + 2)
        #expect(withoutCompletions(rig.submit(.relayDeactivate(relay: "gate_open"), Origin(source: .rule), at: T1 + 3))
                == relayOff("gate_open", "out3", "technician"))
    }

    @Test func deactivatingARelayThatIsOffSucceedsWithoutEvents() throws {
        var rig = EngineRig()
        rig.settled()
        let effects = rig.submit(.relayDeactivate(relay: "door_strike"), at: T1)
        #expect(effects.count == 1)
        let r = try #require(result(effects))
        #expect(r.status == .succeeded)
        #expect(r.message == "relay door_strike was already off")
        #expect(r.state == ["id": "door_strike", "on": false, "output": "out1", "mode": "pulse"])
    }

    @Test func interlockReleasesTheOtherRelayThenWaitsTheGapBeforeEnergising() {
        var rig = EngineRig()
        rig.settled()
        _ = rig.submit(.relayActivate(relay: "gate_open", durationMs: nil), at: T1)
        let effects = rig.submit(.relayActivate(relay: "gate_close", durationMs: nil), command, at: T1 + 1_000)
        #expect(effects == [output("out3", false), rec(.relayDeactivated, ["relay": "gate_open", "reason": "command", "interlock": "gate_close", "command_id": "cmd_7"])])
        #expect(rig.engine.nextDeadline == T1 + 1_500)
        #expect(rig.advance(T1 + 1_499).isEmpty)
        let later = rig.advance(T1 + 1_500)
        #expect(withoutCompletions(later) == [output("out4", true), activated("gate_close", "latch", source: "command", commandID: "cmd_7")])
        #expect(completions(later).map(\.ticket) == [2])
        #expect(completions(later).first?.result.status == .succeeded)
        #expect(completions(later).first?.result.state?["on"] == true)
    }

    @Test func interlockWithNothingToReleaseEnergisesAtOnce() {
        var rig = EngineRig()
        rig.settled()
        let effects = rig.submit(.relayActivate(relay: "gate_close", durationMs: nil), at: T1)
        #expect(withoutCompletions(effects) == [output("out4", true), activated("gate_close", "latch")])
        #expect(result(effects)?.status == .succeeded)
    }

    @Test func zeroGapEnergisesRightAfterTheRelease() {
        var rig = EngineRig(EngineFixture.site({ $0.editRelay("gate_close") { $0.interlockGapMs = 0 } }))
        rig.settled()
        _ = rig.submit(.relayActivate(relay: "gate_open", durationMs: nil), at: T1)
        #expect(withoutCompletions(rig.submit(.relayActivate(relay: "gate_close", durationMs: nil), at: T1 + 10)) == [
            // A technician's activation (the rig's default origin): the release is the technician's too.
            output("out3", false), rec(.relayDeactivated, ["relay": "gate_open", "reason": "technician", "interlock": "gate_close"]),
            output("out4", true), activated("gate_close", "latch"),
        ])
    }

    @Test func activatingInAGroupThatIsSwitchingIsBusy() throws {
        var rig = EngineRig()
        rig.settled()
        _ = rig.submit(.relayActivate(relay: "gate_open", durationMs: nil), at: T1)
        _ = rig.submit(.relayActivate(relay: "gate_close", durationMs: nil), at: T1 + 100)
        let r = try #require(result(rig.submit(.relayActivate(relay: "gate_open", durationMs: nil), at: T1 + 200)))
        #expect(r.status == .failed)
        #expect(r.code == "busy")
        #expect(r.message == "interlock group gate is switching to relay gate_close; try again")
        let again = try #require(result(rig.submit(.relayActivate(relay: "gate_close", durationMs: nil), at: T1 + 201)))
        #expect(again.message == "relay gate_close is waiting for its interlock gap; try again")
    }

    @Test func deactivatingDuringTheGapCancelsTheWaitingActivation() {
        var rig = EngineRig()
        rig.settled()
        _ = rig.submit(.relayActivate(relay: "gate_open", durationMs: nil), at: T1)
        _ = rig.submit(.relayActivate(relay: "gate_close", durationMs: nil), at: T1 + 100)
        let effects = rig.submit(.relayDeactivate(relay: "gate_close"), at: T1 + 200)
        #expect(completions(effects).map(\.ticket) == [2, 3])
        #expect(completions(effects).map(\.result.status) == [.failed, .succeeded])
        #expect(withoutCompletions(effects).isEmpty)
        #expect(rig.advance(T1 + 10_000).isEmpty)
        #expect(rig.relayOn("gate_close") == false)
    }
}
