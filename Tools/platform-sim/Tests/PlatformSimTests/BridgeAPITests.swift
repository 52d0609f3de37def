import Foundation
import Testing

@testable import PlatformSim

/// The bridge API over real HTTP on 127.0.0.1, signed as the agent signs.
@Suite("Bridge API: authentication")
struct BridgeAuthTests {
    @Test func aSignedRequestPasses() async throws {
        try await TestPlatform.with { p in
            let answer = try await p.postEvents([event("e1", seq: 1)])
            #expect(answer.status == 200)
            #expect(answer.header("Content-Type") == "application/json")
        }
    }

    @Test func missingOrWrongKeyIs401() async throws {
        try await TestPlatform.with { p in
            let none = try await p.request(.GET, "/v1/bridges/brg_a/commands?wait=0")
            #expect(none.status == 401)
            #expect(try none.json["error"] == "unauthorized")
            let wrong = try await p.bridge(.GET, "/commands?wait=0", key: "key_b")
            #expect(wrong.status == 401)
            #expect(try wrong.json["error"] == "unauthorized")
            #expect(!String(decoding: wrong.body, as: UTF8.self).contains("key_a"), "never echo a key")
        }
    }

    @Test func bridgeIDHeaderMustMatchThePath() async throws {
        try await TestPlatform.with { p in
            let answer = try await p.bridge(.GET, "/commands?wait=0", bridgeHeader: "brg_b")
            #expect(answer.status == 401)
            #expect(try answer.json["error"] == "bridge_mismatch")
        }
    }

    @Test func badSignatureIs401() async throws {
        try await TestPlatform.with { p in
            let wrongSecret = try await p.bridge(.PUT, "/state", body: Array("{}".utf8), secret: "secret_b")
            #expect(wrongSecret.status == 401)
            #expect(try wrongSecret.json["error"] == "bad_signature")
            let noHeader = try await p.request(
                .PUT, "/v1/bridges/brg_a/state", body: Array("{}".utf8),
                headers: [("Authorization", "Bearer key_a"), ("X-Bridge-Id", "brg_a")])
            #expect(noHeader.status == 401)
            #expect(try noHeader.json["error"] == "bad_signature")
            #expect(try noHeader.json["message"]?.stringValue?.contains("missing") == true)
        }
    }

    @Test func signatureCoversTheExactBody() async throws {
        try await TestPlatform.with { p in
            let signed = Array(#"{"a":1}"#.utf8)
            let t = Int64(Date().timeIntervalSince1970)
            let answer = try await p.request(
                .PUT, "/v1/bridges/brg_a/state", body: Array(#"{"a": 1}"#.utf8),
                headers: [
                    ("Authorization", "Bearer key_a"), ("X-Bridge-Id", "brg_a"),
                    ("X-Chekt-Signature", TestHMAC.header(secret: "secret_a", body: signed, t: t)),
                ])
            #expect(answer.status == 401, "a re-encoded body must not verify")
        }
    }

    @Test func timestampWindowIsThreeHundredSeconds() async throws {
        try await TestPlatform.with { p in
            let now = Int64(Date().timeIntervalSince1970)
            // 5 s of margin each side for the time the requests take.
            #expect(try await p.bridge(.PUT, "/state", body: Array("{}".utf8), t: now - 295).status == 204)
            #expect(try await p.bridge(.PUT, "/state", body: Array("{}".utf8), t: now + 295).status == 204)
            let old = try await p.bridge(.PUT, "/state", body: Array("{}".utf8), t: now - 310)
            #expect(old.status == 401)
            #expect(try old.json["error"] == "bad_signature")
            #expect(try await p.bridge(.PUT, "/state", body: Array("{}".utf8), t: now + 310).status == 401)
        }
    }

    @Test func unknownBridgeIs404() async throws {
        try await TestPlatform.with { p in
            let ghost = BridgeRegistration(id: "brg_ghost", credentials: BridgeCredentials(apiKey: "k", signingSecret: "s"))
            let answer = try await p.bridge(.GET, "/commands?wait=0", as: ghost)
            #expect(answer.status == 404)
            #expect(try answer.json["error"] == "unknown_bridge")
        }
    }

    @Test func everyResponseCarriesACurrentDateHeader() async throws {
        try await TestPlatform.with { p in
            let answers = [
                try await p.postEvents([event("e1", seq: 1)]),
                try await p.bridge(.GET, "/commands?wait=0"),
                try await p.request(.GET, "/v1/bridges/brg_a/commands"),
                try await p.admin(.GET, "/bridges"),
                try await p.request(.GET, "/"),
                try await p.request(.GET, "/nowhere"),
            ]
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
            for a in answers {
                let text = try #require(a.header("Date"))
                let date = try #require(formatter.date(from: text), "not an IMF-fixdate: \(text)")
                #expect(abs(date.timeIntervalSinceNow) < 10, "\(text)")
            }
        }
    }
}

@Suite("Bridge API: events")
struct BridgeEventTests {
    @Test func acceptsDedupesAndRejects() async throws {
        try await TestPlatform.with { p in
            let first = try await p.postEvents([event("e1", seq: 1), event("e2", seq: 2)])
            #expect(try first.json.strings("accepted") == ["e1", "e2"])
            let bad: JSONValue = ["id": "e4", "seq": "4", "type": "zone.faulted", "occurred_at": "x", "data": [:]]
            let second = try await p.postEvents([event("e2", seq: 2), event("e3", seq: 3), bad])
            let json = try second.json
            #expect(json.strings("accepted") == ["e3"])
            #expect(json.strings("duplicates") == ["e2"])
            #expect(json["rejected"]?.arrayValue?.count == 1)
            #expect(json["rejected"]?.arrayValue?.first?["id"] == "e4")
            #expect(json["rejected"]?.arrayValue?.first?["code"] == "invalid_event")
            #expect(json["rejected"]?.arrayValue?.first?["message"]?.stringValue?.hasPrefix("seq:") == true)

            let admin = try await p.admin(.GET, "/bridges/brg_a/events").json
            #expect(admin["events"]?.arrayValue?.map { $0["id"]?.stringValue ?? "" } == ["e1", "e2", "e3"])
            #expect(admin["events"]?.arrayValue?.first?["received_at"]?.stringValue.flatMap(Timestamp.parseRFC3339) != nil)
            #expect(admin["events"]?.arrayValue?.first?["data"] == ["zone": "front_door"])
            #expect(admin["duplicates_received"] == 1)
            #expect(admin["order_violations"] == [])
            #expect(admin["total"] == 3)
        }
    }

    @Test func eventsAreKeptPerBridge() async throws {
        try await TestPlatform.with { p in
            _ = try await p.postEvents([event("same_id", seq: 1)], as: TestPlatform.bridgeA)
            let b = try await p.postEvents([event("same_id", seq: 1)], as: TestPlatform.bridgeB)
            #expect(try b.json.strings("accepted") == ["same_id"], "dedupe is per bridge")
            #expect(try await p.admin(.GET, "/bridges/brg_b/events").json["total"] == 1)
        }
    }

    @Test func reportsOrderViolations() async throws {
        try await TestPlatform.with { p in
            _ = try await p.postEvents([event("e1", seq: 1), event("e2", seq: 2)])
            _ = try await p.postEvents([event("e5", seq: 5)])
            _ = try await p.postEvents([event("e3", seq: 3)])
            let violations = try await p.admin(.GET, "/bridges/brg_a/events").json["order_violations"]?.arrayValue ?? []
            #expect(violations.map { $0["kind"]?.stringValue ?? "" } == ["gap", "backwards"])
            #expect(violations.first?["event_id"] == "e5" && violations.first?["previous_seq"] == 2)
            #expect(violations.last?["event_id"] == "e3" && violations.last?["previous_seq"] == 5)
        }
    }

    @Test func batchLimits() async throws {
        try await TestPlatform.with { p in
            let hundred = (1...100).map { event("b\($0)", seq: Int64($0)) }
            #expect(try await p.postEvents(hundred).status == 200)
            let tooMany = (1...101).map { event("c\($0)", seq: Int64(100 + $0)) }
            let many = try await p.postEvents(tooMany)
            #expect(many.status == 413)
            #expect(try many.json["error"] == "too_many_events")

            let big = event("big", seq: 201, data: ["blob": .string(String(repeating: "x", count: 256 * 1024))])
            let large = try await p.postEvents([big])
            #expect(large.status == 413)
            #expect(try large.json["error"] == "batch_too_large")
            // Just under the limit passes.
            let envelope = JSONValue.object(["events": [event("fit", seq: 201, data: ["blob": ""])]]).bytes.count
            let fits = event("fit", seq: 201, data: ["blob": .string(String(repeating: "x", count: 256 * 1024 - envelope))])
            let fitting = try await p.postEvents([fits])
            #expect(fitting.status == 200)
            #expect(try fitting.json.strings("accepted") == ["fit"])
            let stored = try await p.admin(.GET, "/bridges/brg_a/events").json
            #expect(stored["total"] == 101, "nothing from the refused batches was kept")
        }
    }

    @Test func malformedBodiesAre400() async throws {
        try await TestPlatform.with { p in
            let notJSON = try await p.bridge(.POST, "/events", body: Array("{oops".utf8))
            #expect(notJSON.status == 400)
            #expect(try notJSON.json["error"] == "invalid_body")
            let noEvents = try await p.bridge(.POST, "/events", body: Array(#"{"evts":[]}"#.utf8))
            #expect(noEvents.status == 400)
        }
    }
}

@Suite("Bridge API: commands, results, state")
struct BridgeCommandTests {
    @Test func commandsAreSignedWithTheBridgeSecret() async throws {
        try await TestPlatform.with { p in
            let issued = try await p.issue(["type": "partition.arm", "params": ["partition": "main", "mode": "away"]])
            let answer = try await p.poll(wait: 5)
            #expect(answer.status == 200)
            #expect(TestHMAC.verifies(answer, secret: "secret_a"))
            #expect(!TestHMAC.verifies(answer, secret: "secret_b"))
            let t = try #require(answer.header("X-Chekt-Signature")?.split(separator: ",").first?.dropFirst(2))
            #expect(abs(Int64(t)! - Int64(Date().timeIntervalSince1970)) <= 5)
            let commands = try answer.json["commands"]?.arrayValue ?? []
            #expect(commands == [issued])
        }
    }

    @Test func commandObjectHasTheProtocolShape() async throws {
        try await TestPlatform.with { p in
            let c = try await p.issue(["type": "relay.activate", "params": ["relay": "door_strike", "duration_ms": 3000]])
            let id = try #require(c["id"]?.stringValue)
            #expect(id.hasPrefix("cmd_"))
            #expect(c["type"] == "relay.activate")
            #expect(c["params"] == ["relay": "door_strike", "duration_ms": 3000])
            let issued = try #require(c["issued_at"]?.stringValue.flatMap(Timestamp.parseRFC3339))
            let expires = try #require(c["expires_at"]?.stringValue.flatMap(Timestamp.parseRFC3339))
            #expect(expires - issued == 60_000)
            #expect(c["issued_by"] == ["app": "app_platform_sim", "scopes": ["devices:write"]])

            let custom = try await p.issue([
                "type": "state.sync", "expires_in_s": -5, "scopes": ["sites:read"], "app": "app_x", "id": "cmd_fixed",
            ])
            #expect(custom["id"] == "cmd_fixed")
            #expect(custom["issued_by"] == ["app": "app_x", "scopes": ["sites:read"]])
            let ci = try #require(custom["issued_at"]?.stringValue.flatMap(Timestamp.parseRFC3339))
            let ce = try #require(custom["expires_at"]?.stringValue.flatMap(Timestamp.parseRFC3339))
            #expect(ce - ci == -5_000, "already expired on issue")
            #expect(try await p.issue(["type": "partition.disarm", "params": ["partition": "main"]])["issued_by"]?["scopes"] == ["sites:write"])
            #expect(try await p.issue(["type": "state.sync"])["issued_by"]?["scopes"] == ["devices:read"])
        }
    }

    @Test func cursorAdvancesAndAForcedIDIsDeliveredAgain() async throws {
        try await TestPlatform.with { p in
            let c1 = try await p.issue(["type": "relay.activate", "params": ["relay": "r1"]])
            let c2 = try await p.issue(["type": "relay.deactivate", "params": ["relay": "r1"]])
            let first = try await p.poll(wait: 5).json
            #expect(first["commands"]?.arrayValue == [c1, c2])
            let cursor = try #require(first["cursor"]?.stringValue)
            let empty = try await p.poll(cursor: cursor, wait: 0).json
            #expect(empty["commands"] == [])
            #expect(empty["cursor"]?.stringValue == cursor)
            let replay = try await p.issue(["type": "relay.activate", "params": ["relay": "r1"], "id": c1["id"]!])
            let again = try await p.poll(cursor: cursor, wait: 5).json
            #expect(again["commands"]?.arrayValue == [replay])
            #expect(again["commands"]?.arrayValue?.first?["id"] == c1["id"])
            // From the start again (a bridge that lost its cursor) everything is delivered.
            #expect(try await p.poll(wait: 0).json["commands"]?.arrayValue?.count == 3)
            let listed = try await p.admin(.GET, "/bridges/brg_a/commands").json
            #expect(listed["delivered_up_to"] == 3)
        }
    }

    @Test(.timeLimit(.minutes(1))) func longPollWakesWhenACommandIsEnqueued() async throws {
        try await TestPlatform.with { p in
            async let issuing: JSONValue = {
                // Wait until the poll is waiting, so the wake-up is what answers it.
                await p.store.waitUntilAPollWaits()
                return try await p.issue(["type": "state.sync"])
            }()
            let (answer, ms) = try await elapsedMs { try await p.poll(wait: 20) }
            let issued = try await issuing
            #expect(try answer.json["commands"]?.arrayValue == [issued])
            #expect(ms < 10_000, "answered on enqueue, not at the 20 s timeout (took \(ms) ms)")
            #expect(p.store.waitingPolls == 0)
        }
    }

    @Test func longPollTimesOutEmpty() async throws {
        try await TestPlatform.with { p in
            let (answer, ms) = try await elapsedMs { try await p.poll(wait: 1) }
            #expect(answer.status == 200)
            #expect(try answer.json["commands"] == [])
            #expect(try answer.json["cursor"]?.stringValue == CommandCursor.encode(0))
            #expect(TestHMAC.verifies(answer, secret: "secret_a"), "an empty list is signed too")
            #expect(ms >= 900, "held for the wait (took \(ms) ms)")
            let other = try await p.issue(["type": "state.sync"], bridge: "brg_b")
            #expect(other["id"] != nil)
            #expect(try await p.poll(wait: 0).json["commands"] == [], "another bridge's command is not ours")
        }
    }

    @Test func pollParametersAreChecked() async throws {
        try await TestPlatform.with { p in
            let cursor = try await p.bridge(.GET, "/commands?cursor=garbage&wait=0")
            #expect(cursor.status == 400)
            #expect(try cursor.json["error"] == "invalid_cursor")
            let wait = try await p.bridge(.GET, "/commands?wait=soon")
            #expect(wait.status == 400)
            #expect(try wait.json["error"] == "invalid_wait")
        }
    }

    @Test func resultsFirstWinsRepeatsCountedUnknown404() async throws {
        try await TestPlatform.with { p in
            let c = try await p.issue(["type": "partition.arm", "params": ["partition": "main", "mode": "away"]])
            let id = try #require(c["id"]?.stringValue)
            let result: JSONValue = [
                "status": "failed", "code": "zones_not_ready", "message": "front_door is faulted",
                "completed_at": "2026-11-29T18:00:01.000Z", "state": ["partition": "main", "state": "disarmed"],
            ]
            #expect(try await p.bridge(.POST, "/commands/\(id)/result", body: result.bytes).status == 204)
            let repeatResult: JSONValue = ["status": "succeeded", "completed_at": "2026-11-29T18:00:02.000Z"]
            #expect(try await p.bridge(.POST, "/commands/\(id)/result", body: repeatResult.bytes).status == 204)
            let unknown = try await p.bridge(.POST, "/commands/cmd_nope/result", body: result.bytes)
            #expect(unknown.status == 404)
            #expect(try unknown.json["error"] == "unknown_command")
            let invalid = try await p.bridge(.POST, "/commands/\(id)/result", body: Array(#"{"status":"ok"}"#.utf8))
            #expect(invalid.status == 400)
            #expect(try invalid.json["error"] == "invalid_result")

            let stored = try #require(try await p.admin(.GET, "/bridges/brg_a/results").json["results"]?[id])
            #expect(stored["status"] == "failed")
            #expect(stored["code"] == "zones_not_ready")
            #expect(stored["state"] == ["partition": "main", "state": "disarmed"])
            #expect(stored["received_count"] == 2)
        }
    }

    @Test func stateKeepsTheNewestAndCounts() async throws {
        try await TestPlatform.with { p in
            let empty = try await p.admin(.GET, "/bridges/brg_a/state").json
            #expect(empty == ["state": nil, "count": 0, "last_at": nil])
            let s1: JSONValue = ["clock_offset_ms": 12, "partitions": [["id": "main", "state": "disarmed"]]]
            let s2: JSONValue = ["clock_offset_ms": 15, "partitions": [["id": "main", "state": "armed_away"]]]
            #expect(try await p.bridge(.PUT, "/state", body: s1.bytes).status == 204)
            #expect(try await p.bridge(.PUT, "/state", body: s2.bytes).status == 204)
            let notObject = try await p.bridge(.PUT, "/state", body: Array("[1]".utf8))
            #expect(notObject.status == 400)
            let state = try await p.admin(.GET, "/bridges/brg_a/state").json
            #expect(state["state"] == s2)
            #expect(state["count"] == 2)
            let lastAt = try #require(state["last_at"]?.stringValue.flatMap(Timestamp.parseRFC3339))
            #expect(abs(lastAt - Timestamp.systemNow()) < 10_000)
        }
    }

    @Test func requestLogRecordsEveryBridgeRequest() async throws {
        try await TestPlatform.with { p in
            _ = try await p.request(.GET, "/v1/bridges/brg_a/commands?wait=0")
            _ = try await p.postEvents([event("e1", seq: 1)])
            _ = try await p.bridge(.PUT, "/state", body: Array("{}".utf8))
            _ = try await p.admin(.GET, "/bridges/brg_a/events")
            let log = try await p.admin(.GET, "/bridges/brg_a/requests").json.arrayValue ?? []
            #expect(log.map { $0["method"]?.stringValue ?? "" } == ["GET", "POST", "PUT"])
            #expect(log.map { $0["path"]?.stringValue ?? "" } == [
                "/v1/bridges/brg_a/commands", "/v1/bridges/brg_a/events", "/v1/bridges/brg_a/state",
            ])
            #expect(log.map { $0["status"]?.integerValue ?? 0 } == [401, 200, 204])
            #expect(log.first?["query"] == "wait=0")
            #expect(log.allSatisfy { $0["at"]?.stringValue.flatMap(Timestamp.parseRFC3339) != nil })
        }
    }
}
