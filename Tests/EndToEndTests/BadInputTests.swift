import Foundation
import Testing

/// Wrong input of every kind: each gives its documented exit code and a message a technician can act on.
@Suite struct BadInputTests {
    func siteConfig(_ sandbox: Sandbox, _ change: (inout [String: Any]) throws -> Void = { _ in }) throws -> String {
        var config = Fixture.config(board: try Repo.board(), stateDir: sandbox.stateDir)
        try change(&config)
        return try sandbox.writeJSON("config.json", config)
    }

    func zones(_ config: inout [String: Any], input0: String) {
        var zones = config["zones"] as! [[String: Any]]
        zones[0]["input"] = input0
        config["zones"] = zones
    }

    @Test func configValidateReportsMalformedJSON() throws {
        let sandbox = try Sandbox()
        let path = try sandbox.write("config.json", "{\"bridge\": {\"id\": \"brg_e2e\",\n  \"board\": }\n")
        let r = try Tool.run(["config", "validate", path])
        #expect(r.status == 2, "\(r)")
        #expect(r.stderr.contains(path), "the message does not name the file: \(r)")
        #expect(r.stderr.contains("JSON"), "the message does not say the JSON is malformed: \(r)")
        #expect(r.stderr.contains("line 2"), "the message does not say where: \(r)")
    }

    @Test func configValidateReportsAnUnknownKeyWithItsPathAndASuggestion() throws {
        let sandbox = try Sandbox()
        let path = try siteConfig(sandbox) { config in
            config["partitions"] = [["id": "main", "exit_delay": 5]]
        }
        let r = try Tool.run(["config", "validate", path])
        #expect(r.status == 2, "\(r)")
        #expect(r.stderr.contains("\(path): partitions[0]: unknown key \"exit_delay\""), "\(r)")
        #expect(r.stderr.contains("did you mean \"exit_delay_s\"?"), "\(r)")
    }

    @Test func configValidateReportsADanglingZoneInputWithWhatTheBoardHas() throws {
        let sandbox = try Sandbox()
        let path = try siteConfig(sandbox) { zones(&$0, input0: "in9") }
        let r = try Tool.run(["config", "validate", path])
        #expect(r.status == 2, "\(r)")
        #expect(r.stderr.contains("\(path): zones[0].input: no input \"in9\" on board rpi-relay-3ch (has in1..in4)"), "\(r)")
    }

    @Test func configValidateReportsEveryProblemAtOnce() throws {
        let sandbox = try Sandbox()
        let path = try siteConfig(sandbox) { config in
            zones(&config, input0: "in9")
            config["partitions"] = [["id": "main", "exit_delay": 5]]
        }
        let r = try Tool.run(["config", "validate", path])
        #expect(r.status == 2, "\(r)")
        #expect(r.stderr.contains("zones[0].input"), "\(r)")
        #expect(r.stderr.contains("partitions[0]: unknown key"), "\(r)")
    }

    @Test func runWithABadConfigExits2AndCreatesNothing() throws {
        let sandbox = try Sandbox()
        let path = try siteConfig(sandbox) { zones(&$0, input0: "in9") }
        let r = try Tool.run(["run", "--config", path, "--simulate", "--socket", sandbox.socket])
        #expect(r.status == 2 && !r.signalled, "\(r)")
        #expect(r.stderr.contains("zones[0].input"), "\(r)")
        #expect(!sandbox.exists(sandbox.stateDir), "the state folder was created for a config that does not validate")
        #expect(!sandbox.exists(sandbox.socket), "a control socket was created for a config that does not validate")

        // An existing state folder is left as it was.
        let existing = sandbox.root + "/existing-state"
        try FileManager.default.createDirectory(atPath: existing, withIntermediateDirectories: false)
        let again = try Tool.run(["run", "--config", path, "--simulate", "--state-dir", existing, "--socket", sandbox.socket])
        #expect(again.status == 2, "\(again)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: existing).isEmpty, "files were created in the state folder")
    }

    @Test func runWithAnUnwritableStateDirExits2AndSaysWhy() throws {
        let sandbox = try Sandbox()
        // A path under a regular file: no folder can be made there, even by root.
        let blocker = try sandbox.write("afile", "not a folder\n")
        let stateDir = blocker + "/state"
        let path = try siteConfig(sandbox) { $0["bridge"] = ["id": "brg_e2e", "board": try Repo.board(), "state_dir": stateDir] }
        let r = try Tool.run(["run", "--config", path, "--simulate", "--socket", sandbox.socket])
        #expect(r.status == 2 && !r.signalled, "\(r)")
        #expect(r.stderr.contains(stateDir), "the message does not name the state folder: \(r)")
        #expect(r.stderr.contains("Not a directory") || r.stderr.contains("not a directory"), "the message does not say why: \(r)")
        let status = try Tool.run(["status", "--socket", sandbox.socket])
        #expect(status.status == 3, "an agent answers although it could not open its state: \(status)")

        // --state-dir overrides the config's folder, with the same check.
        let viaFlag = try Tool.run(["run", "--config", try siteConfig(sandbox), "--simulate", "--state-dir", stateDir, "--socket", sandbox.socket])
        #expect(viaFlag.status == 2, "\(viaFlag)")
        #expect(viaFlag.stderr.contains(stateDir), "\(viaFlag)")
    }

    @Test func toolsWithNoAgentExit3AndSayHowToStartOne() throws {
        let sandbox = try Sandbox()
        let socket = sandbox.root + "/nobody.sock"
        for command in [["status"], ["status", "--json"], ["relay", "on", "siren"], ["partition", "arm", "main"],
                        ["events", "--json"], ["sim", "input", "in1", "active"], ["inputs"]] {
            let r = try Tool.run(command + ["--socket", socket])
            #expect(r.status == 3, "\(r)")
            #expect(r.stderr.contains(socket), "the message does not name the socket: \(r)")
            #expect(r.stderr.contains("chekt-bridge run"), "the message does not say how to start an agent: \(r)")
        }
        // $CHEKT_BRIDGE_SOCKET is where the tools look when --socket is not given.
        let viaEnv = try Tool.run(["status"], env: ["CHEKT_BRIDGE_SOCKET": socket])
        #expect(viaEnv.status == 3, "\(viaEnv)")
        #expect(viaEnv.stderr.contains(socket), "\(viaEnv)")
    }

    @Test func unknownCommandsAndOptionsExit2() throws {
        let sandbox = try Sandbox()
        let socket = sandbox.root + "/nobody.sock"
        let cases: [([String], String)] = [
            (["frobnicate"], "unknown command \"frobnicate\""),
            (["status", "--jsn"], "unknown option --jsn"),
            (["relay", "pulse", "door_strike", "--ms", "abc"], "--ms"),
            (["relay", "spin", "door_strike"], "unknown relay action"),
            (["partition", "arm"], "missing"),
            (["partition", "arm", "main", "--mode", "night"], "--mode"),
            (["sim", "input", "in1", "maybe"], "active or inactive"),
            (["events", "--since", "x"], "--since"),
            ([], "usage"),
        ]
        for (arguments, words) in cases {
            // Usage is checked before the agent is asked: exit 2 even with no agent running.
            let r = try Tool.run(arguments + ["--socket", socket])
            #expect(r.status == 2, "\(r)")
            #expect(r.stderr.contains(words), "expected \"\(words)\" in the message: \(r)")
        }
    }

    @Test func unknownNamesExit2AndListWhatExists() throws {
        let sandbox = try Sandbox()
        let agent = try Agent(sandbox, config: Fixture.config(board: try Repo.board(), stateDir: sandbox.stateDir))
        defer { agent.stop() }
        try agent.start()
        let start = try agent.lastSeq

        let cases: [([String], [String])] = [
            (["relay", "on", "sirne"], ["sirne", "door_strike", "siren", "gate"]),
            (["relay", "pulse", "nosuch", "--ms", "100"], ["nosuch", "door_strike", "siren", "gate"]),
            (["zone", "bypass", "back_door"], ["back_door", "front_door", "hall_pir", "smoke", "back_window"]),
            (["partition", "arm", "upstairs"], ["upstairs", "main"]),
            (["partition", "disarm", "upstairs"], ["upstairs", "main"]),
            (["sim", "input", "in9", "active"], ["in9", "in1"]),
        ]
        for (arguments, names) in cases {
            let r = try agent.tool(arguments)
            #expect(r.status == 2, "\(r)")
            for name in names {
                #expect(r.stderr.contains(name), "expected \"\(name)\" in the message: \(r)")
            }
        }
        #expect(try agent.events().actions(after: start).isEmpty, agent.note)
        #expect(agent.isRunning)
    }
}

/// A `ca_file` the platform link cannot use is a configuration error at start (exit 2), not a link that never connects.
@Suite struct CAFileTests {
    @Test func aCAFileWithoutACertificateStopsTheStartNamingIt() throws {
        let sandbox = try Sandbox()
        let credentials = sandbox.root + "/credentials.json"
        try PlatformCredentials.random("ca").write(to: credentials)
        let caFile = try sandbox.write("ca.pem", "not a certificate\n")
        let config = try sandbox.writeJSON("config.json", Fixture.platformConfig(
            board: try Repo.board(), stateDir: sandbox.stateDir, url: "https://127.0.0.1:9/v1", credentials: credentials, caFile: caFile))
        let r = try Tool.run(["run", "--config", config, "--simulate", "--socket", sandbox.socket])
        #expect(r.status == 2 && !r.signalled, "\(r)")
        #expect(r.stderr.contains("cannot start the platform link: ca_file \(caFile): no PEM certificate in it"), "\(r)")
        #expect(!r.stderr.contains("bridge.started"), "\(r)")
    }
}

/// `config validate` refuses every URL `run` refuses: the link's own rules, not only the config reader's.
@Suite struct UpstreamURLValidateTests {
    @Test func aURLWithAQueryIsRefusedByValidateAsByRun() throws {
        let sandbox = try Sandbox()
        var config = Fixture.config(board: try Repo.board(), stateDir: sandbox.stateDir)
        config["upstream"] = ["url": "https://bridge-api.example/v1?x=1", "credentials": sandbox.root + "/credentials.json"]
        let path = try sandbox.writeJSON("config.json", config)
        let why = "upstream.url \"https://bridge-api.example/v1?x=1\" has a query or fragment"
        let validate = try Tool.run(["config", "validate", path])
        #expect(validate.status == 2 && validate.stderr.contains("\(path): \(why)"), "\(validate)")
        let run = try Tool.run(["run", "--config", path, "--simulate", "--socket", sandbox.socket])
        #expect(run.status == 2 && run.stderr.contains("\(path): \(why)") && !run.stderr.contains("upstream.url: upstream.url"), "\(run)")
    }
}
