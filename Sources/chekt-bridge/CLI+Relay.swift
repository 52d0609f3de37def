import BridgeSystem
import BridgeAgent
import BridgeCore
import Glibc

/// `relay on|off|pulse|test`: driving relays by hand, and the click test a technician runs at installation.
extension CLI {
    static func relay(_ words: [String], socket: String) throws -> Int32 {
        let args = try Arguments(words, flags: [], options: ["--ms"])
        guard let verb = args.positional.first else { throw Arguments.UsageError(message: "relay needs on, off, pulse or test") }
        switch verb {
        case "on", "off":
            guard args.values["--ms"] == nil else { throw Arguments.UsageError(message: "--ms goes with relay pulse") }
            let relay = try args.expect(["on|off", "RELAY"])[1]
            return try request(socket, verb == "on" ? "relay.activate" : "relay.deactivate", ["relay": .string(relay)])
        case "pulse":
            let relay = try args.expect(["pulse", "RELAY"])[1]
            guard let ms = try args.int("--ms", in: 1...86_400_000) else { return try request(socket, "relay.pulse", ["relay": .string(relay)]) }
            return try pulse(relay, ms: ms, socket: socket)
        case "test":
            return try relayTest(Array(args.positional.dropFirst()), ms: try args.int("--ms", in: 1...60_000) ?? 500, socket: socket)
        default:
            throw Arguments.UsageError(message: "unknown relay action \"\(verb)\" (on, off, pulse, test)")
        }
    }

    /// `relay pulse RELAY --ms N`, saying so when the agent cut the pulse short to the relay's `max_on_ms`.
    static func pulse(_ relay: String, ms: Int, socket: String) throws -> Int32 {
        let (answer, code) = try call(socket, ["op": "status"])
        guard let lastSeq = answer?["status"]?["outbox"]?["last_seq"]?.intValue else { return code }
        let result = try submit(socket, "relay.pulse", ["relay": .string(relay), "duration_ms": .int(Int64(ms))])
        guard result.code == 0 else { return result.code }
        // The relay.activated event says how long the agent will hold it: durable before the answer came.
        let client = try ControlClient(path: socket)
        guard client.send(["op": "events", "since": .int(min(max(lastSeq, 0), .max - 1) + 1)]) else { return 0 }
        if let activated = nextEvent(in: client, where: { isActivation($0, of: relay) }),
           let notice = cutNotice(activated, askedMs: ms) {
            Output.out(notice)
        }
        return 0
    }

    /// `cut to 1495 ms by max_on_ms (asked for 5000 ms)` when `relay.activated` holds the relay for less than asked.
    static func cutNotice(_ activated: JSONValue, askedMs: Int) -> String? {
        guard let held = activated["data"]?["duration_ms"]?.intValue, held < askedMs else { return nil }
        return "cut to \(held) ms by max_on_ms (asked for \(askedMs) ms)"
    }

    static func isActivation(_ event: JSONValue, of relay: String) -> Bool {
        event["type"]?.stringValue == EventType.relayActivated.rawValue && event["data"]?["relay"]?.stringValue == relay
    }

    static func isRelease(_ event: JSONValue, of relay: String) -> Bool {
        event["type"]?.stringValue == EventType.relayDeactivated.rawValue && event["data"]?["relay"]?.stringValue == relay
    }

    /// What became of one relay in `relay test`.
    enum RelayTestOutcome: Equatable {
        case confirmed
        case answeredNo
        /// Pulsed, but the answer was `q` or the input ended.
        case unanswered
        /// The agent refused the pulse (its code, e.g. `busy`).
        case notPulsed(String)
        /// Never pulsed: the test ended before it.
        case notTested

        var words: String {
            switch self {
            case .confirmed: return "confirmed"
            case .answeredNo: return "answered no"
            case .unanswered: return "pulsed, not answered"
            case .notPulsed(let code): return "not pulsed (refused: \(code))"
            case .notTested: return "not tested"
            }
        }
    }

    /// Pulses each relay in turn and asks the technician whether it clicked.
    ///
    /// Strictly one after another, whether the answers are typed or come from a script: a relay is pulsed,
    /// its release is awaited in the journal (followed on a second connection), then its answer is read,
    /// then the next relay is pulsed. So no two relays are ever on together, not even two of an interlock group.
    static func relayTest(_ names: [String], ms: Int, socket: String) throws -> Int32 {
        let (answer, code) = try call(socket, ["op": "status"])
        guard let status = answer?["status"], let relays = status["relays"]?.arrayValue else { return code }
        let all = relays.compactMap { $0["id"]?.stringValue }
        let chosen = names.isEmpty ? all : names
        if let unknown = chosen.first(where: { !all.contains($0) }) {
            Output.err("chekt-bridge: no relay \"\(unknown)\" (has \(all.joined(separator: ", ")))")
            return Exit.usage.rawValue
        }
        let journal = try ControlClient(path: socket)
        // From the agent's answer: range-checked before the + 1.
        let since = min(max(status["outbox"]?["last_seq"]?.intValue ?? 0, 0), .max - 1) + 1
        guard journal.send(["op": "events", "follow": true, "since": .int(since)]) else {
            throw ControlClient.NoAgent(path: socket, reason: "the agent closed the connection")
        }
        let interactive = isatty(0) == 1
        var outcomes = chosen.map { ($0, RelayTestOutcome.notTested) }
        var agentStopped = false
        for (i, relay) in chosen.enumerated() {
            Output.out("pulsing \(relay) for \(ms) ms ...")
            let pulse = try submit(socket, "relay.pulse", ["relay": .string(relay), "duration_ms": .int(Int64(ms))])
            if pulse.code != 0 { outcomes[i].1 = .notPulsed(pulse.refusal ?? "failed"); continue }
            // Its activation (recorded before the answer came) says how long the agent holds it.
            guard let activated = nextEvent(in: journal, where: { isActivation($0, of: relay) }) else { agentStopped = true; break }
            if let notice = cutNotice(activated, askedMs: ms) { Output.out("\(relay): \(notice)") }
            if interactive { Posix.writeAll(1, Array("did \(relay) click? [y/n/q] ".utf8)) }
            // The pulse is over when its release is recorded.
            guard nextEvent(in: journal, where: { isRelease($0, of: relay) }) != nil else { agentStopped = true; break }
            // The answer: typed at the prompt (the terminal keeps what was typed early), or a script's next line.
            guard let line = readLine()?.lowercased() else { outcomes[i].1 = .unanswered; break }
            if line.hasPrefix("q") { outcomes[i].1 = .unanswered; break }
            outcomes[i].1 = line.hasPrefix("y") ? .confirmed : .answeredNo
        }
        if interactive { Output.out("") }
        Output.out(relayTestReport(outcomes))
        let failed = outcomes.filter { $0.1 != .confirmed }
        if agentStopped {
            throw ControlClient.NoAgent(path: socket, reason: "the agent stopped during the relay test")
        }
        guard failed.isEmpty else {
            Output.err("relay test failed: not confirmed: " + failed.map { "\($0.0) (\($0.1.words))" }.joined(separator: ", "))
            return Exit.refused.rawValue
        }
        Output.out("relay test passed: every relay clicked (\(chosen.joined(separator: ", ")))")
        return 0
    }

    /// The next event of a followed journal that matches; nil when the agent closed the stream.
    static func nextEvent(in journal: ControlClient, where matches: (JSONValue) -> Bool) -> JSONValue? {
        while let line = journal.next() {
            if let event = line["event"], matches(event) { return event }
            if line["ok"]?.boolValue == false { return nil }
        }
        return nil
    }

    /// The table at the end of `relay test`: each relay and what became of it.
    static func relayTestReport(_ outcomes: [(String, RelayTestOutcome)]) -> String {
        Output.table(["RELAY", "RESULT"], outcomes.map { [$0.0, $0.1.words] }, style: { r, c, cell in
            guard c == 1 else { return cell }
            return outcomes[r].1 == .confirmed ? Output.green(cell) : Output.red(cell)
        })
    }
}
