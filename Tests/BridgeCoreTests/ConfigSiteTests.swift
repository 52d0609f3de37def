import Testing
import BridgeCore

/// Site configs: strict decoding, checks within the config (`parseSiteConfig`) and against the board (`crossCheck`).
@Suite struct ConfigSiteTests {
    private func issues(_ text: String) -> [String] {
        do {
            _ = try ConfigLoader.parseSiteConfig(Array(text.utf8), file: "config.json")
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }

    private func config(_ text: String) throws -> SiteConfig {
        try ConfigLoader.parseSiteConfig(Array(text.utf8), file: "config.json")
    }

    /// A valid config; tests splice one mistake into it.
    private func site(bridge: String = #""id": "brg_1", "board": "b.json""#, upstream: String? = nil,
                      partition: String = #""id": "main""#, zones: String = #"{"id": "door", "input": "in1", "partition": "main", "type": "entry_exit"}"#,
                      relays: String = #"{"id": "siren", "output": "out2"}"#, extra: String = "") -> String {
        let up = upstream.map { #", "upstream": {"# + $0 + "}" } ?? ""
        return """
            {"bridge": {\(bridge)}\(up),
             "partitions": [{\(partition)}],
             "zones": [\(zones)],
             "relays": [\(relays)]\(extra)}
            """
    }

    /// The rpi-relay-3ch board, built in code so these tests do not depend on the shipped file.
    private let board = BoardProfile(
        name: "rpi-relay-3ch",
        gpioChips: [.init(id: "header", labels: ["pinctrl-bcm2711"])],
        inputs: ["in1", "in2", "in3", "in4"].enumerated().map {
            .init(id: $0.element, source: .gpio(.init(chip: "header", line: .offset($0.offset))))
        },
        outputs: ["out1", "out2", "out3"].enumerated().map {
            .init(id: $0.element, sink: .gpio(.init(chip: "header", line: .offset(20 + $0.offset))))
        })

    private func crossIssues(_ text: String) throws -> [String] {
        ConfigLoader.crossCheck(try config(text), board: board, file: "config.json").map(\.description)
    }

    // MARK: Decoding what is right

    @Test func minimalConfigTakesEveryDefault() throws {
        let c = try config(#"{"bridge": {"id": "b", "board": "x.json"}}"#)
        #expect(c == SiteConfig(bridge: .init(id: "b", board: "x.json", stateDir: "/var/lib/chekt-bridge")))
        #expect(c.upstream == nil)
        #expect(c.outbox.maxMB == 64)
    }

    @Test func decodesEveryField() throws {
        let text = """
            {"bridge": {"id": "Brg-1.a_b", "board": "/opt/b.json", "state_dir": "/data/state"},
             "upstream": {"url": "https://bridge-api.example/v1", "credentials": "/etc/c.json", "heartbeat_s": 30, "ca_file": "/etc/ca.pem"},
             "outbox": {"max_mb": 128},
             "partitions": [
               {"id": "main", "exit_delay_s": 45, "entry_delay_s": 20, "remote_exit_delay_s": 5, "siren": {"relay": "siren"}},
               {"id": "shop", "keyswitch": {"relay": "ks", "armed_input": "panel_armed"}},
               {"id": "barn", "keyswitch": {"relay": "ks2", "hold": true, "pulse_ms": 500, "armed_input": "barn_armed", "confirm_timeout_s": 30},
                "siren": {"relay": "siren", "timeout_s": 60}}],
             "zones": [
               {"id": "smoke", "input": "in3", "partition": "main", "type": "fire"},
               {"id": "tamper", "input": "in4", "partition": "main", "type": "24h", "bypassable": true, "swinger_limit": 1},
               {"id": "pir", "input": "in2", "partition": "shop", "type": "interior", "bypassable": false}],
             "relays": [
               {"id": "siren", "output": "out2", "max_on_ms": 600000},
               {"id": "ks", "output": "out1", "mode": "pulse", "pulse_ms": 1000, "power_on": "restore", "safe_state": "on"},
               {"id": "ks2", "output": "out3", "power_on": "on", "interlock": "doors", "interlock_gap_ms": 250}]}
            """
        let c = try config(text)
        #expect(c.bridge == .init(id: "Brg-1.a_b", board: "/opt/b.json", stateDir: "/data/state"))
        #expect(c.upstream == .init(url: "https://bridge-api.example/v1", credentials: "/etc/c.json", heartbeatS: 30, caFile: "/etc/ca.pem"))
        #expect(c.outbox == .init(maxMB: 128))
        #expect(c.partitions == [
            .init(id: "main", exitDelayS: 45, entryDelayS: 20, remoteExitDelayS: 5, siren: .init(relay: "siren", timeoutS: 240)),
            .init(id: "shop", exitDelayS: 30, entryDelayS: 30, remoteExitDelayS: 0,
                  keyswitch: .init(relay: "ks", hold: false, pulseMs: 1000, armedInput: "panel_armed", confirmTimeoutS: 10)),
            .init(id: "barn", siren: .init(relay: "siren", timeoutS: 60),
                  keyswitch: .init(relay: "ks2", hold: true, pulseMs: 500, armedInput: "barn_armed", confirmTimeoutS: 30)),
        ])
        #expect(c.zones == [
            .init(id: "smoke", input: "in3", partition: "main", type: .fire, bypassable: false, swingerLimit: 3),
            .init(id: "tamper", input: "in4", partition: "main", type: .twentyFourHour, bypassable: true, swingerLimit: 1),
            .init(id: "pir", input: "in2", partition: "shop", type: .interior, bypassable: false, swingerLimit: 3),
        ])
        #expect(c.relays == [
            .init(id: "siren", output: "out2", mode: .latch, pulseMs: nil, maxOnMs: 600_000, powerOn: .off, safeState: .off),
            .init(id: "ks", output: "out1", mode: .pulse, pulseMs: 1000, powerOn: .restore, safeState: .on),
            .init(id: "ks2", output: "out3", powerOn: .on, interlock: "doors", interlockGapMs: 250),
        ])
    }

    @Test func zonesAreBypassableByDefaultExceptAlwaysArmedTypes() throws {
        let zones = SiteConfig.ZoneType.allCases.enumerated().map { i, type in
            #"{"id": "z\#(i)", "input": "in\#(i)", "partition": "main", "type": "\#(type.rawValue)"}"#
        }
        let c = try config(site(zones: zones.joined(separator: ", ")))
        #expect(c.zones.map(\.bypassable) == [true, true, true, false, false, false, true])
    }

    @Test func plainHTTPIsAcceptedOnlyToLoopback() throws {
        for url in ["http://localhost:8080/v1", "http://127.0.0.1/v1", "http://127.9.8.7:1", "HTTP://LOCALHOST",
                    "http://[::1]:8443/v1", "http://user:pw@127.0.0.1/", "https://10.0.0.1/v1", "https://bridge-api.example"] {
            #expect(issues(site(upstream: #""url": "\#(url)", "credentials": "c.json""#)) == [], "\(url)")
        }
        let refused = #"config.json: upstream.url: plain http is refused except to loopback (localhost, 127.0.0.0/8, [::1]); use https://"#
        for url in ["http://bridge-api.example/v1", "http://10.0.0.1", "http://128.0.0.1", "http://127.0.0.1.example.com",
                    "http://localhost.example", "http://[::2]/", "http://127.0.0.1@evil.example/", "http://1270.0.0.1"] {
            #expect(issues(site(upstream: #""url": "\#(url)", "credentials": "c.json""#)) == [refused], "\(url)")
        }
        #expect(issues(site(upstream: #""url": "ftp://x", "credentials": "c.json""#)) == [
            #"config.json: upstream.url: expected an https:// URL, found "ftp://x""#,
        ])
        #expect(issues(site(upstream: #""url": "https:///v1", "credentials": "c.json""#)) == [
            #"config.json: upstream.url: URL "https:///v1" has no host"#,
        ])
    }

    // MARK: Decoding what is wrong

    @Test func malformedJSONIsOneIssue() {
        #expect(issues("{\"bridge\": {\"id\": \"b\" \"board\": \"x\"}}") == [
            #"config.json: not valid JSON: line 1, column 23: expected "," or "}" after the value of "id", found the start of a string (is a "," missing?)"#,
        ])
    }

    @Test func missingBridgeAndBadBridgeID() {
        #expect(issues("{}") == [#"config.json: missing required key "bridge""#])
        #expect(issues(#"{"bridge": {"id": "brg demo/1"}}"#) == [
            #"config.json: bridge.id: bridge id "brg demo/1" may contain only letters, digits, "_", "." and "-""#,
            #"config.json: bridge: missing required key "board""#,
        ])
    }

    @Test func unknownKeysSuggestTheLikelyOne() {
        #expect(issues(site(partition: #""id": "main", "exit_delay": 10, "siren": {"relay": "siren", "timeout_ms": 5}"#, extra: #", "zone": []"#)) == [
            #"config.json: unknown key "zone"; did you mean "zones"?"#,
            #"config.json: partitions[0]: unknown key "exit_delay"; did you mean "exit_delay_s"?"#,
            #"config.json: partitions[0].siren: unknown key "timeout_ms"; did you mean "timeout_s"?"#,
        ])
    }

    @Test func wrongTypesRangesAndEnums() {
        let zones = #"{"id": "door", "input": "in1", "partition": "main", "type": "entry-exit", "bypassable": "no", "swinger_limit": 0}"#
        #expect(issues(site(partition: #""id": "main", "exit_delay_s": 601, "entry_delay_s": "30""#, zones: zones)) == [
            "config.json: partitions[0].exit_delay_s: exit_delay_s 601 is out of range 0...600",
            "config.json: partitions[0].entry_delay_s: expected an integer, found a string",
            #"config.json: zones[0].type: expected one of "instant", "entry_exit", "interior", "24h", "fire", "panic", "monitor", found "entry-exit"; did you mean "entry_exit"?"#,
            "config.json: zones[0].bypassable: expected true or false, found a string",
            "config.json: zones[0].swinger_limit: swinger_limit 0 is out of range 1...100",
        ])
        #expect(issues(site(relays: #"{"id": "siren", "output": "out2", "power_on": "last", "safe_state": "restore", "max_on_ms": 5}"#)) == [
            "config.json: relays[0].max_on_ms: max_on_ms 5 is out of range 10...86400000",
            #"config.json: relays[0].power_on: expected one of "off", "on", "restore", found "last""#,
            #"config.json: relays[0].safe_state: expected one of "off", "on", found "restore""#,
        ])
        #expect(issues(site(upstream: #""url": "https://x", "credentials": "", "heartbeat_s": 4"#, extra: #", "outbox": {"max_mb": 0}"#)) == [
            "config.json: upstream.credentials: expected a non-empty string",
            "config.json: upstream.heartbeat_s: heartbeat_s 4 is out of range 5...3600",
            "config.json: outbox.max_mb: max_mb 0 is out of range 1...4096",
        ])
    }

    @Test func pulseModeNeedsPulseMs() {
        #expect(issues(site(relays: #"{"id": "siren", "output": "out2", "mode": "pulse"}"#)) == [
            #"config.json: relays[0]: missing required key "pulse_ms" (required when mode is "pulse")"#,
        ])
    }

    @Test func pulseLongerThanMaxOnIsRefused() {
        #expect(issues(site(relays: #"{"id": "siren", "output": "out2", "mode": "pulse", "pulse_ms": 3000, "max_on_ms": 2000}"#)) == [
            "config.json: relays[0].pulse_ms: pulse_ms 3000 is longer than max_on_ms 2000; the relay would be released before the pulse ends",
        ])
        #expect(issues(site(relays: #"{"id": "siren", "output": "out2", "mode": "pulse", "pulse_ms": 2000, "max_on_ms": 2000}"#)) == [])
    }

    @Test func interlockSettingsMustFitTogether() {
        #expect(issues(site(relays: #"{"id": "siren", "output": "out2", "interlock_gap_ms": 100}"#)) == [
            #"config.json: relays[0].interlock_gap_ms: interlock_gap_ms applies only with "interlock""#,
        ])
        #expect(issues(site(relays: #"{"id": "siren", "output": "out2", "interlock": ""}"#)) == [
            "config.json: relays[0].interlock: expected a non-empty string",
        ])
        let relays = #"""
            {"id": "siren", "output": "out2"}, {"id": "up", "output": "out1", "interlock": "shutter", "power_on": "on", "safe_state": "on"},
            {"id": "down", "output": "out3", "interlock": "shutter", "power_on": "on", "safe_state": "on"},
            {"id": "other", "output": "out4", "interlock": "gate", "power_on": "on"}
            """#
        #expect(issues(site(relays: relays)) == [
            #"config.json: relays[2].power_on: relay "up" (relays[1]) is already "on" at power-on in interlock "shutter"; at most one relay of a group can be on"#,
            #"config.json: relays[2].safe_state: relay "up" (relays[1]) already has safe_state "on" in interlock "shutter"; at most one relay of a group can be on"#,
        ])
    }

    @Test func idsAreUniqueWithinPartitionsZonesAndRelays() {
        let separate = """
            {"bridge": {"id": "b", "board": "x.json"}, "partitions": [{"id": "main"}, {"id": "main"}],
             "zones": [{"id": "door", "input": "in1", "partition": "main", "type": "instant"},
                       {"id": "door", "input": "in2", "partition": "main", "type": "instant"}],
             "relays": [{"id": "siren", "output": "out2"}, {"id": "siren", "output": "out3"}, {"id": "main", "output": "out1"}]}
            """
        #expect(issues(separate) == [
            #"config.json: partitions[1].id: id "main" is already used by partitions[0]"#,
            #"config.json: zones[1].id: id "door" is already used by zones[0]"#,
            #"config.json: relays[1].id: id "siren" is already used by relays[0]"#,
        ])
    }

    @Test func referencesWithinTheConfigMustExist() {
        let text = site(partition: #""id": "main", "siren": {"relay": "sirne"}"#,
                        zones: #"{"id": "door", "input": "in1", "partition": "mian", "type": "instant"}"#)
        #expect(issues(text) == [
            #"config.json: zones[0].partition: no partition "mian" (has main)"#,
            #"config.json: partitions[0].siren.relay: no relay "sirne" (has siren)"#,
        ])
    }

    @Test func keyswitchRelayIsNotASirenAndServesOnePartition() {
        let text = """
            {"bridge": {"id": "b", "board": "x.json"},
             "partitions": [{"id": "a", "siren": {"relay": "r1"}, "keyswitch": {"relay": "r1", "armed_input": "in1"}},
                            {"id": "b", "keyswitch": {"relay": "r1", "armed_input": "in2"}},
                            {"id": "c", "keyswitch": {"relay": "nope", "armed_input": "in3"}}],
             "relays": [{"id": "r1", "output": "out1"}]}
            """
        #expect(issues(text) == [
            #"config.json: partitions[0].keyswitch.relay: relay "r1" is also the siren of partition "a" (partitions[0]); a keyswitch relay cannot be a siren relay"#,
            #"config.json: partitions[1].keyswitch.relay: relay "r1" is also the siren of partition "a" (partitions[0]); a keyswitch relay cannot be a siren relay"#,
            #"config.json: partitions[1].keyswitch.relay: relay "r1" is already the keyswitch of partition "a" (partitions[0])"#,
            #"config.json: partitions[2].keyswitch.relay: no relay "nope" (has r1)"#,
        ])
    }

    @Test func keyswitchTimingMustFitItsRelaysMaxOn() {
        let text = """
            {"bridge": {"id": "b", "board": "x.json"},
             "partitions": [{"id": "a", "keyswitch": {"relay": "held", "hold": true, "armed_input": "in1"}},
                            {"id": "b", "keyswitch": {"relay": "short", "pulse_ms": 1000, "armed_input": "in2"}}],
             "relays": [{"id": "held", "output": "out1", "max_on_ms": 600000}, {"id": "short", "output": "out2", "max_on_ms": 500}]}
            """
        #expect(issues(text) == [
            #"config.json: partitions[0].keyswitch.hold: a held keyswitch is on for as long as the panel is armed, but relay "held" has max_on_ms 600000, which would disarm the panel; remove max_on_ms from that relay or use "hold": false"#,
            #"config.json: partitions[1].keyswitch.pulse_ms: pulse_ms 1000 is longer than relay "short"'s max_on_ms 500"#,
        ])
    }

    @Test func nullIsNotADefault() {
        #expect(issues(site(relays: #"{"id": "siren", "output": "out2", "max_on_ms": null}"#)) == [
            "config.json: relays[0].max_on_ms: expected an integer, found null",
        ])
    }

    // MARK: Cross-checks against the board

    @Test func validConfigHasNoCrossIssues() throws {
        #expect(try crossIssues(site()) == [])
    }

    @Test func danglingZoneInputListsTheBoardsInputs() throws {
        let zones = #"""
            {"id": "a", "input": "in1", "partition": "main", "type": "instant"},
            {"id": "b", "input": "in2", "partition": "main", "type": "instant"},
            {"id": "c", "input": "in3", "partition": "main", "type": "instant"},
            {"id": "d", "input": "in9", "partition": "main", "type": "instant"}
            """#
        #expect(try crossIssues(site(zones: zones)) == [
            #"config.json: zones[3].input: no input "in9" on board rpi-relay-3ch (has in1..in4)"#,
        ])
    }

    @Test func anInputServesOneZone() throws {
        let zones = #"""
            {"id": "front_door", "input": "in1", "partition": "main", "type": "entry_exit"},
            {"id": "back_door", "input": "in1", "partition": "main", "type": "entry_exit"}
            """#
        #expect(try crossIssues(site(zones: zones)) == [
            #"config.json: zones[1].input: input "in1" is already used by zone "front_door" (zones[0])"#,
        ])
    }

    @Test func relayOutputsExistAndServeOneRelay() throws {
        let relays = #"{"id": "siren", "output": "out2"}, {"id": "gate", "output": "out2"}, {"id": "x", "output": "out7"}"#
        #expect(try crossIssues(site(relays: relays)) == [
            #"config.json: relays[1].output: output "out2" is already used by relay "siren" (relays[0])"#,
            #"config.json: relays[2].output: no output "out7" on board rpi-relay-3ch (has out1..out3)"#,
        ])
    }

    @Test func keyswitchArmedInputIsABoardInputUsedByOneKeyswitch() throws {
        let text = """
            {"bridge": {"id": "b", "board": "x.json"},
             "partitions": [{"id": "a", "keyswitch": {"relay": "k1", "armed_input": "in4"}},
                            {"id": "b", "keyswitch": {"relay": "k2", "armed_input": "in4"}},
                            {"id": "c", "keyswitch": {"relay": "k3", "armed_input": "panel"}}],
             "relays": [{"id": "k1", "output": "out1"}, {"id": "k2", "output": "out2"}, {"id": "k3", "output": "out3"}]}
            """
        #expect(try crossIssues(text) == [
            #"config.json: partitions[1].keyswitch.armed_input: input "in4" is already the armed_input of partition "a" (partitions[0])"#,
            #"config.json: partitions[2].keyswitch.armed_input: no input "panel" on board rpi-relay-3ch (has in1..in4)"#,
        ])
    }

    @Test func crossCheckAgainstABoardWithoutInputs() throws {
        let empty = BoardProfile(name: "bare")
        #expect(ConfigLoader.crossCheck(try config(site()), board: empty, file: "c.json").map(\.description) == [
            #"c.json: zones[0].input: no input "in1" on board bare (has none)"#,
            #"c.json: relays[0].output: no output "out2" on board bare (has none)"#,
        ])
    }

    /// A board's name is free text from its profile; a message shows its control characters escaped (found by the
    /// config fuzz target: a DEL reached the terminal raw).
    @Test func aBoardNameWithAControlCharacterIsEscapedInTheMessages() throws {
        let board = BoardProfile(name: "io\u{7F}8\u{1B}[2J")
        #expect(ConfigLoader.crossCheck(try config(site()), board: board, file: "c.json").map(\.description) == [
            #"c.json: zones[0].input: no input "in1" on board io\u{7F}8\u{1B}[2J (has none)"#,
            #"c.json: relays[0].output: no output "out2" on board io\u{7F}8\u{1B}[2J (has none)"#,
        ])
    }
}
