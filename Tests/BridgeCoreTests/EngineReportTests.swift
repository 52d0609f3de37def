import Testing
@testable import BridgeCore

/// The state report's shapes and order (docs/behaviour-decisions.md).
@Suite struct EngineReportTests {
    @Test func stateReportHasEveryPartZoneRelayAndDeviceInConfigOrder() {
        var rig = EngineRig()
        rig.settled(["in7": true])
        _ = rig.submit(.arm(partition: "main", mode: .stay, force: false), at: T1)
        _ = rig.submit(.relayPulse(relay: "door_strike", durationMs: 2_000), at: T1)
        let report = rig.engine.stateReport(now: T1)
        #expect(Set(report.keys) == ["partitions", "zones", "relays", "devices"])
        #expect(report["partitions"] == [
            ["id": "main", "state": "arming", "bypassed": [], "mode": "stay", "exit_ends_at": .string(Timestamp.rfc3339(T1 + 30_000))],
            ["id": "garage", "state": "disarmed", "bypassed": []],
        ])
        #expect(report["zones"]?.arrayValue?.map { $0["id"]?.stringValue ?? "" }
                == ["front_door", "hall_pir", "window", "tamper", "smoke", "panic_btn", "water", "shed", "garage_door"])
        #expect(report["zones"]?.arrayValue?[6] == ["id": "water", "partition": "main", "state": "faulted", "bypassed": false,
                                                    "type": "monitor", "input": "in7", "trouble": false])
        #expect(report["relays"]?.arrayValue?.map { $0["id"]?.stringValue ?? "" } == ["door_strike", "siren", "gate_open", "gate_close", "ks", "pump"])
        #expect(report["relays"]?.arrayValue?[0] == ["id": "door_strike", "on": true, "output": "out1", "mode": "pulse",
                                                     "until": .string(Timestamp.rfc3339(T1 + 2_000))])
        #expect(report["devices"] == [
            ["id": "header", "online": false, "last_seen": .null, "kind": "gpio", "address": "pinctrl-rp1|pinctrl-bcm2711"],
            ["id": "io8", "online": false, "last_seen": .null, "kind": "modbus", "address": "/dev/chekt-rs485 unit 1"],
        ])
    }

    @Test func modbusTCPDeviceAddressNamesHostPortAndUnit() {
        let site = EngineFixture.site(board: { $0.modbusBuses = [.init(id: "rs485", transport: .tcp(host: "10.0.0.7", port: 502))] })
        let rig = EngineRig(site)
        #expect(rig.entry("devices", "io8")?["address"] == "10.0.0.7:502 unit 1")
    }

    @Test func entryDelayEndIsReported() {
        var rig = EngineRig()
        rig.settled()
        rig.armNow()
        _ = rig.flip("in1", true, at: T1 + 100)
        #expect(rig.entry("partitions", "main") == ["id": "main", "state": "armed_away", "bypassed": [], "mode": "away",
                                                    "entry_ends_at": .string(Timestamp.rfc3339(T1 + 150 + 30_000))])
    }
}
