import Foundation

/// Site configs for the tests, as JSON objects written into the sandbox.
///
/// The standard site mirrors the demo: partition `main`; zones front_door (in1,
/// entry_exit), hall_pir (in2, interior), smoke (in3, fire), back_window (in4,
/// instant); relays door_strike (out1, pulse 3000 ms), siren (out2, latch),
/// gate (out3, pulse 1000 ms, used as a clock barrier by some tests).
enum Fixture {
    static func partition(exitDelayS: Int = 1, entryDelayS: Int = 1, siren: Bool = true) -> [String: Any] {
        var p: [String: Any] = ["id": "main", "exit_delay_s": exitDelayS, "entry_delay_s": entryDelayS, "remote_exit_delay_s": 0]
        if siren { p["siren"] = ["relay": "siren", "timeout_s": 120] }
        return p
    }

    static var zones: [[String: Any]] { [
        ["id": "front_door", "input": "in1", "partition": "main", "type": "entry_exit"],
        ["id": "hall_pir", "input": "in2", "partition": "main", "type": "interior"],
        ["id": "smoke", "input": "in3", "partition": "main", "type": "fire"],
        ["id": "back_window", "input": "in4", "partition": "main", "type": "instant"],
    ] }

    static var doorStrike: [String: Any] { ["id": "door_strike", "output": "out1", "mode": "pulse", "pulse_ms": 3000, "max_on_ms": 10000] }
    static var siren: [String: Any] { ["id": "siren", "output": "out2", "mode": "latch", "max_on_ms": 600_000] }
    static var gate: [String: Any] { ["id": "gate", "output": "out3", "mode": "pulse", "pulse_ms": 1000, "max_on_ms": 5000] }

    /// Two relays of interlock group `group` on out1 and out2 (gap 200 ms), then `gate` on out3. `extra` is added to
    /// both (e.g. `["mode": "pulse", "pulse_ms": 300]`; latch by default).
    static func interlockedPair(_ a: String, _ b: String, group: String, extra: [String: Any] = [:]) -> [[String: Any]] {
        let pair: [[String: Any]] = [["id": a, "output": "out1"], ["id": b, "output": "out2"]]
        let common: [String: Any] = ["mode": "latch", "interlock": group, "interlock_gap_ms": 200]
        return pair.map { $0.merging(common) { first, _ in first }.merging(extra) { _, new in new } } + [gate]
    }

    static func config(board: String, stateDir: String, partitions: [[String: Any]] = [partition()],
                       zones: [[String: Any]] = zones, relays: [[String: Any]] = [doorStrike, siren, gate]) -> [String: Any] {
        ["bridge": ["id": "brg_e2e", "board": board, "state_dir": stateDir],
         "partitions": partitions, "zones": zones, "relays": relays]
    }
}
