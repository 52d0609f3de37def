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

    static func config(board: String, stateDir: String, partitions: [[String: Any]] = [partition()],
                       zones: [[String: Any]] = zones, relays: [[String: Any]] = [doorStrike, siren, gate]) -> [String: Any] {
        ["bridge": ["id": "brg_e2e", "board": board, "state_dir": stateDir],
         "partitions": partitions, "zones": zones, "relays": relays]
    }
}
