import BridgeSystem
import BridgeAgent
import BridgeCore
import Glibc

/// `status`, `inputs` and `events`: what the agent knows, for people and for scripts.
extension CLI {
    static func status(_ words: [String], socket: String) throws -> Int32 {
        let args = try Arguments(words, flags: ["--json"], options: [])
        _ = try args.expect([])
        let (answer, code) = try call(socket, ["op": "status"])
        guard let status = answer?["status"] else { return code }
        if args.has("--json") { Output.json(status); return 0 }
        Output.out(renderStatus(status))
        return 0
    }

    static func renderStatus(_ s: JSONValue) -> String {
        var parts: [String] = []
        let agent = s["agent"], bridge = s["bridge"], outbox = s["outbox"], upstream = s["upstream"]
        parts.append(Output.bold("bridge \(bridge?["id"]?.cell ?? "?")") + " on \(bridge?["board"]?.cell ?? "?")"
            + (agent?["simulated"]?.boolValue == true ? " (simulated)" : "")
            + ", agent \(agent?["version"]?.cell ?? "?"), up \(agent?["uptime_s"]?.cell ?? "?") s")
        if upstream?["mode"]?.stringValue == "local" {
            parts.append("upstream: local mode (no platform)")
            // The JSON says 0 (protocol.md's snapshot always has the key); here, that there is nothing to compare with.
            parts.append("clock offset: none (local mode, no platform)")
        } else {
            let state = upstream?["auth_failed"]?.boolValue == true ? Output.red("authentication failing (fix the credentials, then SIGHUP)")
                : upstream?["connected"]?.boolValue == true ? Output.green("connected") : Output.red("not connected")
            parts.append("upstream: \(upstream?["url"]?.cell ?? "?") \(state); last heartbeat \(upstream?["last_heartbeat"]?.cell ?? "-")")
            if let error = upstream?["last_error"]?.stringValue {
                parts.append("  last error \(upstream?["last_error_at"]?.cell ?? ""): \(error)")
            }
            parts.append("clock offset: \(s["clock_offset_ms"]?.cell ?? "0") ms (the platform's clock minus ours)")
        }
        if let storage = s["storage"], storage["ok"]?.boolValue == false {
            // The state folder refuses writes: events wait in memory, answers wait for them (docs/troubleshooting.md).
            if let problem = storage["journal_problem"]?.stringValue {
                parts.append(Output.red("storage: events cannot be recorded since \(storage["journal_problem_since"]?.cell ?? "?") (\(storage["unrecorded_events"]?.cell ?? "?") waiting in memory): \(problem)"))
            }
            if let problem = storage["snapshot_problem"]?.stringValue {
                parts.append(Output.red("storage: the state snapshot cannot be saved since \(storage["snapshot_problem_since"]?.cell ?? "?"): \(problem)"))
            }
        }
        parts.append("outbox: \(outbox?["pending"]?.cell ?? "0") pending (oldest \(outbox?["oldest_age_s"]?.cell ?? "0") s), \(outbox?["dead_lettered"]?.cell ?? "0") dead-lettered, \(outbox?["dropped"]?.cell ?? "0") dropped, last seq \(outbox?["last_seq"]?.cell ?? "0")")

        let partitions = s["partitions"]?.arrayValue ?? []
        parts.append("\n" + Output.table(["PARTITION", "STATE", "BYPASSED", "DELAY ENDS"], partitions.map { p in
            [p["id"]?.cell ?? "", p["state"]?.cell ?? "", p["bypassed"]?.cell ?? "-",
             (p["exit_ends_at"] ?? p["entry_ends_at"])?.cell ?? "-"]
        }, style: { r, c, cell in
            guard c == 1 else { return cell }
            let state = partitions[r]["state"]?.stringValue ?? ""
            return state == "alarm" ? Output.red(cell) : state == "disarmed" ? cell : Output.yellow(cell)
        }))
        let zones = s["zones"]?.arrayValue ?? []
        parts.append("\n" + Output.table(["ZONE", "PARTITION", "TYPE", "INPUT", "STATE", "BYPASSED"], zones.map { z in
            let trouble = z["trouble"]?.boolValue == true
            return [z["id"]?.cell ?? "", z["partition"]?.cell ?? "", z["type"]?.cell ?? "", z["input"]?.cell ?? "",
                    trouble ? "trouble" : (z["state"]?.cell ?? ""), z["bypassed"]?.cell ?? "no"]
        }, style: { r, c, cell in
            guard c == 4 else { return cell }
            return zones[r]["state"]?.stringValue == "faulted" || zones[r]["trouble"]?.boolValue == true ? Output.red(cell) : cell
        }))
        let relays = s["relays"]?.arrayValue ?? []
        parts.append("\n" + Output.table(["RELAY", "OUTPUT", "MODE", "ON", "UNTIL"], relays.map { r in
            [r["id"]?.cell ?? "", r["output"]?.cell ?? "", r["mode"]?.cell ?? "",
             (r["on"]?.cell ?? "") + (r["applied"]?.boolValue == false ? " (not applied: device not answering)" : ""),
             r["until"]?.cell ?? "-"]
        }, style: { r, c, cell in c == 3 && relays[r]["on"]?.boolValue == true ? Output.green(cell) : cell }))
        let devices = s["devices"]?.arrayValue ?? []
        if !devices.isEmpty {
            // A real Modbus device also shows its counters: transactions / timeouts / CRC errors / exceptions, the last
            // round trip and the last error (docs/hardware.md says what each means).
            let withDiagnostics = devices.contains { $0["diagnostics"] != nil }
            var header = ["DEVICE", "KIND", "ADDRESS", "ONLINE", "LAST SEEN"]
            if withDiagnostics { header += ["TX", "TIMEOUTS", "CRC", "EXC", "RTT MS", "LAST ERROR"] }
            parts.append("\n" + Output.table(header, devices.map { d in
                var row = [d["id"]?.cell ?? "", d["kind"]?.cell ?? "", d["address"]?.cell ?? "", d["online"]?.cell ?? "", d["last_seen"]?.cell ?? "-"]
                if withDiagnostics {
                    let x = d["diagnostics"]
                    row += ["transactions", "timeouts", "crc_errors", "exceptions", "round_trip_ms", "last_error"].map { x?[$0]?.cell ?? "-" }
                }
                return row
            }, style: { r, c, cell in c == 3 && devices[r]["online"]?.boolValue != true ? Output.red(cell) : cell }))
        }
        // behaviour.md: every input's current level and last-change time are visible in status.
        if let inputs = s["inputs"]?.arrayValue, !inputs.isEmpty {
            parts.append("\n" + renderInputs(inputs, previous: nil))
        }
        return parts.joined(separator: "\n")
    }

    static func inputs(_ words: [String], socket: String) throws -> Int32 {
        let args = try Arguments(words, flags: ["--watch"], options: [])
        _ = try args.expect([])
        guard args.has("--watch") else {
            let (answer, code) = try call(socket, ["op": "inputs"])
            guard let list = answer?["inputs"]?.arrayValue else { return code }
            Output.out(renderInputs(list, previous: nil))
            return 0
        }
        let client = try ControlClient(path: socket)
        guard client.send(["op": "inputs", "watch": true]) else { return Exit.noAgent.rawValue }
        var previous: [JSONValue]?
        while let answer = client.next() {
            guard let list = answer["inputs"]?.arrayValue else { break }
            let table = renderInputs(list, previous: previous)
            // On a terminal the table is redrawn in place; into a pipe each update is appended.
            if Output.colour { Posix.writeAll(1, Array("\u{1B}[H\u{1B}[2J".utf8)) }
            Output.out(table + "\n")
            previous = list
        }
        throw ControlClient.NoAgent(path: socket, reason: "the agent stopped while it was being watched")
    }

    /// The inputs table; rows that changed since `previous` are highlighted (marked `*` without colour).
    static func renderInputs(_ list: [JSONValue], previous: [JSONValue]?) -> String {
        func level(_ v: JSONValue?) -> String {
            switch v { case .bool(true): return "active"; case .bool(false): return "inactive"; default: return "unknown" }
        }
        var changed: Set<Int> = []
        if let previous {
            for (i, item) in list.enumerated() {
                let before = previous.first { $0["id"] == item["id"] }
                if before?["active"] != item["active"] || before?["raw"] != item["raw"] { changed.insert(i) }
            }
        }
        let rows = list.enumerated().map { i, item in
            [(changed.contains(i) && !Output.colour ? "*" : "") + (item["id"]?.cell ?? ""), level(item["active"]), level(item["raw"]),
             item["last_change"]?.cell ?? "-", item["zone"]?.cell ?? "-"]
        }
        return Output.table(["INPUT", "LEVEL", "RAW", "LAST CHANGE", "ZONE"], rows, style: { r, _, cell in
            changed.contains(r) ? Output.reverse(cell) : cell
        })
    }

    static func events(_ words: [String], socket: String) throws -> Int32 {
        let args = try Arguments(words, flags: ["--follow", "--json"], options: ["--since"])
        _ = try args.expect([])
        var request: JSONObject = ["op": "events", "follow": .bool(args.has("--follow"))]
        if let text = args.values["--since"] {
            guard let since = Int64(text), since >= 0 else { throw Arguments.UsageError(message: "--since takes a seq number (0 or more), not \"\(text)\"") }
            request["since"] = .int(since)
        }
        let client = try ControlClient(path: socket)
        guard client.send(request) else { return Exit.noAgent.rawValue }
        let json = args.has("--json"), follow = args.has("--follow")
        var collected: [JSONValue] = []
        // Following, rows are printed as they come, so the columns are as wide as the widest event can make them.
        if follow && !json { Output.out(Output.bold(Output.row(eventHeader, widths: eventWidths))) }
        while let line = client.next() {
            if let event = line["event"] {
                if !follow { collected.append(event) }
                else if json { Output.json(event) }
                else { Output.out(Output.row(eventCells(event), widths: eventWidths, style: eventStyle(event))) }
            } else if line["end"] != nil {
                if json { Output.json(.array(collected)) } else { Output.out(renderEvents(collected)) }
                return 0
            } else if line["ok"]?.boolValue == false {
                Output.err("chekt-bridge: \(line["message"]?.stringValue ?? "failed")")
                return Exit.code(line["exit"])
            }
        }
        if follow { throw ControlClient.NoAgent(path: socket, reason: "the agent stopped while it was being followed") }
        Output.err("chekt-bridge: the agent closed the connection early")
        return Exit.refused.rawValue
    }

    static let eventHeader = ["SEQ", "TIME", "TYPE", "DATA"]

    /// Column widths for a followed table: seq up to 7 digits, a millisecond RFC 3339 time, the longest event type.
    static let eventWidths = [7, "2026-11-29T18:00:00.123Z".count, EventType.allCases.map(\.rawValue.count).max() ?? 0, 0]

    /// `12`, `2026-11-29T18:00:00.123Z`, `zone.faulted`, `input=in1 partition=main zone=front_door`.
    static func eventCells(_ e: JSONValue) -> [String] {
        let data = e["data"]?.objectValue ?? [:]
        let fields = data.keys.sorted().map { "\($0)=\(data[$0]?.cell ?? "-")" }.joined(separator: " ")
        return [e["seq"]?.cell ?? "?", e["occurred_at"]?.cell ?? "", e["type"]?.cell ?? "?", fields]
    }

    /// Alarms stand out (in red, on a terminal).
    static func eventStyle(_ e: JSONValue) -> (Int, String) -> String {
        let alarm = e["type"]?.stringValue == EventType.alarmCreated.rawValue
        return { column, cell in column == 2 && alarm ? Output.red(cell) : cell }
    }

    /// The events as one aligned table, oldest first.
    static func renderEvents(_ events: [JSONValue]) -> String {
        Output.table(eventHeader, events.map(eventCells), minimumWidths: [eventWidths[0]], style: { r, c, cell in eventStyle(events[r])(c, cell) })
    }
}
