import Testing
@testable import BridgeCore

/// Supervised devices: online/offline, trouble and the way back (docs/behaviour-decisions.md).
@Suite struct EngineDeviceTests {
    let online: Effect = rec(.deviceOnline, ["device": "io8", "kind": "modbus", "address": "/dev/chekt-rs485 unit 1"])

    func offline(_ reason: String, lastSeen: Millis?) -> Effect {
        rec(.deviceOffline, ["device": "io8", "kind": "modbus", "reason": .string(reason),
                             "last_seen": lastSeen.map { .string(Timestamp.rfc3339($0)) } ?? .null])
    }

    @Test func theFirstGoodAnswerAnnouncesTheDeviceOnce() {
        var rig = EngineRig()
        rig.settled()
        #expect(rig.device("io8", .ok, at: T1) == [online])
        #expect(rig.device("io8", .ok, at: T1 + 250).isEmpty)
        #expect(rig.entry("devices", "io8") == ["id": "io8", "online": true, "last_seen": .string(Timestamp.rfc3339(T1 + 250)),
                                               "kind": "modbus", "address": "/dev/chekt-rs485 unit 1"])
    }

    @Test func offlineAfterTheConfiguredNumberOfConsecutiveFailures() {
        var rig = EngineRig()
        rig.settled()
        _ = rig.device("io8", .ok, at: T1)
        #expect(rig.device("io8", .failed(reason: "timeout"), at: T1 + 250).isEmpty)
        #expect(rig.device("io8", .failed(reason: "timeout"), at: T1 + 500).isEmpty)
        #expect(rig.device("io8", .failed(reason: "crc_error"), at: T1 + 750) == [offline("crc_error", lastSeen: T1)])
        #expect(rig.device("io8", .failed(reason: "timeout"), at: T1 + 1_000).isEmpty)
        #expect(rig.device("io8", .ok, at: T1 + 1_250) == [online])
    }

    @Test func aGoodAnswerResetsTheFailureCount() {
        var rig = EngineRig()
        rig.settled()
        _ = rig.device("io8", .ok, at: T1)
        var effects: [Effect] = []
        for n in 0..<2 { effects += rig.device("io8", .failed(reason: "timeout"), at: T1 + 10 + Millis(n)) }
        effects += rig.device("io8", .ok, at: T1 + 20)
        for n in 0..<2 { effects += rig.device("io8", .failed(reason: "timeout"), at: T1 + 30 + Millis(n)) }
        #expect(effects.isEmpty)
    }

    @Test func aDeviceNeverSeenGoesOfflineWithNullLastSeen() {
        var rig = EngineRig()
        rig.settled()
        var effects: [Effect] = []
        for n in 0..<3 { effects += rig.device("io8", .failed(reason: "timeout"), at: T1 + Millis(n)) }
        #expect(effects == [offline("timeout", lastSeen: nil)])
    }

    @Test func aGPIOChipGoesOfflineAtTheFirstFailure() {
        var rig = EngineRig()
        rig.settled()
        #expect(rig.device("header", .failed(reason: "not found"), at: T1) == [
            rec(.deviceOffline, ["device": "header", "kind": "gpio", "reason": "not found", "last_seen": .null]),
        ])
        #expect(rig.device("header", .ok, at: T1 + 1) == [
            rec(.deviceOnline, ["device": "header", "kind": "gpio", "address": "pinctrl-rp1|pinctrl-bcm2711"]),
        ])
    }

    @Test func unknownDevicesAreIgnored() {
        var rig = EngineRig()
        rig.settled()
        #expect(rig.device("io9", .failed(reason: "timeout"), at: T1).isEmpty)
    }

    @Test func zonesOfAnOfflineDeviceAreInTroubleAndComeBackWithTheirNewLevel() {
        var rig = EngineRig()
        rig.settled()
        _ = rig.device("io8", .ok, at: T1)
        rig.armNow(at: T1 + 10)
        for n in 0..<3 { _ = rig.device("io8", .failed(reason: "timeout"), at: T1 + 100 + Millis(n)) }
        #expect(rig.entry("zones", "shed")?["trouble"] == true)
        #expect(rig.entry("zones", "shed")?["state"] == "normal")
        // A level seen while offline waits for the device to be back, then debounces as usual.
        #expect(rig.input("io8.in1", true, at: T1 + 200).isEmpty)
        #expect(rig.device("io8", .ok, at: T1 + 1_000) == [online])
        #expect(rig.entry("zones", "shed")?["trouble"] == true)
        #expect(rig.advance(T1 + 1_049).isEmpty)
        #expect(rig.advance(T1 + 1_050) == [faulted("shed"), alarm(1, "shed")] + sirenOn())
        #expect(rig.entry("zones", "shed")?["trouble"] == false)
    }

    @Test func aZoneBackFromTroubleWithItsOldLevelRecordsNothing() {
        var rig = EngineRig()
        rig.settled()
        _ = rig.device("io8", .ok, at: T1)
        for n in 0..<3 { _ = rig.device("io8", .failed(reason: "timeout"), at: T1 + 100 + Millis(n)) }
        _ = rig.device("io8", .ok, at: T1 + 1_000)
        #expect(rig.flip("io8.in1", false, at: T1 + 1_010).isEmpty)
        #expect(rig.entry("zones", "shed")?["trouble"] == false)
    }

    @Test func aDeviceSavedOnlineIsNotAnnouncedAgainAfterARestart() {
        var saved = PersistedState()
        saved.devices["io8"] = .init(online: true, lastSeen: T0 - 10_000)
        var rig = EngineRig(restored: saved)
        rig.settled()
        #expect(rig.device("io8", .ok, at: T1).isEmpty)
        #expect(rig.device("header", .ok, at: T1) == [
            rec(.deviceOnline, ["device": "header", "kind": "gpio", "address": "pinctrl-rp1|pinctrl-bcm2711"]),
        ])
    }

    @Test func aDeviceSavedOfflineKeepsItsZonesInTroubleUntilItIsBack() throws {
        var saved = PersistedState()
        saved.devices["io8"] = .init(online: false, lastSeen: T0 - 10_000)
        var rig = EngineRig(restored: saved)
        rig.settled(["io8.in1": true])
        #expect(rig.entry("zones", "shed")?["trouble"] == true)
        #expect(result(rig.submit(.arm(partition: "main", mode: .away, force: false), at: T1))?.zones == ["shed"])
        #expect(rig.device("io8", .ok, at: T1 + 100) == [online])
        #expect(rig.advance(T1 + 150) == [faulted("shed")])
    }
}
