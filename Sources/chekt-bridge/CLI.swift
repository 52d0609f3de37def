import BridgeSystem
import BridgeAgent
import BridgeCore
import BridgeHardware
import BridgeUplink
import Glibc

/// The `chekt-bridge` command: dispatches the command words of cli.md and maps outcomes to exit codes.
enum CLI {
    enum Exit: Int32 {
        case ok = 0, refused = 1, usage = 2, noAgent = 3

        /// The exit code an agent's failure answer names (`"exit"`), when it is one of cli.md's; else 1. The
        /// answer comes from whatever listens on the socket: a number out of range is not trusted, nor trapped on.
        static func code(_ value: JSONValue?) -> Int32 {
            guard let n = value?.intValue, let known = Exit(rawValue: Int32(clamping: n)), Int64(known.rawValue) == n else { return 1 }
            return known.rawValue
        }
    }

    static func main(_ argv: [String]) async -> Int32 {
        var words = argv
        // --socket is global: take it out wherever it stands.
        var socket = getenv("CHEKT_BRIDGE_SOCKET").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
            ?? ControlClient.defaultSocketPath
        if let i = words.firstIndex(where: { $0 == "--socket" || $0.hasPrefix("--socket=") }) {
            if words[i] == "--socket" {
                guard i + 1 < words.count else { return usage("--socket needs a path") }
                socket = words[i + 1]
                words.removeSubrange(i...(i + 1))
            } else {
                socket = String(words[i].dropFirst("--socket=".count))
                words.remove(at: i)
            }
        }
        guard let command = words.first else { Output.err(Help.overview); return Exit.usage.rawValue }
        let rest = Array(words.dropFirst())
        if command == "--help" || command == "-h" || command == "help" {
            Output.out(Help.overview); return 0
        }
        if rest.contains("--help") || rest.contains("-h") {
            guard let text = Help.commands[command] else { return usage("unknown command \"\(command)\"") }
            Output.out(text); return 0
        }
        do {
            switch command {
            case "run": return try await run(rest, socket: socket)
            case "status": return try status(rest, socket: socket)
            case "relay": return try relay(rest, socket: socket)
            case "partition": return try partition(rest, socket: socket)
            case "zone": return try zone(rest, socket: socket)
            case "inputs": return try inputs(rest, socket: socket)
            case "events": return try events(rest, socket: socket)
            case "sim": return try sim(rest, socket: socket)
            case "doctor": return try doctor(rest, socket: socket)
            case "board": return try validate(rest, kind: "board")
            case "config": return try validate(rest, kind: "config")
            case "version":
                _ = try Arguments(rest, flags: [], options: []).expect([])
                Output.out(versionLine())
                return 0
            default:
                return usage("unknown command \"\(command)\"; see chekt-bridge --help")
            }
        } catch let e as Arguments.UsageError {
            return usage(e.message, command: command)
        } catch let e as ControlClient.NoAgent {
            Output.err("chekt-bridge: \(e)")
            return Exit.noAgent.rawValue
        } catch let e as ControlClient.AccessDenied {
            // An agent is there; this user may not talk to it: a setup problem, not "no agent".
            Output.err("chekt-bridge: \(e)")
            return Exit.usage.rawValue
        } catch {
            Output.err("chekt-bridge: \(error)")
            return Exit.refused.rawValue
        }
    }

    /// `chekt-bridge 0.1.0 (libgpiod 1.6.3, libmodbus 3.1.6, libcurl/7.88.1, libcrypto (OpenSSL 3.0.19 27 Jan 2026))`:
    /// every C library the agent uses, libcurl and libcrypto loaded here as the platform link would load them.
    static func versionLine() -> String {
        let crypto = CryptoLibrary.version
        let libraries = ["libgpiod \(GPIODLibrary.version)", "libmodbus \(ModbusLibrary.version)",
                         CurlLibrary.unavailableReason == nil ? String(CurlLibrary.version.split(separator: " ").first ?? "") : CurlLibrary.version,
                         crypto.hasPrefix("libcrypto") ? crypto : "libcrypto (\(crypto))"]
        return "chekt-bridge \(AgentVersion.string) (\(libraries.joined(separator: ", ")))"
    }

    static func usage(_ message: String, command: String? = nil) -> Int32 {
        var text = "chekt-bridge: \(message)"
        if let command, let help = Help.commands[command], let first = help.split(separator: "\n").first {
            text += "\n\(first)\n(chekt-bridge \(command) --help for more)"
        }
        Output.err(text)
        return Exit.usage.rawValue
    }

    // MARK: run

    static func run(_ words: [String], socket: String) async throws -> Int32 {
        let args = try Arguments(words, flags: ["--simulate"], options: ["--config", "--state-dir", "--log-level"])
        _ = try args.expect([])
        guard let config = args.values["--config"] else { throw Arguments.UsageError(message: "run needs --config FILE") }
        if let name = args.values["--log-level"] {
            guard let level = Log.Level(name: name) else {
                throw Arguments.UsageError(message: "--log-level must be one of \(Log.Level.allCases.map(\.name).joined(separator: ", ")), not \"\(ConfigText.printable(name))\"")
            }
            Log.level = level
        }
        return await Launcher.run(.init(configPath: config, simulate: args.has("--simulate"),
                                        stateDir: args.values["--state-dir"], socketPath: socket))
    }

    // MARK: talking to the agent

    /// One request, one answer; a failed answer is printed and mapped to its exit code.
    static func call(_ socket: String, _ request: JSONObject) throws -> (JSONObject?, Int32) {
        let client = try ControlClient(path: socket)
        guard let answer = client.call(request) else {
            Output.err("chekt-bridge: the agent on \(socket) closed the connection without answering")
            return (nil, Exit.refused.rawValue)
        }
        if answer["ok"]?.boolValue != true {
            Output.err("chekt-bridge: \(answer["message"]?.stringValue ?? "refused")")
            return (nil, Exit.code(answer["exit"]))
        }
        return (answer, 0)
    }

    /// Sends a request of protocol.md's command types; prints the outcome; maps status to the exit code.
    static func request(_ socket: String, _ type: String, _ params: JSONObject) throws -> Int32 {
        try submit(socket, type, params).code
    }

    /// As `request`, also giving the result's `code` when it did not succeed (e.g. `busy`).
    static func submit(_ socket: String, _ type: String, _ params: JSONObject) throws -> (code: Int32, refusal: String?) {
        let (answer, code) = try call(socket, ["op": "request", "type": .string(type), "params": .object(params)])
        guard let result = answer?["result"]?.objectValue else { return (code, "no answer") }
        let status = result["status"]?.stringValue ?? "failed"
        let message = result["message"]?.stringValue
        switch status {
        case "succeeded":
            Output.out(message ?? "done")
            return (0, nil)
        default:
            let code = result["code"]?.stringValue ?? status
            Output.err("refused (\(code)): \(message ?? code)")
            // A name that does not exist or a bad value is the user's input: usage error.
            return (["unknown_target", "invalid_params", "unsupported_command"].contains(code) ? Exit.usage.rawValue : Exit.refused.rawValue, code)
        }
    }

    static func partition(_ words: [String], socket: String) throws -> Int32 {
        let args = try Arguments(words, flags: ["--force"], options: ["--mode"])
        guard let verb = args.positional.first else { throw Arguments.UsageError(message: "partition needs arm or disarm") }
        switch verb {
        case "arm":
            let partition = try args.expect(["arm", "PARTITION"])[1]
            let mode = args.values["--mode"] ?? "away"
            guard mode == "away" || mode == "stay" else { throw Arguments.UsageError(message: "--mode is away or stay, not \"\(mode)\"") }
            return try request(socket, "partition.arm", ["partition": .string(partition), "mode": .string(mode), "force": .bool(args.has("--force"))])
        case "disarm":
            guard !args.has("--force"), args.values["--mode"] == nil else { throw Arguments.UsageError(message: "disarm takes no options") }
            let partition = try args.expect(["disarm", "PARTITION"])[1]
            return try request(socket, "partition.disarm", ["partition": .string(partition)])
        default:
            throw Arguments.UsageError(message: "unknown partition action \"\(verb)\" (arm, disarm)")
        }
    }

    static func zone(_ words: [String], socket: String) throws -> Int32 {
        let args = try Arguments(words, flags: [], options: [])
        let p = try args.expect(["bypass|unbypass", "ZONE"])
        guard p[0] == "bypass" || p[0] == "unbypass" else { throw Arguments.UsageError(message: "unknown zone action \"\(p[0])\" (bypass, unbypass)") }
        return try request(socket, "zone.\(p[0])", ["zone": .string(p[1])])
    }

    static func sim(_ words: [String], socket: String) throws -> Int32 {
        let args = try Arguments(words, flags: [], options: [])
        guard let what = args.positional.first else { throw Arguments.UsageError(message: "sim needs input or device") }
        switch what {
        case "input":
            let p = try args.expect(["input", "INPUT", "active|inactive"])
            guard p[2] == "active" || p[2] == "inactive" else { throw Arguments.UsageError(message: "the level is active or inactive, not \"\(p[2])\"") }
            let (_, code) = try call(socket, ["op": "sim.input", "input": .string(p[1]), "active": .bool(p[2] == "active")])
            if code == 0 { Output.out("\(p[1]) \(p[2])") }
            return code
        case "device":
            let p = try args.expect(["device", "DEVICE", "online|offline"])
            guard p[2] == "online" || p[2] == "offline" else { throw Arguments.UsageError(message: "the state is online or offline, not \"\(p[2])\"") }
            let (_, code) = try call(socket, ["op": "sim.device", "device": .string(p[1]), "online": .bool(p[2] == "online")])
            if code == 0 { Output.out("\(p[1]) \(p[2])") }
            return code
        default:
            throw Arguments.UsageError(message: "unknown sim target \"\(what)\" (input, device)")
        }
    }

    // MARK: files

    static func validate(_ words: [String], kind: String) throws -> Int32 {
        let args = try Arguments(words, flags: [], options: [])
        let p = try args.expect(["validate", "FILE"])
        guard p[0] == "validate" else { throw Arguments.UsageError(message: "unknown \(kind) action \"\(p[0])\" (validate)") }
        do {
            if kind == "board" {
                let board = try ConfigLoader.loadBoard(path: p[1])
                Output.out(ConfigText.printable("\(p[1]): board \(board.name): \(board.gpioChips.count) GPIO chip(s), \(board.inputs.count) input(s), \(board.outputs.count) output(s), \(board.modbusBuses.count) Modbus bus(es), \(board.modbusDevices.count) Modbus device(s): OK"))
            } else {
                let site = try ConfigLoader.loadSite(path: p[1])
                let c = site.config
                // What `run` refuses is refused here too: the link's own URL rules (UpstreamURL), which the
                // configuration reader (BridgeCore, below the link) does not know.
                if let url = c.upstream?.url, case .failure(let e) = UpstreamURL.validate(url) {
                    Output.err(ConfigText.printable("\(p[1]): \(e)"))
                    Output.err("1 problem(s) in \(p[1])")
                    return Exit.usage.rawValue
                }
                let upstream = c.upstream.map { "upstream \($0.url)" } ?? "local mode"
                Output.out(ConfigText.printable("\(p[1]): bridge \(c.bridge.id) on board \(site.board.name) (\(site.boardPath)): \(c.partitions.count) partition(s), \(c.zones.count) zone(s), \(c.relays.count) relay(s), \(upstream): OK"))
            }
            return 0
        } catch {
            Output.err(error.description)
            Output.err("\(error.issues.count) problem(s) in \(p[1])")
            return Exit.usage.rawValue
        }
    }
}
