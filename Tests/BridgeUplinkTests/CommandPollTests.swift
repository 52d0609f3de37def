import BridgeCore
import Testing
@testable import BridgeUplink

/// A poll answer is read strictly: what cannot be read with one meaning is refused, never executed (issue 14).
@Suite struct CommandPollTests {
    func poll(_ text: String) -> CommandPoll { CommandPoll.parse(Array(text.utf8)) }

    let arm = #"{"id":"cmd_1","type":"partition.arm","params":{"partition":"main","mode":"away"},"issued_at":"2026-11-29T18:00:00.123Z","expires_at":"2026-11-29T18:05:00.123Z","issued_by":{"app":"app_1","scopes":["sites:write"]}}"#

    @Test func aWellFormedAnswer() throws {
        let p = poll(#"{"commands":[\#(arm)],"cursor":"c1"}"#)
        #expect(p.problem == nil && p.cursor == "c1" && p.hasCommandsKey && p.unreadable == 0)
        let c = try #require(p.commands.first)
        #expect(c.id == "cmd_1" && c.type == "partition.arm" && c.params == ["partition": "main", "mode": "away"])
        #expect(c.issuedAt == Timestamp.parse("2026-11-29T18:00:00.123Z") && c.expiresAt == Timestamp.parse("2026-11-29T18:05:00.123Z"))
        #expect(c.app == "app_1" && c.scopes == ["sites:write"] && c.problem == nil)
    }

    @Test func microsecondTimesAreRead() throws {
        let p = poll(#"{"commands":[{"id":"c","type":"state.sync","expires_at":"2030-01-01T00:00:00.000001Z","issued_at":"2030-01-01T00:00:00.0000Z"}],"cursor":"x"}"#)
        let c = try #require(p.commands.first)
        #expect(c.problem == nil && c.expiresAt == Timestamp.parse("2030-01-01T00:00:00Z") && c.issuedAt == c.expiresAt)
    }

    @Test func anUnreadableTimeIsAProblemNotNoExpiry() throws {
        for value in [#""garbage""#, #""""#, #""2026-13-45T99:99:99Z""#, "5", "null", "{}", "true"] {
            for key in ["expires_at", "issued_at"] {
                let p = poll(#"{"commands":[{"id":"c","type":"state.sync","\#(key)":\#(value)}],"cursor":"x"}"#)
                let problem = try #require(p.commands.first?.problem, "\(key): \(value)")
                #expect(problem.contains("\"\(key)\" must be an RFC 3339 time"), "\(problem)")
            }
        }
        // Absent is no expiry (docs/protocol.md): the command is well-formed.
        #expect(poll(#"{"commands":[{"id":"c","type":"state.sync"}],"cursor":"x"}"#).commands.first?.problem == nil)
    }

    @Test func aRepeatedKeyInACommandRefusesThatCommandOnly() throws {
        let cases = [
            #"{"id":"c2","type":"relay.activate","type":"partition.disarm","params":{"relay":"door_strike"}}"#,
            #"{"id":"c2","type":"relay.activate","params":{"relay":"door_strike","relay":"siren"}}"#,
            #"{"id":"c2","type":"relay.activate","params":{"relay":"door_strike"},"issued_by":{"app":"a","app":"b"}}"#,
        ]
        for bad in cases {
            let p = poll(#"{"commands":[\#(arm),\#(bad)],"cursor":"c9"}"#)
            #expect(p.problem == nil && p.cursor == "c9", "\(bad)")
            #expect(p.commands.count == 2 && p.commands[0].problem == nil, "\(bad)")
            let problem = try #require(p.commands.last?.problem, "\(bad)")
            #expect(problem.contains("repeats the key"), "\(problem)")
        }
    }

    @Test func aRepeatedIDLeavesNothingToAnswer() {
        let p = poll(#"{"commands":[{"id":"a","id":"b","type":"state.sync"},\#(arm)],"cursor":"c"}"#)
        #expect(p.commands.map(\.id) == ["cmd_1"] && p.unreadable == 1 && p.problem == nil)
    }

    @Test func aRepeatedTopLevelKeyMakesTheWholeAnswerUnusable() {
        let twoLists = poll(#"{"commands":[\#(arm)],"commands":[],"cursor":"c"}"#)
        #expect(twoLists.problem?.contains("repeats the key \"commands\"") == true)
        #expect(twoLists.commands.map(\.id) == ["cmd_1"], "its readable ids are still there, to be answered rejected")
        #expect(poll(#"{"commands":[],"cursor":"a","cursor":"b"}"#).problem?.contains("\"cursor\"") == true)
    }

    @Test func theAnswersShape() {
        #expect(poll("").problem?.contains("not valid JSON") == true)
        #expect(poll("[1]").problem?.contains("not a JSON object") == true)
        #expect(poll(#"{"cursor":"x"}"#).problem == "the answer has no \"commands\"")
        #expect(poll(#"{"commands":{},"cursor":"x"}"#).problem == "\"commands\" is an object, not an array")
        #expect(poll(#"{"commands":[]}"#).problem == "the answer has no \"cursor\"")
        #expect(poll(#"{"commands":[],"cursor":5}"#).problem == "\"cursor\" is not a string")
        let long = String(repeating: "c", count: 4097)
        #expect(poll(#"{"commands":[],"cursor":"\#(long)"}"#).problem == "\"cursor\" is 4097 bytes, more than the 4096 accepted")
        #expect(poll(#"{"commands":[],"cursor":"\#(long.dropLast())"}"#).cursor?.count == 4096)
        #expect(poll(#"{"commands":[],"cursor":"x","next_poll_s":5}"#).problem == nil, "unknown keys of the answer itself are ignored")
        let p = poll(#"{"commands":[5,{"type":"x"},{"id":"bad id"},{"id":""}],"cursor":"x"}"#)
        #expect(p.commands.isEmpty && p.unreadable == 4)
    }

    @Test func paramsAndIssuerMustHaveTheirShapes() throws {
        func problem(_ command: String) -> String? { poll(#"{"commands":[\#(command)],"cursor":"x"}"#).commands.first?.problem }
        #expect(problem(#"{"id":"c","type":"state.sync","params":5}"#) == "\"params\" must be an object, not a number")
        #expect(problem(#"{"id":"c","type":"state.sync","params":[{}]}"#) == "\"params\" must be an object, not an array")
        #expect(problem(#"{"id":"c","type":"state.sync","params":null}"#) == nil)
        #expect(problem(#"{"id":"c","type":5}"#) == "\"type\" must be a string, not a number")
        #expect(problem(#"{"id":"c"}"#) == "\"type\" is missing")
        #expect(problem(#"{"id":"c","type":"state.sync","priority":1}"#) == "unknown field \"priority\"")
        #expect(problem(#"{"id":"c","type":"state.sync","issued_by":{"app":"a","scopes":"devices:read"}}"#)
                == "\"issued_by.scopes\" must be an array of strings, not a string")
        #expect(problem(#"{"id":"c","type":"state.sync","issued_by":{"app":"a","scopes":["x",1]}}"#)
                == "\"issued_by.scopes\" must be an array of strings")
        #expect(problem(#"{"id":"c","type":"state.sync","issued_by":{"app":"a","user":"u"}}"#) == "unknown field in \"issued_by\": \"user\"")
        #expect(problem(#"{"id":"c","type":"state.sync","issued_by":[]}"#) == "\"issued_by\" must be an object, not an array")
        let many = (0..<100_000).map { "\"k\($0)\":1" }.joined(separator: ",")
        let long = try #require(problem(#"{"id":"c","type":"state.sync",\#(many)}"#))
        #expect(long.hasSuffix("and 99995 more") && long.count < 200, "\(long.prefix(300))")
    }
}
