import Foundation
import Testing
@testable import BridgeCore

/// Loading from disk: the shipped boards and examples, board resolution, path resolution, unreadable files.
@Suite struct ConfigLoaderTests {
    // MARK: Shipped files

    @Test func everyShippedBoardLoadsAndIsNamedAfterItsFile() throws {
        let files = try ConfigRepoFiles.list("boards", suffix: ".json")
        #expect(files.count >= 2, "boards/ holds \(files)")
        for file in files {
            let board = try ConfigLoader.loadBoard(path: ConfigRepoFiles.root + "/" + file)
            #expect(board.name + ".json" == (file as NSString).lastPathComponent, "\(file)")
            #expect(!(board.description ?? "").isEmpty, "\(file) has no description")
        }
    }

    @Test func everyExampleConfigLoadsWithItsBoard() throws {
        let files = try ConfigRepoFiles.list("examples", suffix: ".json").filter { ($0 as NSString).lastPathComponent.hasPrefix("config") }
        #expect(!files.isEmpty)
        for file in files {
            let site = try ConfigLoader.loadSite(path: ConfigRepoFiles.root + "/" + file, boardsDirectory: ConfigRepoFiles.root + "/boards")
            #expect(!site.config.zones.isEmpty || !site.config.relays.isEmpty, "\(file) uses nothing")
        }
    }

    @Test func relayHATBoardIsTheCommonThreeChannelHAT() throws {
        let board = try ConfigLoader.loadBoard(path: ConfigRepoFiles.root + "/boards/rpi-relay-3ch.json")
        #expect(board.gpioChips == [.init(id: "header", labels: ["pinctrl-rp1", "pinctrl-bcm2711", "pinctrl-bcm2835"])])
        #expect(board.inputs == zip(["in1", "in2", "in3", "in4"], ["GPIO5", "GPIO6", "GPIO13", "GPIO19"]).map {
            .init(id: $0, source: .gpio(.init(chip: "header", line: .name($1))), activeLow: true, bias: .pullUp, debounceMs: 50)
        })
        #expect(board.outputs == zip(["out1", "out2", "out3"], ["GPIO26", "GPIO20", "GPIO21"]).map {
            .init(id: $0, sink: .gpio(.init(chip: "header", line: .name($1))), activeLow: true)
        })
        #expect(board.modbusBuses.isEmpty && board.modbusDevices.isEmpty)
    }

    @Test func modbusBoardIsAnEightByEightModuleOnRS485() throws {
        let board = try ConfigLoader.loadBoard(path: ConfigRepoFiles.root + "/boards/rpi-modbus-io8.json")
        #expect(board.modbusBuses == [.init(id: "rs485", transport: .rtu(device: "/dev/chekt-rs485", baud: 9600, parity: .none,
                                                                          dataBits: 8, stopBits: 1), timeoutMs: 200)])
        let inputIDs = (1...8).map { "io8.in\($0)" }
        let outputIDs = (1...8).map { "io8.out\($0)" }
        #expect(board.modbusDevices == [.init(id: "io8", bus: "rs485", unit: 1, pollMs: 250, offlineAfter: 3,
                                              inputIDs: inputIDs, outputIDs: outputIDs)])
        for (n, id) in inputIDs.enumerated() {
            #expect(board.input(id)?.source == .modbus(device: "io8", point: .discreteInput(address: n)))
        }
        for (n, id) in outputIDs.enumerated() {
            #expect(board.output(id)?.sink == .modbus(device: "io8", point: .coil(address: n)))
        }
        #expect(board.deviceID(ofInput: "io8.in3") == "io8")
    }

    @Test func demoConfigIsLocalModeOnTheRelayHAT() throws {
        let path = ConfigRepoFiles.root + "/examples/demo/config.json"
        let site = try ConfigLoader.loadSite(path: path, boardsDirectory: "/nonexistent")
        #expect(site.boardPath == ConfigRepoFiles.root + "/examples/demo/../../boards/rpi-relay-3ch.json")
        #expect(site.board.name == "rpi-relay-3ch")
        #expect(site.config.bridge == .init(id: "brg_demo", board: "../../boards/rpi-relay-3ch.json",
                                            stateDir: ConfigRepoFiles.root + "/examples/demo/state"))
        #expect(site.config.upstream == nil)
        #expect(site.config.partitions == [.init(id: "main", exitDelayS: 10, entryDelayS: 10, remoteExitDelayS: 0,
                                                 siren: .init(relay: "siren", timeoutS: 120))])
        #expect(site.config.zones.map { [$0.id, $0.input, $0.type.rawValue] } == [
            ["front_door", "in1", "entry_exit"], ["hall_pir", "in2", "interior"], ["smoke", "in3", "fire"],
            ["back_window", "in4", "instant"],
        ])
        #expect(site.config.relays == [
            .init(id: "door_strike", output: "out1", mode: .pulse, pulseMs: 3000, maxOnMs: 10_000),
            .init(id: "siren", output: "out2", mode: .latch, maxOnMs: 600_000),
            .init(id: "gate", output: "out3", mode: .pulse, pulseMs: 1000, maxOnMs: 5000),
        ])
    }

    @Test func udevRulesAreWellFormed() throws {
        let text = try String(contentsOfFile: ConfigRepoFiles.root + "/udev/99-chekt-bridge.rules", encoding: .utf8)
        let rules = text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        // Every rule is comma-separated KEY op "value" pairs; a stray quote or operator makes udev skip the line.
        let pair = /^\s*[A-Z_]+(\{[A-Za-z_]+\})?(==|!=|\+=|:=|=)"[^"]*"\s*$/
        for rule in rules {
            for part in rule.split(separator: ",") {
                #expect(String(part).wholeMatch(of: pair) != nil, "bad rule part: \(part)")
            }
        }
        #expect(rules.filter { $0.contains(#"KERNEL=="gpiochip[0-9]*""#) && $0.contains(#"GROUP="chekt-bridge""#) }.count == 1)
        for (vendor, product) in [("0403", "6001"), ("1a86", "7523"), ("10c4", "ea60")] {
            #expect(rules.contains { $0.contains(#"ATTRS{idVendor}=="\#(vendor)""#) && $0.contains(#"ATTRS{idProduct}=="\#(product)""#)
                && $0.contains(#"SYMLINK+="chekt-rs485""#) && $0.contains(#"MODE="0660""#) }, "\(vendor):\(product)")
        }
    }

    // MARK: Unreadable files

    @Test func missingFileIsOneIssueInStrerrorsWords() {
        #expect(loadIssues("/nonexistent/chekt/config.json") == ["/nonexistent/chekt/config.json: cannot read: No such file or directory"])
    }

    @Test func directoryIsNotAConfigFile() throws {
        let tmp = try ConfigTempFolder()
        #expect(loadIssues(tmp.path) == ["\(tmp.path): cannot read: not a regular file but a folder; give the path of a JSON file"])
    }

    @Test func emptyAndOversizedFilesAreOneIssueEach() throws {
        let tmp = try ConfigTempFolder()
        let empty = try tmp.write("empty.json", "")
        #expect(loadIssues(empty) == ["\(empty): file is empty; expected a JSON object"])
        let huge = try tmp.write("huge.json", String(repeating: " ", count: ConfigLoader.maximumFileSize + 1))
        #expect(loadIssues(huge) == ["\(huge): cannot read: larger than 1 MiB, which no configuration file is; is this the right file?"])
    }

    @Test func aBoardGivenAsASiteConfigAndViceVersaIsOneClearIssue() {
        let board = ConfigRepoFiles.root + "/boards/rpi-relay-3ch.json"
        #expect(loadIssues(board) == [
            "\(board): this is a board profile, not a site config (it has \"name\" and no \"bridge\"); check it with "
                + "`chekt-bridge board validate`, or name it in a site config's \"bridge\": {\"board\": ...}",
        ])
        let config = ConfigRepoFiles.root + "/examples/demo/config.json"
        do {
            _ = try ConfigLoader.loadBoard(path: config)
            Issue.record("a site config loaded as a board")
        } catch {
            #expect(error.issues.map(\.description) == [
                "\(config): this is a site config, not a board profile (it has \"bridge\" and no \"name\"); "
                    + "check it with `chekt-bridge config validate`",
            ])
        }
    }

    // MARK: Finding the board

    @Test func boardNotFoundNamesEveryPlaceTried() throws {
        let tmp = try ConfigTempFolder()
        let config = try tmp.write("site/config.json", #"{"bridge": {"id": "b", "board": "nope.json"}}"#)
        #expect(loadIssues(config, boards: tmp.path + "/installed") == [
            "\(config): bridge.board: board \"nope.json\" not found; tried \"\(tmp.path)/site/nope.json\" and \"\(tmp.path)/installed/nope.json\"",
        ])
        let nested = try tmp.write("site/nested.json", #"{"bridge": {"id": "b", "board": "boards/nope.json"}}"#)
        #expect(loadIssues(nested, boards: tmp.path + "/installed") == [
            "\(nested): bridge.board: board \"boards/nope.json\" not found; tried \"\(tmp.path)/site/boards/nope.json\", "
                + "\"\(tmp.path)/installed/boards/nope.json\" and \"\(tmp.path)/installed/nope.json\"",
        ])
        let absolute = try tmp.write("site/absolute.json", #"{"bridge": {"id": "b", "board": "/nonexistent/b.json"}}"#)
        #expect(loadIssues(absolute, boards: tmp.path) == [
            "\(absolute): bridge.board: board \"/nonexistent/b.json\" not found; tried \"/nonexistent/b.json\"",
        ])
    }

    @Test func boardIsLookedForNextToTheConfigThenInTheBoardsFolder() throws {
        let tmp = try ConfigTempFolder()
        let installed = try tmp.write("installed/x.json", Self.board(name: "installed"))
        let config = try tmp.write("etc/config.json", #"{"bridge": {"id": "b", "board": "x.json"}}"#)
        var site = try ConfigLoader.loadSite(path: config, boardsDirectory: tmp.path + "/installed")
        #expect(site.boardPath == installed)
        #expect(site.board.name == "installed")

        // config.md's example writes "boards/x.json": the installed profile of that name is found.
        let nested = try tmp.write("etc/nested.json", #"{"bridge": {"id": "b", "board": "boards/x.json"}}"#)
        site = try ConfigLoader.loadSite(path: nested, boardsDirectory: tmp.path + "/installed")
        #expect(site.boardPath == installed)

        let local = try tmp.write("etc/x.json", Self.board(name: "local"))
        site = try ConfigLoader.loadSite(path: config, boardsDirectory: tmp.path + "/installed")
        #expect(site.boardPath == local)
        #expect(site.board.name == "local")
    }

    @Test func candidatesForRelativeConfigPaths() {
        #expect(ConfigLoader.boardCandidates("b.json", configPath: "config.json", boardsDirectory: "/usr/share/x")
                == ["b.json", "/usr/share/x/b.json"])
        #expect(ConfigLoader.boardCandidates("../../boards/b.json", configPath: "examples/demo/config.json", boardsDirectory: "/d/")
                == ["examples/demo/../../boards/b.json", "/d/../../boards/b.json", "/d/b.json"])
        #expect(ConfigLoader.boardCandidates("b.json", configPath: "/config.json", boardsDirectory: "/d") == ["/b.json", "/d/b.json"])
        #expect(ConfigLoader.directory(of: "./config.json") == ".")
        #expect(ConfigLoader.resolve("state", against: ".") == "state")
        #expect(ConfigLoader.resolve("/var/x", against: "/etc") == "/var/x")
    }

    // MARK: Everything at once

    @Test func configBoardAndCrossCheckIssuesComeInOneError() throws {
        let tmp = try ConfigTempFolder()
        let board = try tmp.write("b.json", #"""
            {"name": "b", "gpio_chips": [{"id": "c", "labels": ["l"]}],
             "inputs": [{"id": "in1", "gpio": {"chip": "c", "line": 1}, "debounce_ms": 99999}, {"gpio": {"chip": "c", "line": 2}}],
             "outputs": [{"id": "out1", "gpio": {"chip": "c", "line": 3}}]}
            """#)
        let config = try tmp.write("config.json", #"""
            {"bridge": {"id": "b", "board": "b.json"},
             "partitions": [{"id": "p"}],
             "zones": [{"id": "z1", "input": "in1", "partition": "p", "type": "fire", "swinger": 2},
                       {"id": "z2", "input": "in2", "partition": "p", "type": "instant"}],
             "relays": [{"id": "r", "output": "out1", "mode": "pulse"}]}
            """#)
        #expect(loadIssues(config, boards: "/nonexistent") == [
            #"\#(config): zones[0]: unknown key "swinger"; did you mean "swinger_limit"?"#,
            #"\#(config): relays[0]: missing required key "pulse_ms" (required when mode is "pulse")"#,
            #"\#(config): zones[1].input: no input "in2" on board b (has in1)"#,
            "\(board): inputs[0].debounce_ms: debounce_ms 99999 is out of range 0...60000",
            #"\#(board): inputs[1]: missing required key "id""#,
        ])
    }

    @Test func unreadableBoardIsReportedUnderItsOwnName() throws {
        let tmp = try ConfigTempFolder()
        try FileManager.default.createDirectory(atPath: tmp.path + "/b.json", withIntermediateDirectories: true)
        let config = try tmp.write("config.json", #"{"bridge": {"id": "b", "board": "b.json"}, "zones": [{"id": "z"}]}"#)
        #expect(loadIssues(config, boards: "/nonexistent") == [
            #"\#(config): zones[0]: missing required key "input""#,
            #"\#(config): zones[0]: missing required key "partition""#,
            #"\#(config): zones[0]: missing required key "type""#,
            "\(tmp.path)/b.json: cannot read: not a regular file but a folder; give the path of a JSON file",
        ])
        let notJSON = try tmp.write("bad.json", "name: x\n")
        let config2 = try tmp.write("config2.json", #"{"bridge": {"id": "b", "board": "bad.json"}}"#)
        #expect(loadIssues(config2, boards: "/nonexistent") == [
            #"\#(notJSON): not valid JSON: line 1, column 1: expected a value, found "name""#,
        ])
    }

    @Test func relativePathsAreResolvedAgainstTheConfigFolder() throws {
        let tmp = try ConfigTempFolder()
        try tmp.write("b.json", Self.board(name: "b"))
        let config = try tmp.write("config.json", #"""
            {"bridge": {"id": "b", "board": "b.json", "state_dir": "state"},
             "upstream": {"url": "https://x.example", "credentials": "secrets/creds.json", "ca_file": "/etc/ssl/ca.pem"}}
            """#)
        let site = try ConfigLoader.loadSite(path: config, boardsDirectory: "/nonexistent")
        #expect(site.config.bridge.stateDir == tmp.path + "/state")
        #expect(site.config.bridge.board == "b.json")
        #expect(site.config.upstream?.credentials == tmp.path + "/secrets/creds.json")
        #expect(site.config.upstream?.caFile == "/etc/ssl/ca.pem")

        let absolute = try tmp.write("abs.json", #"{"bridge": {"id": "b", "board": "b.json"}}"#)
        #expect(try ConfigLoader.loadSite(path: absolute, boardsDirectory: "/nonexistent").config.bridge.stateDir == "/var/lib/chekt-bridge")
    }

    @Test func issuesPrintFilePathAndMessage() {
        let a = ConfigIssue(file: "config.json", path: "zones[3].input", message: "no input")
        let b = ConfigIssue(file: "config.json", path: "", message: "file is empty")
        #expect(a.description == "config.json: zones[3].input: no input")
        #expect(b.description == "config.json: file is empty")
        #expect(ConfigError(issues: [a, b]).description == "config.json: zones[3].input: no input\nconfig.json: file is empty")
    }

    // MARK: Helpers

    private func loadIssues(_ path: String, boards: String = "/nonexistent") -> [String] {
        do {
            _ = try ConfigLoader.loadSite(path: path, boardsDirectory: boards)
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }

    private static func board(name: String) -> String {
        #"{"name": "\#(name)", "gpio_chips": [{"id": "c", "labels": ["l"]}], "inputs": [{"id": "in1", "gpio": {"chip": "c", "line": 1}}]}"#
    }
}

/// Files of this repository, found from this source file's path (tests run from any working directory).
enum ConfigRepoFiles {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
        }
        return "/nonexistent-repo-root"
    }()

    /// Paths relative to the root, under `folder`, recursively, ending in `suffix`, sorted.
    static func list(_ folder: String, suffix: String) throws -> [String] {
        let base = root + "/" + folder
        guard let walker = FileManager.default.enumerator(atPath: base) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: base])
        }
        return walker.compactMap { $0 as? String }.filter { $0.hasSuffix(suffix) }.map { folder + "/" + $0 }.sorted()
    }
}

/// A fresh folder under the system temporary folder, removed when the value goes away.
final class ConfigTempFolder {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "chekt-config-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Writes `text` to `relative` (creating folders) and returns the file's full path.
    @discardableResult
    func write(_ relative: String, _ text: String) throws -> String {
        let file = path + "/" + relative
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        return file
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
