import AsyncHTTPClient
import Foundation
import Testing

@testable import PlatformSim

/// Every fault kind over real HTTP.
@Suite("Faults over HTTP")
struct FaultHTTPTests {
    @Test func statusFaultAnswersNMatchingRequests() async throws {
        try await TestPlatform.with { p in
            try await p.addFault(["kind": "status", "status": 503, "retry_after_s": 7, "count": 2, "path": "events"])
            let other = try await p.bridge(.GET, "/commands?wait=0")
            #expect(other.status == 200, "path filter: commands are not affected")
            for _ in 0..<2 {
                let a = try await p.postEvents([event("e1", seq: 1)])
                #expect(a.status == 503)
                #expect(a.header("Retry-After") == "7")
                #expect(a.header("X-Platform-Sim-Fault") == "status")
                #expect(try a.json["error"] == "injected_fault")
            }
            let after = try await p.postEvents([event("e1", seq: 1)])
            #expect(after.status == 200)
            #expect(try after.json.strings("accepted") == ["e1"], "the refused attempts stored nothing")
            let log = try await p.admin(.GET, "/bridges/brg_a/requests").json.arrayValue ?? []
            #expect(log.compactMap { $0["fault"]?.stringValue } == ["status", "status"])
            // Which events each POST carried, also when the fault answered it; other requests carry no `seqs`.
            #expect(log.map { $0["seqs"] } == [nil, [1], [1], [1]])
        }
    }

    @Test(arguments: [429, 500, 401, 400, 413, 422])
    func statusFaultAnswersAnyStatus(_ code: Int) async throws {
        try await TestPlatform.with { p in
            try await p.addFault(["kind": "status", "status": .integer(Int64(code))])
            #expect(try await p.bridge(.PUT, "/state", body: Array("{}".utf8)).status == code)
            #expect(try await p.bridge(.PUT, "/state", body: Array("{}".utf8)).status == 204, "once by default")
        }
    }

    @Test func timedStatusFaultAndItsListing() async throws {
        try await TestPlatform.with { p in
            try await p.addFault(["kind": "status", "status": 500, "for_s": 30, "bridge": "brg_b"])
            #expect(try await p.bridge(.GET, "/commands?wait=0", as: TestPlatform.bridgeB).status == 500)
            #expect(try await p.bridge(.GET, "/commands?wait=0", as: TestPlatform.bridgeB).status == 500)
            #expect(try await p.bridge(.GET, "/commands?wait=0").status == 200, "bridge filter")
            let listed = try await p.admin(.GET, "/faults").json["faults"]?.arrayValue ?? []
            #expect(listed.count == 1)
            #expect(listed.first?["used"] == 2 && listed.first?["remaining"] == .null)
            #expect(listed.first?["until"]?.stringValue.flatMap(Timestamp.parseRFC3339) != nil)
            #expect(try await p.admin(.DELETE, "/faults").status == 204)
            #expect(try await p.bridge(.GET, "/commands?wait=0", as: TestPlatform.bridgeB).status == 200)
        }
    }

    @Test func delayFaultSlowsTheAnswer() async throws {
        try await TestPlatform.with { p in
            try await p.addFault(["kind": "delay", "ms": 600, "path": "state"])
            let (slow, ms) = try await elapsedMs { try await p.bridge(.PUT, "/state", body: Array("{}".utf8)) }
            #expect(slow.status == 204)
            #expect(ms >= 550, "took \(ms) ms")
            let log = try await p.admin(.GET, "/bridges/brg_a/requests").json.arrayValue ?? []
            #expect((log.last?["duration_ms"]?.integerValue ?? 0) >= 550)
        }
    }

    @Test func dropFaultClosesWithoutAnAnswer() async throws {
        try await TestPlatform.with { p in
            try await p.addFault(["kind": "drop", "path": "commands"])
            await #expect(throws: (any Error).self) { try await p.bridge(.GET, "/commands?wait=0") }
            #expect(try await p.bridge(.GET, "/commands?wait=0").status == 200, "once by default")
            let log = try await p.admin(.GET, "/bridges/brg_a/requests").json.arrayValue ?? []
            #expect(log.first?["status"] == 0 && log.first?["fault"] == "drop")
        }
    }

    @Test func dropAfterProcessingLosesOnlyTheAnswer() async throws {
        try await TestPlatform.with { p in
            try await p.addFault(["kind": "drop", "after": true, "path": "events"])
            await #expect(throws: (any Error).self) { try await p.postEvents([event("e1", seq: 1)]) }
            #expect(try await p.admin(.GET, "/bridges/brg_a/events").json["total"] == 1, "stored before the drop")
            let retry = try await p.postEvents([event("e1", seq: 1)])
            #expect(try retry.json.strings("duplicates") == ["e1"], "the agent's retry is a duplicate")
        }
    }

    @Test func tamperSignatureSpoilsTheNextCommandResponse() async throws {
        try await TestPlatform.with { p in
            try await p.addFault(["kind": "tamper_signature"])
            let empty = try await p.poll(wait: 0)
            #expect(TestHMAC.verifies(empty, secret: "secret_a"), "a response without commands does not use it")
            let issued = try await p.issue(["type": "state.sync"])
            let tampered = try await p.poll(wait: 5)
            #expect(try tampered.json["commands"]?.arrayValue == [issued])
            #expect(tampered.header("X-Chekt-Signature")?.contains("v1=") == true, "well formed")
            #expect(!TestHMAC.verifies(tampered, secret: "secret_a"))
            #expect(tampered.header("X-Platform-Sim-Fault") == "tamper_signature")
            let clean = try await p.poll(wait: 5)
            #expect(try clean.json["commands"]?.arrayValue == [issued], "same cursor, same commands")
            #expect(TestHMAC.verifies(clean, secret: "secret_a"))
        }
    }

    @Test func duplicateCommandRepeatsThePreviousOne() async throws {
        try await TestPlatform.with { p in
            let c1 = try await p.issue(["type": "relay.activate", "params": ["relay": "door"]])
            let first = try await p.poll(wait: 5).json
            let cursor = try #require(first["cursor"]?.stringValue)
            try await p.addFault(["kind": "duplicate_command", "count": 2])
            let (again, ms) = try await elapsedMs { try await p.poll(cursor: cursor, wait: 20) }
            #expect(try again.json["commands"]?.arrayValue == [c1])
            #expect(try again.json["cursor"]?.stringValue == cursor)
            #expect(ms < 10_000, "a repeated command is pending: answered at once (took \(ms) ms)")
            #expect(TestHMAC.verifies(again, secret: "secret_a"))
            let c2 = try await p.issue(["type": "relay.deactivate", "params": ["relay": "door"]])
            let both = try await p.poll(cursor: cursor, wait: 5).json
            #expect(both["commands"]?.arrayValue == [c1, c2])
            let normal = try await p.poll(cursor: cursor, wait: 5).json
            #expect(normal["commands"]?.arrayValue == [c2])
        }
    }

    @Test(.timeLimit(.minutes(1))) func duplicateCommandReachesAPollAlreadyWaiting() async throws {
        try await TestPlatform.with { p in
            let c1 = try await p.issue(["type": "state.sync"])
            let cursor = try #require(try await p.poll(wait: 5).json["cursor"]?.stringValue)
            async let installing: Void = {
                await p.store.waitUntilAPollWaits()
                try await p.addFault(["kind": "duplicate_command"])
            }()
            let (answer, ms) = try await elapsedMs { try await p.poll(cursor: cursor, wait: 20) }
            try await installing
            #expect(try answer.json["commands"]?.arrayValue == [c1])
            #expect(ms < 10_000, "woken by the new fault, not the 20 s timeout (took \(ms) ms)")
        }
    }

    @Test func rejectEventRefusesMatchingEventsOnly() async throws {
        try await TestPlatform.with { p in
            try await p.addFault(["kind": "reject_event", "event_type": "alarm.created"])
            try await p.addFault(["kind": "reject_event", "seq": 4])
            let a = try await p.postEvents([
                event("e1", seq: 1), event("e2", seq: 2, type: "alarm.created"), event("e3", seq: 3),
                event("e4", seq: 4), event("e5", seq: 5, type: "alarm.created"),
            ]).json
            #expect(a.strings("accepted") == ["e1", "e3"])
            #expect(a["rejected"]?.arrayValue?.map { $0["id"]?.stringValue ?? "" } == ["e2", "e4", "e5"])
            #expect(a["rejected"]?.arrayValue?.allSatisfy { $0["code"] == "refused_by_test" } == true)
            let stored = try await p.admin(.GET, "/bridges/brg_a/events").json
            #expect(stored["total"] == 2)
            #expect(stored["order_violations"] == [], "refused events are not gaps")
        }
    }

    @Test func refuseBatchWithAnswersTheWholeBatch() async throws {
        try await TestPlatform.with { p in
            try await p.addFault(["kind": "refuse_batch_with", "event_type": "alarm.created", "status": 422])
            let batch = [event("e1", seq: 1), event("e2", seq: 2, type: "alarm.created"), event("e3", seq: 3)]
            let whole = try await p.postEvents(batch)
            #expect(whole.status == 422)
            #expect(try whole.json["error"] == "refused_by_test")
            // The agent splits: halves without the event pass, the event alone is still refused.
            #expect(try await p.postEvents([batch[0]]).status == 200)
            #expect(try await p.postEvents([batch[1]]).status == 422)
            #expect(try await p.postEvents([batch[2]]).status == 200)
            #expect(try await p.admin(.GET, "/bridges/brg_a/events").json["total"] == 2)
            _ = try await p.admin(.DELETE, "/faults")
            #expect(try await p.postEvents([batch[1]]).status == 200)
        }
    }

    @Test func rotateKeyReplacesTheCredentials() async throws {
        try await TestPlatform.with { p in
            try await p.addFault(["kind": "rotate_key", "bridge": "brg_a", "api_key": "key_a2", "signing_secret": "secret_a2"])
            let old = try await p.postEvents([event("e1", seq: 1)])
            #expect(old.status == 401)
            #expect(try old.json["error"] == "unauthorized")
            let newKeyOldSecret = try await p.bridge(.GET, "/commands?wait=0", key: "key_a2")
            #expect(try newKeyOldSecret.json["error"] == "bad_signature")
            let rotated = BridgeRegistration(
                id: "brg_a", credentials: BridgeCredentials(apiKey: "key_a2", signingSecret: "secret_a2"))
            #expect(try await p.postEvents([event("e1", seq: 1)], as: rotated).status == 200)
            _ = try await p.issue(["type": "state.sync"])
            let commands = try await p.poll(wait: 5, as: rotated)
            #expect(TestHMAC.verifies(commands, secret: "secret_a2"))
            #expect(!TestHMAC.verifies(commands, secret: "secret_a"))
            let ambiguous = try await p.admin(.POST, "/faults", ["kind": "rotate_key", "api_key": "k", "signing_secret": "s"])
            #expect(ambiguous.status == 400, "two bridges: the bridge must be named")
        }
    }

    @Test func clockSkewShiftsPlatformTime() async throws {
        try await TestPlatform.with { p in
            try await p.addFault(["kind": "clock_skew", "offset_s": 3600])
            let now = Int64(Date().timeIntervalSince1970)
            let realTime = try await p.bridge(.GET, "/commands?wait=0", t: now)
            #expect(realTime.status == 401, "an hour away from platform time")
            let platformTime = try await p.bridge(.GET, "/commands?wait=0", t: now + 3600)
            #expect(platformTime.status == 200)
            let t = try #require(platformTime.header("X-Chekt-Signature")?.split(separator: ",").first?.dropFirst(2))
            #expect(abs(Int64(t)! - (now + 3600)) <= 5)
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
            let date = try #require(platformTime.header("Date").flatMap(formatter.date(from:)))
            #expect(abs(date.timeIntervalSinceNow - 3600) < 10)
            let command = try await p.issue(["type": "state.sync"])
            let issued = try #require(command["issued_at"]?.stringValue.flatMap(Timestamp.parseRFC3339))
            #expect(abs(issued - (Timestamp.systemNow() + 3_600_000)) < 10_000)
            _ = try await p.admin(.DELETE, "/faults")
            #expect(try await p.bridge(.GET, "/commands?wait=0", t: Int64(Date().timeIntervalSince1970)).status == 200)
        }
    }

    @Test func badFaultRequestsAreExplained() async throws {
        try await TestPlatform.with { p in
            let unknown = try await p.admin(.POST, "/faults", ["kind": "meteor"])
            #expect(unknown.status == 400)
            #expect(try unknown.json["message"]?.stringValue?.contains("status, delay, drop") == true)
            let typo = try await p.admin(.POST, "/faults", ["kind": "status", "status": 503, "cuont": 2])
            #expect(typo.status == 400)
            #expect(try typo.json["message"]?.stringValue?.contains("cuont") == true)
            let ghost = try await p.admin(.POST, "/faults", ["kind": "drop", "bridge": "brg_ghost"])
            #expect(ghost.status == 404)
            #expect(try await p.admin(.DELETE, "/faults/flt_99").status == 404)
            try await p.addFault(["kind": "delay", "ms": 1])
            #expect(try await p.admin(.DELETE, "/faults/flt_1").status == 204)
            #expect(try await p.admin(.GET, "/faults").json == ["faults": []])
        }
    }
}

@Suite("Admin API and page")
struct AdminHTTPTests {
    @Test func registersBridgesAtRunTime() async throws {
        try await TestPlatform.with(bridges: []) { p in
            #expect(try await p.admin(.GET, "/bridges").json == ["bridges": []])
            let created = try await p.admin(.POST, "/bridges", ["id": "brg_new", "api_key": "k", "signing_secret": "s"])
            #expect(created.status == 201)
            let again = try await p.admin(.POST, "/bridges", ["id": "brg_new", "api_key": "k2", "signing_secret": "s2"])
            #expect(again.status == 200)
            #expect(try again.json["created"] == false)
            let bridge = BridgeRegistration(id: "brg_new", credentials: BridgeCredentials(apiKey: "k2", signingSecret: "s2"))
            #expect(try await p.postEvents([event("e1", seq: 1)], as: bridge).status == 200)
            let list = try await p.admin(.GET, "/bridges").json["bridges"]?.arrayValue ?? []
            #expect(list.map { $0["id"]?.stringValue ?? "" } == ["brg_new"])
            #expect(list.first?["events"] == 1)
            let bad = try await p.admin(.POST, "/bridges", ["id": "bad id", "api_key": "k", "signing_secret": "s"])
            #expect(bad.status == 400)
        }
    }

    @Test func commandRequestsAreValidated() async throws {
        try await TestPlatform.with { p in
            #expect(try await p.admin(.POST, "/bridges/brg_ghost/commands", ["type": "state.sync"]).status == 404)
            for body: JSONValue in [
                [:], ["type": ""], ["type": "state.sync", "params": [1]], ["type": "state.sync", "typo": 1],
                ["type": "state.sync", "scopes": "devices:read"], ["type": "state.sync", "expires_in_s": "soon"],
            ] {
                let a = try await p.admin(.POST, "/bridges/brg_a/commands", body)
                #expect(a.status == 400, "\(body.serialized)")
            }
            let listed = try await p.admin(.GET, "/bridges/brg_a/commands").json
            #expect(listed["commands"] == [], "nothing was issued")
        }
    }

    @Test func commandListShowsDeliveryAndResults() async throws {
        try await TestPlatform.with { p in
            let c = try await p.issue(["type": "relay.activate", "params": ["relay": "door"]])
            let id = try #require(c["id"]?.stringValue)
            var listed = try await p.admin(.GET, "/bridges/brg_a/commands").json["commands"]?.arrayValue ?? []
            #expect(listed.first?["delivered"] == false && listed.first?["result"] == .null)
            _ = try await p.poll(wait: 5)
            let result: JSONValue = ["status": "succeeded", "completed_at": "2026-11-29T18:00:00.000Z"]
            _ = try await p.bridge(.POST, "/commands/\(id)/result", body: result.bytes)
            listed = try await p.admin(.GET, "/bridges/brg_a/commands").json["commands"]?.arrayValue ?? []
            #expect(listed.first?["delivered"] == true)
            #expect(listed.first?["position"] == 1)
            #expect(listed.first?["result"]?["status"] == "succeeded")
        }
    }

    @Test func unknownBridgeOnEveryReadIs404() async throws {
        try await TestPlatform.with { p in
            for path in ["events", "results", "state", "requests", "commands"] {
                let answer = try await p.admin(.GET, "/bridges/brg_ghost/\(path)")
                #expect(answer.status == 404, "\(path)")
            }
        }
    }

    @Test func servesTheDemoPage() async throws {
        try await TestPlatform.with { p in
            let page = try await p.request(.GET, "/")
            #expect(page.status == 200)
            #expect(page.header("Content-Type") == "text/html; charset=utf-8")
            let html = String(decoding: page.body, as: UTF8.self)
            #expect(html.hasPrefix("<!doctype html>"))
            for needle in ["/admin/bridges", "partition.arm", "zone.bypass", "relay.activate", "relay.deactivate",
                           "partition.disarm", "zone.unbypass", "setTimeout(refresh, 1000)"] {
                #expect(html.contains(needle), "\(needle)")
            }
            #expect(!html.contains("http://") && !html.contains("https://"), "no external assets")
            #expect(!html.contains(".innerHTML"), "bridge data goes in as text, never as HTML")
        }
    }
}
