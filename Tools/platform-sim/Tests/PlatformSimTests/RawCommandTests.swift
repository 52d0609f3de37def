import Testing

@testable import PlatformSim

/// Raw commands (`{"raw", "id"}`), several commands issued at once, and the `replace_body` fault: the ways a test
/// puts bytes into a poll answer that the platform would never build itself.
@Suite("Raw commands and replaced answers")
struct RawCommandTests {
    /// The answer body as it was built before raw commands existed: the whole object serialised with sorted keys.
    func sortedKeyBody(_ commands: [JSONValue], position: Int) -> [UInt8] {
        JSONValue.object(["commands": .array(commands), "cursor": .string(CommandCursor.encode(position))]).bytes
    }

    @Test func typedCommandsKeepTheSortedKeyBytes() async throws {
        try await TestPlatform.with { p in
            let c1 = try await p.issue(["type": "partition.arm", "params": ["partition": "main", "mode": "away"]])
            let c2 = try await p.issue(["type": "relay.activate", "params": ["relay": "gate", "duration_ms": 200]])
            let answer = try await p.poll(wait: 5)
            #expect(answer.body == sortedKeyBody([c1, c2], position: 2), "\(answer)")
            #expect(TestHMAC.verifies(answer, secret: "secret_a"))
            let idle = try await p.poll(cursor: CommandCursor.encode(2), wait: 0)
            #expect(idle.body == sortedKeyBody([], position: 2), "\(idle)")
        }
    }

    @Test func aRawCommandIsSentByteForByteAndItsResultFiledUnderItsID() async throws {
        try await TestPlatform.with { p in
            let text = #"{"id":"cmd_raw1", "type":"relay.activate","type":"state.sync","params":{"relay":"gate"},"expires_at":"2030-01-01T00:00:00.0000Z"}"#
            let issued = try await p.issue(["raw": .string(text), "id": "cmd_raw1"])
            #expect(issued["id"] == "cmd_raw1" && issued["raw"] == .string(text), "\(issued)")
            #expect(issued["issued_at"]?.stringValue.flatMap(Timestamp.parseRFC3339) != nil, "\(issued)")
            let typed = try await p.issue(["type": "state.sync"])

            let answer = try await p.poll(wait: 5)
            let expected = Array(#"{"commands":["#.utf8) + Array(text.utf8) + Array(",".utf8) + typed.bytes
                + Array(#"],"cursor":""#.utf8) + Array(CommandCursor.encode(2).utf8) + Array(#""}"#.utf8)
            #expect(answer.body == expected, "\(answer)")
            #expect(TestHMAC.verifies(answer, secret: "secret_a"), "signed over the exact bytes sent")

            // Even text that is not JSON goes out as given.
            try await p.issue(["raw": "not json {", "id": "cmd_raw2"])
            let broken = try await p.poll(cursor: CommandCursor.encode(2), wait: 5)
            #expect(String(decoding: broken.body, as: UTF8.self) == #"{"commands":[not json {],"cursor":""# + CommandCursor.encode(3) + #""}"#)
            #expect(TestHMAC.verifies(broken, secret: "secret_a"))

            let result: JSONValue = ["status": "rejected", "code": "invalid_params", "message": "repeated key", "completed_at": "2026-11-29T18:00:00.123Z"]
            #expect(try await p.bridge(.POST, "/commands/cmd_raw1/result", body: result.bytes).status == 204)
            let results = try await p.admin(.GET, "/bridges/brg_a/results").json["results"]
            #expect(results?["cmd_raw1"]?["code"] == "invalid_params", "\(results ?? .null)")
            #expect(try await p.bridge(.POST, "/commands/cmd_nobody/result", body: result.bytes).status == 404)

            let listed = try await p.admin(.GET, "/bridges/brg_a/commands").json["commands"]?.arrayValue ?? []
            #expect(listed.first?["raw"] == .string(text) && listed.first?["position"] == 1 && listed.first?["delivered"] == true)
            #expect(listed.first?["result"]?["status"] == "rejected", "\(listed)")
        }
    }

    @Test func anArrayIsIssuedAtOnceIntoOneAnswer() async throws {
        try await TestPlatform.with { p in
            let answer = try await p.admin(.POST, "/bridges/brg_a/commands", [
                ["type": "relay.activate", "params": ["relay": "gate"], "id": "cmd_a"],
                ["raw": #"{"id":"cmd_b"}"#, "id": "cmd_b"],
                ["type": "state.sync", "id": "cmd_c"],
            ])
            #expect(answer.status == 201, "\(answer)")
            let issued = try answer.json.arrayValue ?? []
            #expect(issued.compactMap { $0["id"]?.stringValue } == ["cmd_a", "cmd_b", "cmd_c"])
            let poll = try await p.poll(wait: 5)
            let expected = Array(#"{"commands":["#.utf8) + issued[0].bytes + Array(#",{"id":"cmd_b"},"#.utf8) + issued[2].bytes
                + Array(#"],"cursor":""#.utf8) + Array(CommandCursor.encode(3).utf8) + Array(#""}"#.utf8)
            #expect(poll.body == expected, "\(poll)")

            // One bad request in the array: 400 naming it, and none of them is issued.
            let bad = try await p.admin(.POST, "/bridges/brg_a/commands", [["type": "state.sync"], ["raw": "{}"]])
            let message = try bad.json["message"]?.stringValue ?? ""
            #expect(bad.status == 400 && message.hasPrefix("[1]: id: required"), "\(bad)")
            #expect(try await p.admin(.GET, "/bridges/brg_a/commands").json["commands"]?.arrayValue?.count == 3)
        }
    }

    @Test(arguments: [
        ["raw": "{}"] as JSONValue, ["raw": "{}", "id": ""], ["raw": "", "id": "cmd_x"], ["raw": 5, "id": "cmd_x"],
        ["raw": "{}", "id": "cmd_x", "type": "state.sync"], ["raw": "{}", "id": "cmd_x", "expires_in_s": 5], [] as JSONValue,
    ])
    func badRawRequestsAreRefused(_ body: JSONValue) async throws {
        try await TestPlatform.with { p in
            let answer = try await p.admin(.POST, "/bridges/brg_a/commands", body)
            let error = try answer.json["error"]
            #expect(answer.status == 400 && error == "invalid_request", "\(body) → \(answer)")
            #expect(try await p.admin(.GET, "/bridges/brg_a/commands").json["commands"] == [])
        }
    }

    @Test func replaceBodyAnswersTheNextCommandsWithTheTextVerbatim() async throws {
        try await TestPlatform.with { p in
            let text = #"{"commands":[{"id":"cmd_1"}],"commands":[],"cursor":"x"}"#
            try await p.addFault(["kind": "replace_body", "body": .string(text)])
            let idle = try await p.poll(wait: 0)
            #expect(idle.body == sortedKeyBody([], position: 0), "an answer without commands does not use it up: \(idle)")

            let issued = try await p.issue(["type": "state.sync", "id": "cmd_1"])
            let replaced = try await p.poll(wait: 5)
            #expect(replaced.body == Array(text.utf8), "\(replaced)")
            #expect(TestHMAC.verifies(replaced, secret: "secret_a"), "signed over the replacement")
            #expect(replaced.header("X-Platform-Sim-Fault") == "replace_body")
            // Once by default: the same cursor gets the genuine answer again.
            let genuine = try await p.poll(wait: 0)
            #expect(genuine.body == sortedKeyBody([issued], position: 1), "\(genuine)")
            #expect(genuine.header("X-Platform-Sim-Fault") == nil)
            let log = try await p.admin(.GET, "/bridges/brg_a/requests").json.arrayValue ?? []
            #expect(log.compactMap { $0["fault"]?.stringValue } == ["replace_body"])
        }
    }

    @Test func replaceBodyParsing() throws {
        guard case .install(let f) = try FaultRequest.parse(["kind": "replace_body", "body": "", "count": 2], now: 0) else {
            throw TestFailure("expected a fault")
        }
        #expect(f.kind == .replaceBody("") && f.path == .commands && f.remaining == 2)
        guard case .install(let once) = try FaultRequest.parse(["kind": "replace_body", "body": "{}"], now: 0) else {
            throw TestFailure("expected a fault")
        }
        #expect(once.remaining == 1 && once.json["body"] == "{}")
        for bad: JSONValue in [["kind": "replace_body"], ["kind": "replace_body", "body": 5],
                               ["kind": "replace_body", "body": "{}", "path": "events"]] {
            #expect(throws: FaultError.self, "\(bad)") { try FaultRequest.parse(bad, now: 0) }
        }
    }
}
