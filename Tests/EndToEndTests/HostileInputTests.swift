import Foundation
import Glibc
import Testing

/// Input a user or a script can give the agent and its tools that no well-behaved client would (issue 14):
/// control-socket lines out of range or ambiguous, more clients than the agent serves, a FIFO where a file
/// belongs, and control characters in a profile's text. Each is refused or escaped; nothing crashes or hangs.
@Suite struct HostileInputTests {
    func startAgent(_ sandbox: Sandbox) throws -> Agent {
        let agent = try Agent(sandbox, config: Fixture.config(board: try Repo.board(), stateDir: sandbox.stateDir))
        try agent.start()
        return agent
    }

    // MARK: The control socket

    @Test func outOfRangeOrAmbiguousRequestsAreBadRequestsAndTheAgentKeepsAnswering() throws {
        let sandbox = try Sandbox()
        let agent = try startAgent(sandbox)
        defer { agent.stop() }

        let lines = [
            #"{"op":"events","since":-9223372036854775808}"#,
            #"{"op":"events","since":-1}"#,
            #"{"op":"events","last":-9223372036854775808}"#,
            #"{"op":"status","x":1}"#,
            #"{"op":"status","op":"status"}"#,
        ]
        for line in lines {
            let answer = try ControlConnection(sandbox.socket).exchange(line)
            #expect(answer.count == 1, "\(line) → \(answer)\n\(agent.logTail)")
            let refusal = answer.first ?? .null
            #expect(refusal["ok"] == false && refusal["code"] == "bad_request" && refusal["exit"] == 2,
                    "\(line) → \(answer)\n\(agent.logTail)")
            #expect(refusal["message"]?.string?.isEmpty == false, "\(line): no message: \(refusal)")
            #expect(agent.isRunning, "the agent died on \(line)\n\(agent.logTail)")
            let status = try agent.tool("status", "--json")
            #expect(status.status == 0 && !status.signalled, "status after \(line):\n\(status)\n\(agent.logTail)")
        }
        // The well-formed neighbours of those lines are still served.
        let events = try ControlConnection(sandbox.socket).exchange(#"{"op":"events","since":1}"#)
        #expect(events.last == ["end": true, "ok": true], "\(events)")
        #expect(events.dropLast().allSatisfy { $0["event"]?["seq"]?.int != nil } && events.count >= 2, "\(events)")
        let status = try ControlConnection(sandbox.socket).exchange(#"{"op":"status"}"#)
        #expect(status.count == 1 && status.first?["ok"] == true && status.first?["status"]?["partitions"] != nil, "\(status)")
    }

    /// Held up before issue 14, kept so: a line over 1 MiB is cut off (the connection closed, nothing answered or
    /// run), and thousands of connections that come and go leave the agent answering.
    @Test func aTenMegabyteLineIsCutOffAndConnectionChurnLeavesTheAgentAnswering() throws {
        let sandbox = try Sandbox()
        let agent = try startAgent(sandbox)
        defer { agent.stop() }
        let huge = ControlConnection.self
        let connection = try huge.init(sandbox.socket)
        // The agent hangs up once it has read more than a line may hold: the rest of the send fails, which is fine.
        try? connection.send(#"{"op":"request","type":"relay.pulse","params":{"relay":""# + String(repeating: "x", count: 10 << 20) + #""}}"#)
        let answer = try connection.readToEnd(timeout: 10)
        connection.close()
        #expect(answer.isEmpty, "an over-long line was answered: \(answer.prefix(200))")
        for _ in 0..<2000 { try ControlConnection(sandbox.socket).close() }
        #expect(agent.isRunning, "\(agent.logTail)")
        // The threads of the last churned connections may still hold the 32 client slots for a moment (under
        // AddressSanitizer they did, and status was told busy: Tools/sanitize/run): status is answered once they are
        // done, and a slot that is never given back fails here.
        _ = try agent.waitFor("status to be answered after the churn") { () throws -> ToolResult? in
            let status = try agent.tool("status", "--json")
            return status.status == 0 ? status : nil
        }
        let events = try agent.tool("events", "--json", "--since", "1")
        #expect(!events.stdout.contains("relay.activated"), "the cut-off request ran: \(events.stdout)")
    }

    @Test func beyond32ClientsTheExtraOnesAreToldBusyAndTheAgentRecovers() throws {
        let sandbox = try Sandbox()
        let agent = try startAgent(sandbox)
        defer { agent.stop() }

        // 40 clients that connect and say nothing (the agent cuts such a client after 10 s; this test closes them).
        var clients: [ControlConnection] = []
        defer { clients.forEach { $0.close() } }
        for _ in 0..<40 { clients.append(try ControlConnection(sandbox.socket)) }

        // The agent accepts in connect order: it serves the first 32 (they hold a slot while it waits for their request)
        // and answers each later one a single busy line and hangs up.
        var answered: [Int: String] = [:]
        let deadline = Date().addingTimeInterval(8)
        while !(32..<40).allSatisfy({ answered[$0] != nil }), Date() < deadline {
            let waiting = clients.indices.filter { answered[$0] == nil }
            let left = Int32(max(0, deadline.timeIntervalSinceNow * 1000))
            for k in ControlConnection.readable(waiting.map { clients[$0] }, waitingMs: left) {
                answered[waiting[k]] = try clients[waiting[k]].readToEnd(timeout: 3)
            }
        }
        // #31 may be refused too: the thread of the `status` that found the agent ready gives its slot back just after
        // hanging up, and may not have done so yet when the 40 connect.
        let refused = Set(answered.keys)
        #expect(refused == Set(32..<40) || refused == Set(31..<40),
                "of 40 idle clients, these were answered (expected the 8 beyond 32): \(answered.sorted { $0.key < $1.key })\n\(agent.logTail)")
        for (i, text) in answered.sorted(by: { $0.key < $1.key }) {
            let lines = text.split(separator: "\n")
            #expect(lines.count == 1, "client \(i) got: \(text)")
            let busy = try JSON.parse(String(lines.first ?? ""))
            #expect(busy["ok"] == false && busy["code"] == "busy" && busy["exit"] == 1, "client \(i): \(busy)")
            #expect(busy["message"]?.string?.isEmpty == false, "client \(i): \(busy)")
        }
        // The served ones are still waiting for their request: nothing sent, not hung up on.
        let early = (0..<31).filter { clients[$0].hasSomethingToRead }
        #expect(early.isEmpty, "served clients \(early) were answered or cut before 10 s without a request")
        #expect(agent.isRunning, agent.note)

        // A tool arriving now is refused the same way, promptly: exit 1 with the agent's message (control-socket.md: "exit"
        // is the exit code the CLI gives), also when the agent has hung up before the tool wrote its request.
        let crowded = try agent.tool("status")
        #expect(crowded.status == 1 && !crowded.signalled && !crowded.stderr.isEmpty,
                "a tool against a full agent (signal 13 is SIGPIPE: writing its request after the agent hung up):\n\(crowded)")

        // Once the idle clients are gone, tools are served again.
        clients.forEach { $0.close() }
        let status = try agent.waitFor("status to be served again once the 40 clients hung up", timeout: 10) { () throws -> ToolResult? in
            let r = try agent.tool("status", "--json")
            return r.status == 0 ? r : nil
        }
        #expect(try status.json()["partitions"] != nil, "\(status)")
        #expect(agent.isRunning)
    }

    // MARK: A FIFO where a file belongs

    /// A FIFO in the sandbox: opening it for reading blocks until a writer comes, which none ever does.
    func fifo(_ sandbox: Sandbox, _ name: String) throws -> String {
        let path = sandbox.root + "/" + name
        guard mkfifo(path, 0o600) == 0 else { throw E2EFailure("mkfifo \(path): \(String(cString: strerror(errno)))") }
        return path
    }

    func expectNotARegularFile(_ r: ToolResult, _ path: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == 2 && !r.signalled, "\(r)", sourceLocation: sourceLocation)
        #expect(r.stderr.contains(path), "the message does not name \(path): \(r)", sourceLocation: sourceLocation)
        #expect(r.stderr.contains("not a regular file"), "the message does not say it is not a regular file: \(r)",
                sourceLocation: sourceLocation)
    }

    @Test func aFIFOGivenAsAFileIsRefusedAtOnce() throws {
        let sandbox = try Sandbox()
        let pipe = try fifo(sandbox, "pipe.json")
        // Tool.run fails the test (and kills the tool) when a command does not finish within the timeout.
        expectNotARegularFile(try Tool.run(["board", "validate", pipe], timeout: 10), pipe)
        expectNotARegularFile(try Tool.run(["config", "validate", pipe], timeout: 10), pipe)
        expectNotARegularFile(try Tool.run(["run", "--config", pipe, "--simulate", "--socket", sandbox.socket], timeout: 10), pipe)

        // A config whose bridge.board names the FIFO.
        var config = Fixture.config(board: pipe, stateDir: sandbox.stateDir)
        let viaBoard = try sandbox.writeJSON("config.json", config)
        expectNotARegularFile(try Tool.run(["config", "validate", viaBoard], timeout: 10), pipe)

        // The credentials file of a config with upstream.
        config = Fixture.config(board: try Repo.board(), stateDir: sandbox.stateDir)
        config["upstream"] = ["url": "http://127.0.0.1:9/v1", "credentials": pipe, "heartbeat_s": 5]
        let withUpstream = try sandbox.writeJSON("upstream.json", config)
        let run = try Tool.run(["run", "--config", withUpstream, "--simulate", "--socket", sandbox.socket], timeout: 10)
        expectNotARegularFile(run, pipe)
        #expect(try Tool.run(["status", "--socket", sandbox.socket]).status == 3, "an agent answers although run was refused")
    }

    // MARK: Control characters in a profile's text

    @Test func controlCharactersInABoardNameAreEscapedInTheOKLines() throws {
        let sandbox = try Sandbox()
        let shipped = try Data(contentsOf: URL(fileURLWithPath: try Repo.board()))
        guard var board = try JSONSerialization.jsonObject(with: shipped) as? [String: Any] else {
            throw E2EFailure("the shipped board is not a JSON object")
        }
        board["name"] = "x\u{1B}[31mRED\u{7}"
        let boardPath = try sandbox.writeJSON("board.json", board)
        let escaped = #"x\u{1B}[31mRED\u{7}"#

        let boardOK = try Tool.run(["board", "validate", boardPath])
        #expect(boardOK.status == 0, "\(boardOK)")
        #expect(boardOK.stdout.contains("board \(escaped):"), "the name is not shown escaped: \(boardOK)")

        let configPath = try sandbox.writeJSON("config.json", Fixture.config(board: boardPath, stateDir: sandbox.stateDir))
        let configOK = try Tool.run(["config", "validate", configPath])
        #expect(configOK.status == 0, "\(configOK)")
        #expect(configOK.stdout.contains("on board \(escaped) ("), "the name is not shown escaped: \(configOK)")

        for r in [boardOK, configOK] {
            let raw = Array(r.stdout.utf8).filter { $0 == 0x1B || $0 == 0x07 }
            #expect(raw.isEmpty, "\(raw.count) raw ESC/BEL byte(s) on stdout of \(r.arguments.joined(separator: " ")): \(r.stdout.debugDescription)")
        }
    }
}
