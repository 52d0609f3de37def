import Foundation
import Testing

/// `doctor`: one line per check; a config it cannot use is named with its problems, exit 2.
@Suite struct DoctorTests {
    func configLine(_ r: ToolResult) -> String {
        r.stdout.split(separator: "\n").first { $0.contains(" config: ") }.map(String.init) ?? ""
    }

    @Test func aMissingConfigIsAConfigurationErrorNamingTheFile() throws {
        let sandbox = try Sandbox()
        let path = sandbox.root + "/nowhere.json"
        let r = try Tool.run(["doctor", "--config", path, "--socket", sandbox.socket])
        #expect(r.status == 2 && !r.signalled, "\(r)")
        let line = configLine(r)
        #expect(line.hasPrefix("FAIL") && line.contains("\(path): cannot read: No such file or directory"), "\(r)")
    }

    @Test func anInvalidConfigIsAConfigurationErrorListingItsFirstProblems() throws {
        let sandbox = try Sandbox()
        var config = Fixture.config(board: try Repo.board(), stateDir: sandbox.stateDir)
        var zones = Fixture.zones
        for i in zones.indices { zones[i]["input"] = "in9" }
        config["zones"] = zones
        let path = try sandbox.writeJSON("config.json", config)
        let r = try Tool.run(["doctor", "--config", path, "--socket", sandbox.socket])
        #expect(r.status == 2 && !r.signalled, "\(r)")
        let line = configLine(r)
        #expect(line.hasPrefix("FAIL"), "\(r)")
        #expect(line.contains("\(path): zones[0].input: no input \"in9\" on board rpi-relay-3ch (has in1..in4)"), "\(r)")
        #expect(line.contains("zones[2].input") && !line.contains("zones[3].input"), "not the first three problems: \(r)")
        #expect(line.contains("and 1 more (chekt-bridge config validate \(path) lists them all)"), "\(r)")
    }
}
