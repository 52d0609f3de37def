import BridgeCore
import Testing
@testable import BridgeAgent

/// Every control-socket line is checked before anything acts on it; nothing a client sends can trap (issue 14).
@Suite struct ControlRequestTests {
    func parse(_ line: String) -> Result<ControlRequest, ControlRequest.Refusal> { ControlRequest.parse(Array(line.utf8)) }
    func refusal(_ line: String) -> String? {
        if case .failure(let r) = parse(line) { return r.message }
        return nil
    }

    @Test func theOperations() throws {
        #expect(try parse(#"{"op":"status"}"#).get() == .status)
        #expect(try parse(#"{"op":"inputs","watch":true}"#).get() == .inputs(watch: true))
        #expect(try parse(#"{"op":"events"}"#).get() == .events(.init(since: nil, last: 20, follow: false)))
        #expect(try parse(#"{"op":"events","since":0,"follow":true}"#).get() == .events(.init(since: 0, last: 20, follow: true)))
        #expect(try parse(#"{"op":"events","since":9223372036854775807,"last":100000}"#).get()
                == .events(.init(since: .max, last: 100_000, follow: false)))
        #expect(try parse(#"{"op":"sim.input","input":"in1","active":false}"#).get() == .simInput("in1", active: false))
        #expect(try parse(#"{"op":"sim.device","device":"io8","online":true}"#).get() == .simDevice("io8", online: true))
        #expect(try parse(#"{"op":"request","type":"relay.pulse","params":{"relay":"door_strike","duration_ms":500}}"#).get()
                == .request(.success(.relayPulse(relay: "door_strike", durationMs: 500))))
        guard case .request(.failure(let e)) = try? parse(#"{"op":"request","type":"zone.bypass","params":{"zone":"z","x":1}}"#).get() else {
            Issue.record("bad params are a rejected result, as for a platform command"); return
        }
        #expect(e.result.code == "invalid_params")
    }

    @Test func integersFromOutsideAreRangeChecked() {
        // `since - 1` overflowed for Int64.min and killed the agent; -1 returned everything.
        for since in ["-9223372036854775808", "-1", "1.5", "\"5\"", "1e300", "true", "9223372036854775808"] {
            #expect(refusal(#"{"op":"events","since":\#(since)}"#)?.hasPrefix("events: \"since\" must be a whole number from 0") == true, "\(since)")
        }
        for last in ["-9223372036854775808", "-1", "100001"] {
            #expect(refusal(#"{"op":"events","last":\#(last)}"#)?.hasPrefix("events: \"last\" must be a whole number from 0 to 100000") == true, "\(last)")
        }
    }

    @Test func whatIsNotARequestIsRefused() {
        #expect(refusal("")?.hasPrefix("the request is not valid JSON") == true)
        #expect(refusal("[]") == "the request is not a JSON object with an \"op\"")
        #expect(refusal(#"{"op":5}"#) == "the request is not a JSON object with an \"op\"")
        #expect(refusal(#"{"op":"stat\u001b"}"#)?.hasPrefix("unknown operation \"stat\\u{1B}\"") == true, "quoted, escaped")
        #expect(refusal(#"{"op":"status","op":"events"}"#)?.contains("\"op\" appears twice") == true)
        #expect(refusal(#"{"op":"status","x":1}"#) == "status: unknown key \"x\"")
        #expect(refusal(#"{"op":"sim.input","input":"in1"}"#) == "sim.input: \"active\" is required")
        #expect(refusal(#"{"op":"sim.input","input":5,"active":"yes"}"#) == "sim.input: \"input\" must be a string, not a number (and 1 more)")
        #expect(refusal(#"{"op":"request","params":{}}"#) == "request: \"type\" is required")
        #expect(refusal(#"{"op":"request","type":"zone.bypass","params":[1]}"#) == "request: \"params\" must be an object, not an array")
        #expect(refusal(#"{"op":"inputs","watch":1}"#) == "inputs: \"watch\" must be true or false, not a number")
        let deep = #"{"op":"status","x":"# + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "}"
        #expect(refusal(deep)?.contains("nested more than") == true)
    }
}
