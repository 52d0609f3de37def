import Foundation
import Testing

/// `events --follow --json`: a long-running tool that prints each event as it is recorded.
@Suite struct FollowTests {
    @Test func followPrintsANewEventLineAsItIsRecorded() throws {
        let sandbox = try Sandbox()
        let agent = try Agent(sandbox, config: Fixture.config(board: try Repo.board(), stateDir: sandbox.stateDir))
        defer { agent.stop() }
        try agent.start()
        let known = try agent.events()

        let outPath = sandbox.root + "/follow.out"
        let follow = try RunningTool(["events", "--follow", "--json", "--socket", sandbox.socket],
                                     stdoutPath: outPath, stderrPath: sandbox.root + "/follow.err")
        defer { follow.stopIfRunning() }

        // Without --since it starts with the recent events (here: all of them), one JSON object per line.
        let first = try agent.waitFor("events --follow to print the events recorded so far") { () throws -> [RecordedEvent]? in
            let lines = try self.lines(outPath)
            return lines.count >= known.count ? lines : nil
        }
        #expect(first.map(\.id) == known.map(\.id), "\(first.listing)")

        try agent.ok("sim", "input", "in1", "active")
        let grown = try agent.waitFor("events --follow to print the new zone.faulted line") { () throws -> [RecordedEvent]? in
            let lines = try self.lines(outPath)
            return lines.contains { $0.type == "zone.faulted" } ? lines : nil
        }
        #expect(follow.wait(timeout: 0) == nil, "events --follow ended instead of following: \(follow.stderrSoFar)")
        let faulted = try #require(grown.first { $0.type == "zone.faulted" })
        #expect(faulted.seq == known.last!.seq + 1, "\(grown.listing)")
        #expect(faulted.data == ["zone": "front_door", "partition": "main", "input": "in1"])
        let stored = try agent.events().first { $0.seq == faulted.seq }
        #expect(faulted == stored, "the followed line differs from the stored event")
    }

    @Test func followAndWatchExit3WhenTheAgentStops() throws {
        let sandbox = try Sandbox()
        let agent = try Agent(sandbox, config: Fixture.config(board: try Repo.board(), stateDir: sandbox.stateDir))
        defer { agent.stop() }
        try agent.start()

        var tools: [(RunningTool, String)] = []
        for (name, arguments) in [("follow", ["events", "--follow"]), ("watch", ["inputs", "--watch"])] {
            let out = sandbox.root + "/\(name).out"
            let tool = try RunningTool(arguments + ["--socket", sandbox.socket], stdoutPath: out, stderrPath: sandbox.root + "/\(name).err")
            tools.append((tool, out))
        }
        defer { for (tool, _) in tools { tool.stopIfRunning() } }
        // Both are following once they have printed their first table.
        for (_, out) in tools {
            _ = try agent.waitFor("\(out) to show its first table") { () -> Bool? in
                let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
                return text.contains("in1") || text.contains("bridge.started") ? true : nil
            }
        }
        let stopped = try #require(agent.stop(), "the agent did not stop")
        #expect(stopped.result.status == 0, "\(stopped.result)")
        for (tool, _) in tools {
            let r = try #require(tool.wait(timeout: 10), "\(tool.arguments) kept running after the agent stopped")
            #expect(r.status == 3 && !r.signalled, "\(r)")
            #expect(r.stderr.contains("no agent is answering on \(sandbox.socket)") && r.stderr.contains("the agent stopped"), "\(r)")
        }
    }

    /// The complete lines printed so far, each parsed as one event.
    func lines(_ path: String) throws -> [RecordedEvent] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        var complete = text.split(separator: "\n", omittingEmptySubsequences: false)
        complete.removeLast()  // the part after the last newline is still being written
        return try complete.map { line in
            do { return try JSONDecoder().decode(RecordedEvent.self, from: Data(line.utf8)) } catch {
                throw E2EFailure("events --follow --json printed a line that is not one event (\(error)): \(line)")
            }
        }
    }
}
