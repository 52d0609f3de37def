import BridgeCore
import Testing
@testable import chekt_bridge

/// The plain tables of `status` and `events`, from the agent's JSON answers.
@Suite struct ViewTests {
    /// The text as printed without colour (tests may run with stdout on a terminal).
    func plain(_ text: String) -> [String] {
        var out = ""
        var escape = false
        for c in text {
            if c == "\u{1B}" { escape = true } else if escape { if c == "m" { escape = false } } else { out.append(c) }
        }
        return out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    /// Where `word` first starts in `line`, in characters.
    func offset(of word: String, in line: String) -> Int? {
        let chars = Array(line), w = Array(word)
        guard chars.count >= w.count else { return nil }
        return (0...(chars.count - w.count)).first { Array(chars[$0..<$0 + w.count]) == w }
    }

    func status(upstream: JSONValue, clockOffsetMs: Int64 = 0) -> JSONValue {
        [
            "agent": ["version": "0.1.0", "uptime_s": 5, "simulated": true],
            "bridge": ["id": "brg_demo", "board": "rpi-relay-3ch"],
            "upstream": upstream, "clock_offset_ms": .int(clockOffsetMs),
            "outbox": ["pending": 0, "oldest_age_s": 0, "dead_lettered": 0, "dropped": 0, "last_seq": 9],
            "partitions": [["id": "main", "state": "disarmed", "bypassed": []]],
            "zones": [["id": "front_door", "partition": "main", "type": "entry_exit", "input": "in1", "state": "faulted", "bypassed": false]],
            "relays": [["id": "siren", "output": "out2", "mode": "latch", "on": false]],
            "devices": [],
            "inputs": [
                ["id": "in1", "active": true, "raw": true, "last_change": "2026-11-29T18:00:00.123Z", "zone": "front_door"],
                ["id": "in2", "active": false, "raw": false, "last_change": nil],
            ],
        ]
    }

    @Test func statusShowsEveryInputWithItsLevelAndLastChange() throws {
        let lines = plain(CLI.renderStatus(status(upstream: ["mode": "local", "connected": false])))
        let header = try #require(lines.firstIndex { $0.hasPrefix("INPUT") }, "no inputs table in:\n\(lines.joined(separator: "\n"))")
        #expect(lines[header] == "INPUT  LEVEL     RAW       LAST CHANGE               ZONE")
        #expect(lines[header + 1] == "in1    active    active    2026-11-29T18:00:00.123Z  front_door")
        #expect(lines[header + 2] == "in2    inactive  inactive  -                         -")
    }

    @Test func statusInLocalModeSaysThereIsNoClockOffset() {
        let lines = plain(CLI.renderStatus(status(upstream: ["mode": "local", "connected": false])))
        #expect(lines.contains("upstream: local mode (no platform)"), "\(lines)")
        #expect(lines.contains("clock offset: none (local mode, no platform)"), "\(lines)")
    }

    @Test func statusWithAPlatformShowsTheMeasuredClockOffset() {
        let lines = plain(CLI.renderStatus(status(upstream: ["mode": "platform", "url": "https://p.example/v1", "connected": true],
                                                  clockOffsetMs: -120)))
        #expect(lines.contains { $0.hasPrefix("upstream: https://p.example/v1 connected") }, "\(lines)")
        #expect(lines.contains("clock offset: -120 ms (the platform's clock minus ours)"), "\(lines)")
    }

    @Test func eventsAreAnAlignedTable() {
        let events: [JSONValue] = [
            ["seq": 9, "occurred_at": "2026-11-29T18:00:00.123Z", "type": "zone.unbypassed", "data": ["zone": "smoke"]],
            ["seq": 10, "occurred_at": "2026-11-29T18:00:01.000Z", "type": "partition.disarmed", "data": ["partition": "main", "source": "technician"]],
            ["seq": 1234, "occurred_at": "2026-11-29T18:00:02.000Z", "type": "bridge.started", "data": [:]],
        ]
        #expect(plain(CLI.renderEvents(events)) == [
            "SEQ      TIME                      TYPE                DATA",
            "9        2026-11-29T18:00:00.123Z  zone.unbypassed     zone=smoke",
            "10       2026-11-29T18:00:01.000Z  partition.disarmed  partition=main source=technician",
            "1234     2026-11-29T18:00:02.000Z  bridge.started",
        ])
    }

    @Test func followedEventRowsLineUpWithTheHeader() {
        let header = plain(Output.row(CLI.eventHeader, widths: CLI.eventWidths))[0]
        let rows = [
            ["seq": 7, "occurred_at": "2026-11-29T18:00:00.123Z", "type": "alarm.created", "data": ["zone": "smoke"]],
            ["seq": 123456, "occurred_at": "2026-11-29T18:00:00.124Z", "type": "relay.deactivated", "data": ["relay": "siren"]],
        ].map { (e: JSONValue) in plain(Output.row(CLI.eventCells(e), widths: CLI.eventWidths))[0] }
        let columns = ["TIME", "TYPE", "DATA"].compactMap { offset(of: $0, in: header) }
        #expect(columns.count == 3)
        for row in rows {
            let starts = ["2026", row.contains("alarm") ? "alarm" : "relay", row.contains("zone=") ? "zone=" : "relay="]
                .compactMap { offset(of: $0, in: row) }
            #expect(starts == columns, "\(header)\n\(row)")
        }
    }
}
