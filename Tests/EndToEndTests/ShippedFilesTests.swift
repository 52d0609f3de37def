import Foundation
import Testing

/// Every board profile and example the project ships validates with the built binary, as a user would check it.
@Suite struct ShippedFilesTests {
    @Test func everyShippedBoardValidates() throws {
        let boards = Repo.jsonFiles(under: "boards")
        try #require(!boards.isEmpty, "no board profiles found in \(Repo.root)/boards")
        #expect(boards.contains { $0.hasSuffix("/rpi-relay-3ch.json") })
        for board in boards {
            let r = try Tool.run(["board", "validate", board], cwd: Repo.root)
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout.contains("OK"), "\(r)")
        }
    }

    @Test func everyShippedExampleConfigValidates() throws {
        let configs = Repo.jsonFiles(under: "examples")
        try #require(!configs.isEmpty, "no example configs found in \(Repo.root)/examples")
        #expect(configs.contains { $0.hasSuffix("/demo/config.json") })
        for config in configs {
            // From the repository root and from elsewhere: a relative board path is found from the config's folder.
            for cwd in [Repo.root, "/"] {
                let relative = cwd == Repo.root ? String(config.dropFirst(Repo.root.count + 1)) : config
                let r = try Tool.run(["config", "validate", relative], cwd: cwd)
                #expect(r.status == 0, "\(r)")
                #expect(r.stdout.contains("OK"), "\(r)")
            }
        }
    }

    /// The README's quick start: the demo config runs on the simulated board, and the tools talk to it.
    @Test func theDemoConfigRunsOnTheSimulatedBoard() throws {
        let sandbox = try Sandbox()
        let agent = Agent(sandbox, config: Repo.root + "/examples/demo/config.json", arguments: ["--state-dir", sandbox.stateDir])
        defer { agent.stop() }
        let status = try agent.start()
        #expect(status["bridge"]?["id"] == "brg_demo")
        #expect(status["relays"]?.array?.compactMap { $0["id"]?.string } == ["door_strike", "siren", "gate"])
        #expect(status["zones"]?.array?.compactMap { $0["id"]?.string } == ["front_door", "hall_pir", "smoke", "back_window"])
        #expect(sandbox.exists(sandbox.journalDir), "--state-dir was not used")
    }
}
