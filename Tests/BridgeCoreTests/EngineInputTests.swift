import Testing
@testable import BridgeCore

/// Debounce and start-up settling (docs/behaviour-decisions.md).
@Suite struct EngineInputTests {
    @Test func pulseShorterThanDebounceNeverReachesTheZone() {
        var rig = EngineRig()
        rig.settled()
        var effects = rig.input("in3", true, at: T1)
        effects += rig.input("in3", false, at: T1 + 49)
        #expect(rig.engine.nextDeadline == nil)
        effects += rig.advance(T1 + 1_000)
        #expect(effects.isEmpty)
        let status = rig.engine.inputReport(now: T1 + 1_000).first { $0.id == "in3" }
        #expect(status == InputStatus(id: "in3", active: false, raw: false, lastChange: T0 + 50, zone: "window"))
    }

    @Test func changeCommitsExactlyWhenItHasHeldTheDebouncePeriod() {
        var rig = EngineRig()
        rig.settled()
        #expect(rig.input("in3", true, at: T1).isEmpty)
        #expect(rig.engine.nextDeadline == T1 + 50)
        #expect(rig.advance(T1 + 49).isEmpty)
        #expect(rig.advance(T1 + 50) == [faulted("window")])
        let status = rig.engine.inputReport(now: T1 + 50).first { $0.id == "in3" }
        #expect(status == InputStatus(id: "in3", active: true, raw: true, lastChange: T1 + 50, zone: "window"))
    }

    @Test func aTimestampedChangeDebouncesFromWhenItHappenedNotFromWhenItWasRead() {
        var rig = EngineRig()
        rig.settled()
        // The edge happened at T1 and was read 30 ms late: it commits 50 ms after the edge, not after the read.
        #expect(rig.engine.inputChanged("in3", active: true, changedAt: T1, now: T1 + 30).isEmpty)
        #expect(rig.engine.nextDeadline == T1 + 50)
        #expect(rig.advance(T1 + 50) == [faulted("window")])
    }

    @Test func aPulseReadLateIsStillShorterThanTheDebounce() {
        var rig = EngineRig()
        rig.settled()
        // A 20 ms pulse whose two edges were both read 80 ms late, after its debounce would have ended: the
        // reversal queued behind the first edge still cancels it.
        var effects = rig.engine.inputChanged("in3", active: true, changedAt: T1, now: T1 + 80)
        effects += rig.engine.inputChanged("in3", active: false, changedAt: T1 + 20, now: T1 + 80)
        effects += rig.advance(T1 + 1_000)
        #expect(effects.isEmpty, "\(effects)")
    }

    @Test func aChangeTimeIsClampedToNowAndToWhatTheEngineHasAlreadyHandled() {
        var rig = EngineRig()
        rig.settled()
        _ = rig.engine.inputChanged("in3", active: true, changedAt: T1 + 5_000, now: T1)
        #expect(rig.engine.nextDeadline == T1 + 50, "not in the future")
        _ = rig.engine.inputChanged("in3", active: false, changedAt: T1 + 10, now: T1 + 10)
        // The engine has handled T1 + 10: a change stamped earlier (here: before the start) counts from then.
        _ = rig.engine.inputChanged("in3", active: true, changedAt: .min, now: T1 + 20)
        #expect(rig.engine.nextDeadline == T1 + 60, "time never runs backwards in the engine")
    }

    @Test func repeatingTheSameRawLevelDoesNotRestartTheDebounce() {
        var rig = EngineRig()
        rig.settled()
        _ = rig.input("in3", true, at: T1)
        _ = rig.input("in3", true, at: T1 + 30)
        #expect(rig.advance(T1 + 50) == [faulted("window")])
    }

    @Test func zeroDebounceCommitsAtOnce() {
        var rig = EngineRig(EngineFixture.site(board: { $0.inputs[2].debounceMs = 0 }))
        rig.settled()
        #expect(rig.input("in3", true, at: T1) == [faulted("window")])
        #expect(rig.input("in3", false, at: T1 + 1) == [restored("window")])
    }

    @Test func eachInputHasItsOwnDebounce() {
        var rig = EngineRig(EngineFixture.site(board: { $0.inputs[0].debounceMs = 200 }))
        _ = rig.start()
        _ = rig.advance(T0 + 200)
        _ = rig.input("in1", true, at: T1)
        _ = rig.input("in3", true, at: T1)
        #expect(rig.advance(T1 + 50) == [faulted("window")])
        #expect(rig.advance(T1 + 199).isEmpty)
        #expect(rig.advance(T1 + 200) == [faulted("front_door")])
    }

    @Test func firstStartReportsFaultedZonesOnceSettled() {
        var rig = EngineRig()
        #expect(rig.start(["in3": true, "in7": true]).isEmpty)
        #expect(rig.advance(T0 + 49).isEmpty)
        #expect(rig.advance(T0 + 50) == [faulted("window"), faulted("water")])
    }

    @Test func firstStartAppliesTheAlarmRulesToFaultedZones() {
        var rig = EngineRig()
        _ = rig.start(["in4": true])
        #expect(rig.advance(T0 + 50) == [faulted("tamper"), alarm(1, "tamper", "tamper")] + sirenOn())
    }

    @Test func restartReportsOnlyZonesThatDifferFromTheSnapshot() {
        var saved = PersistedState()
        saved.zones["window"] = .init(faulted: true, bypassed: false)
        saved.zones["front_door"] = .init(faulted: true, bypassed: false)
        var rig = EngineRig(restored: saved)
        _ = rig.start(["in1": true, "in7": true])
        #expect(rig.advance(T0 + 50) == [restored("window"), faulted("water")])
    }

    @Test func armingIsBusyUntilInputsHaveSettled() throws {
        var rig = EngineRig()
        _ = rig.start()
        let early = try #require(result(rig.submit(.arm(partition: "main", mode: .away, force: false), at: T0 + 49)))
        #expect(early.status == .failed)
        #expect(early.code == "busy")
        #expect(early.message == "inputs are settling; try again in a moment")
        _ = rig.advance(T0 + 50)
        let later = try #require(result(rig.submit(.arm(partition: "main", mode: .away, force: false), at: T0 + 50)))
        #expect(later.status == .succeeded)
    }

    @Test func aRawChangeDuringSettlingRestartsThatInputsDebounce() throws {
        var rig = EngineRig()
        _ = rig.start(["in3": true])
        _ = rig.input("in3", false, at: T0 + 30)
        #expect(rig.advance(T0 + 79).isEmpty)
        #expect(result(rig.submit(.arm(partition: "main", mode: .away, force: false), at: T0 + 79))?.code == "busy")
        // in3 settles inactive at T0 + 80 (its saved state: normal), so no zone event; arming now works.
        #expect(rig.advance(T0 + 80).isEmpty)
        #expect(result(rig.submit(.arm(partition: "main", mode: .away, force: false), at: T0 + 80))?.status == .succeeded)
    }

    @Test func settlingWaitsForTheLongestDebounce() {
        var rig = EngineRig(EngineFixture.site(board: { $0.inputs[0].debounceMs = 300 }))
        _ = rig.start(["in1": true, "in3": true])
        #expect(rig.advance(T0 + 299).isEmpty)
        #expect(rig.advance(T0 + 300) == [faulted("front_door"), faulted("window")])
    }

    @Test func anInputUnreadableAtStartPutsItsZoneInTrouble() throws {
        var rig = EngineRig()
        rig.settled(["io8.in1": nil as Bool?])
        #expect(rig.entry("zones", "shed")?["trouble"] == true)
        let r = try #require(result(rig.submit(.arm(partition: "main", mode: .away, force: false), at: T1)))
        #expect(r.code == "zones_not_ready")
        #expect(r.message == "zones not ready: shed (trouble: input io8.in1 unreadable)")
        // A first reading arrives later: the zone leaves trouble once it has settled.
        #expect(rig.flip("io8.in1", true, at: T1 + 10) == [faulted("shed")])
        #expect(rig.entry("zones", "shed")?["trouble"] == false)
    }

    @Test func inputReportListsEveryBoardInputInBoardOrderWithItsZone() {
        var rig = EngineRig()
        rig.settled(["in2": true])
        let report = rig.engine.inputReport(now: T1)
        #expect(report.map(\.id) == ["in1", "in2", "in3", "in4", "in5", "in6", "in7", "in8", "panel_armed", "io8.in1", "io8.in2"])
        #expect(report.map(\.zone) == ["front_door", "hall_pir", "window", "tamper", "smoke", "panic_btn", "water", "garage_door",
                                       nil, "shed", nil])
        #expect(report[1] == InputStatus(id: "in2", active: true, raw: true, lastChange: T0 + 50, zone: "hall_pir"))
    }
}
