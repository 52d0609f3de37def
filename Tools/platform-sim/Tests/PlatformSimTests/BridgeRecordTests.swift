import Testing

@testable import PlatformSim

@Suite("Bridge record: events")
struct BridgeRecordEventTests {
    func record() -> BridgeRecord {
        BridgeRecord(id: "brg_a", credentials: BridgeCredentials(apiKey: "k", signingSecret: "s"))
    }

    @Test func acceptsInOrderAndKeepsArrivalOrder() {
        var r = record()
        let answer = r.receive(events: [event("e1", seq: 1), event("e2", seq: 2)], now: 10) { _, _ in false }
        #expect(answer.accepted == ["e1", "e2"])
        #expect(answer.duplicates.isEmpty && answer.rejected.isEmpty)
        #expect(r.events.map { $0.event["id"]?.stringValue } == ["e1", "e2"])
        #expect(r.events.allSatisfy { $0.receivedAt == 10 })
        #expect(r.orderViolations.isEmpty)
    }

    @Test func dedupesByIDAcrossAndWithinBatches() {
        var r = record()
        _ = r.receive(events: [event("e1", seq: 1)], now: 0) { _, _ in false }
        let answer = r.receive(events: [event("e1", seq: 1), event("e2", seq: 2), event("e2", seq: 2)], now: 1) {
            _, _ in false
        }
        #expect(answer.accepted == ["e2"])
        #expect(answer.duplicates == ["e1", "e2"])
        #expect(r.duplicatesReceived == 2)
        #expect(r.events.count == 2)
        #expect(r.orderViolations.isEmpty, "a duplicate is not an order violation")
    }

    @Test func notesGapsAndBackwardsSeq() {
        var r = record()
        _ = r.receive(events: [event("e1", seq: 1), event("e3", seq: 3), event("e2", seq: 2)], now: 5) { _, _ in false }
        #expect(
            r.orderViolations == [
                OrderViolation(kind: "gap", eventID: "e3", seq: 3, previousSeq: 1, at: 5),
                OrderViolation(kind: "backwards", eventID: "e2", seq: 2, previousSeq: 3, at: 5),
            ])
        _ = r.receive(events: [event("e4", seq: 4), event("e4b", seq: 4)], now: 6) { _, _ in false }
        #expect(r.orderViolations.last == OrderViolation(kind: "backwards", eventID: "e4b", seq: 4, previousSeq: 4, at: 6))
    }

    @Test func eventsRefusedByATestAreNotGaps() {
        var r = record()
        let answer = r.receive(events: [event("e1", seq: 1), event("e2", seq: 2), event("e3", seq: 3)], now: 0) {
            _, seq in seq == 2
        }
        #expect(answer.accepted == ["e1", "e3"])
        #expect(answer.rejected.map(\.id) == ["e2"])
        #expect(answer.rejected.first?.code == "refused_by_test")
        #expect(r.orderViolations.isEmpty)
    }

    @Test(arguments: [
        (JSONValue.string("x"), "event: expected an object"),
        (["seq": 1, "type": "t", "occurred_at": "2026-11-29T18:00:00Z", "data": [:]], "id: missing"),
        (["id": 5, "seq": 1, "type": "t", "occurred_at": "2026-11-29T18:00:00Z", "data": [:]], "id: expected"),
        (["id": "e", "type": "t", "occurred_at": "2026-11-29T18:00:00Z", "data": [:]], "seq: missing"),
        (["id": "e", "seq": "1", "type": "t", "occurred_at": "2026-11-29T18:00:00Z", "data": [:]], "seq: expected an integer"),
        (["id": "e", "seq": 1.5, "type": "t", "occurred_at": "2026-11-29T18:00:00Z", "data": [:]], "seq: expected an integer"),
        (["id": "e", "seq": -1, "type": "t", "occurred_at": "2026-11-29T18:00:00Z", "data": [:]], "seq: expected an integer >= 0"),
        (["id": "e", "seq": 1, "type": "", "occurred_at": "2026-11-29T18:00:00Z", "data": [:]], "type: expected"),
        (["id": "e", "seq": 1, "type": "t", "data": [:]], "occurred_at: missing"),
        (["id": "e", "seq": 1, "type": "t", "occurred_at": "yesterday", "data": [:]], "occurred_at: \"yesterday\" is not RFC 3339"),
        (["id": "e", "seq": 1, "type": "t", "occurred_at": 1_700_000_000, "data": [:]], "occurred_at: expected"),
        (["id": "e", "seq": 1, "type": "t", "occurred_at": "2026-11-29T18:00:00Z"], "data: missing"),
        (["id": "e", "seq": 1, "type": "t", "occurred_at": "2026-11-29T18:00:00Z", "data": [1]], "data: expected an object"),
    ] as [(JSONValue, String)])
    func rejectsBadShapesWithAReason(_ raw: JSONValue, _ reason: String) {
        var r = record()
        let answer = r.receive(events: [raw, event("ok", seq: 1)], now: 0) { _, _ in false }
        #expect(answer.accepted == ["ok"], "one bad event does not stop the others")
        #expect(answer.rejected.count == 1)
        #expect(answer.rejected.first?.code == "invalid_event")
        #expect(answer.rejected.first?.message.hasPrefix(reason) == true, "\(answer.rejected.first?.message ?? "")")
        #expect(answer.rejected.first?.id == (raw["id"]?.stringValue ?? ""))
    }
}

@Suite("Bridge record: commands, results, state")
struct BridgeRecordCommandTests {
    func command(_ id: String) -> PlatformCommand {
        PlatformCommand(
            id: id, type: "relay.activate", params: ["relay": "door"], issuedAt: 0, expiresAt: 60_000, app: "app",
            scopes: ["devices:write"])
    }

    @Test func pendingFollowsTheCursorPosition() {
        var r = BridgeRecord(id: "b", credentials: BridgeCredentials(apiKey: "k", signingSecret: "s"))
        #expect(r.pending(after: 0).commands.isEmpty)
        r.enqueue(command("c1"))
        r.enqueue(command("c2"))
        #expect(r.pending(after: 0).commands.map(\.id) == ["c1", "c2"])
        #expect(r.pending(after: 0).position == 2)
        #expect(r.pending(after: 1).commands.map(\.id) == ["c2"])
        #expect(r.pending(after: 2).commands.isEmpty)
        #expect(r.pending(after: 2).position == 2)
        // A cursor from an earlier run of the platform counts as the end.
        #expect(r.pending(after: 50).commands.isEmpty && r.pending(after: 50).position == 2)
        #expect(r.command(at: 1)?.id == "c1" && r.command(at: 0) == nil && r.command(at: 3) == nil)
    }

    @Test func pendingIsCappedPerResponse() {
        var r = BridgeRecord(id: "b", credentials: BridgeCredentials(apiKey: "k", signingSecret: "s"))
        for i in 0..<(BridgeRecord.commandsPerResponse + 5) { r.enqueue(command("c\(i)")) }
        let first = r.pending(after: 0)
        #expect(first.commands.count == BridgeRecord.commandsPerResponse)
        #expect(r.pending(after: first.position).commands.count == 5)
    }

    @Test func firstResultWinsAndRepeatsAreCounted() {
        var r = BridgeRecord(id: "b", credentials: BridgeCredentials(apiKey: "k", signingSecret: "s"))
        r.enqueue(command("c1"))
        let first: JSONValue = ["status": "succeeded", "completed_at": "2026-11-29T18:00:00.000Z"]
        let second: JSONValue = ["status": "failed", "completed_at": "2026-11-29T18:00:01.000Z"]
        #expect(r.receiveResult(commandID: "c1", result: first, now: 1) == .stored)
        #expect(r.receiveResult(commandID: "c1", result: second, now: 2) == .duplicate)
        #expect(r.receiveResult(commandID: "nope", result: first, now: 3) == .unknownCommand)
        let stored = r.results["c1"]
        #expect(stored?.result == first)
        #expect(stored?.receivedCount == 2)
        #expect(stored?.receivedAt == 1 && stored?.lastReceivedAt == 2)
    }

    @Test(arguments: [
        (["status": "succeeded", "completed_at": "2026-11-29T18:00:00Z"], true),
        (["status": "failed", "code": "zones_not_ready", "message": "m", "completed_at": "2026-11-29T18:00:00Z",
          "state": ["partition": "main"]], true),
        (["status": "done", "completed_at": "2026-11-29T18:00:00Z"], false),
        (["status": "succeeded"], false),
        (["status": "succeeded", "completed_at": "now"], false),
        (["status": "succeeded", "completed_at": "2026-11-29T18:00:00Z", "code": 5], false),
        (["status": "succeeded", "completed_at": "2026-11-29T18:00:00Z", "state": "armed"], false),
        ([1, 2], false),
    ] as [(JSONValue, Bool)])
    func resultShape(_ raw: JSONValue, _ valid: Bool) {
        #expect((EventShape.checkResult(raw) == nil) == valid)
    }

    @Test func keepsTheNewestStateAndCounts() {
        var r = BridgeRecord(id: "b", credentials: BridgeCredentials(apiKey: "k", signingSecret: "s"))
        #expect(r.state == nil && r.stateCount == 0 && r.stateLastAt == nil)
        r.putState(["clock_offset_ms": 1], now: 10)
        r.putState(["clock_offset_ms": 2], now: 20)
        #expect(r.state == ["clock_offset_ms": 2])
        #expect(r.stateCount == 2 && r.stateLastAt == 20)
    }

    @Test func requestLogIsBounded() {
        var r = BridgeRecord(id: "b", credentials: BridgeCredentials(apiKey: "k", signingSecret: "s"))
        for i in 0..<(BridgeRecord.requestLogLimit + 3) {
            r.log(RequestLogEntry(method: "GET", path: "/\(i)", query: "", status: 200, at: Millis(i), durationMs: 0))
        }
        #expect(r.requests.count == BridgeRecord.requestLogLimit)
        #expect(r.requests.first?.path == "/3")
    }

    @Test func defaultScopesFollowTheProtocolTable() {
        #expect(PlatformCommand.defaultScopes(for: "partition.arm") == ["sites:write"])
        #expect(PlatformCommand.defaultScopes(for: "zone.bypass") == ["sites:write"])
        #expect(PlatformCommand.defaultScopes(for: "relay.deactivate") == ["devices:write"])
        #expect(PlatformCommand.defaultScopes(for: "state.sync") == ["devices:read"])
        #expect(PlatformCommand.defaultScopes(for: "door.open").isEmpty)
    }

    @Test func commandIDsAreFreshAndShaped() {
        let ids = (0..<200).map { _ in PlatformCommand.newID() }
        #expect(Set(ids).count == 200)
        #expect(ids.allSatisfy { $0.hasPrefix("cmd_") && $0.count == 24 })
    }
}
