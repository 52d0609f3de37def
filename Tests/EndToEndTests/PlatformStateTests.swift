import Foundation
import Glibc
import Testing

extension PlatformLink {
    /// `PUT /state` at start, every heartbeat and after a reconnect; the platform's clock tracked for signatures and expiry.
    @Suite struct State {
        /// Arrival times (platform clock, epoch ms) of the successful `PUT /state` requests.
        func statePuts(_ site: PlatformSite) throws -> [Int64] {
            try site.platform.requests().filter { $0["method"] == "PUT" && $0["status"] == 204 }
                .compactMap { $0["at"]?.string.flatMap(WallClock.parse) }.sorted()
        }

        @Test func theStateIsPutAtStartAndEveryHeartbeat() throws {
            let site = try PlatformSite(heartbeatS: 5)
            defer { site.close() }
            try site.start()
            // Two heartbeats after the start-up PUT(s): at least 10 s.
            let puts = try site.waitFor("two heartbeat PUTs after the start", timeout: 20) { () throws -> [Int64]? in
                let puts = try statePuts(site)
                let beats = zip(puts, puts.dropFirst()).filter { $1 - $0 >= 1000 }
                return beats.count >= 2 ? puts : nil
            }
            // Start-up and reconnect PUTs come together; after them, one every 5 s.
            for (a, b) in zip(puts, puts.dropFirst()) {
                let gap = b - a
                #expect(gap < 1000 || (4900...6000).contains(gap), "PUT /state \(gap) ms after the previous one (heartbeat_s 5): \(puts)")
            }
            let status = try site.agent.status()
            let beat = try #require(status["upstream"]?["last_heartbeat"]?.string.flatMap(WallClock.parse), "\(status["upstream"] ?? .null)")
            #expect(WallClock.nowMs() - beat <= 6000, "last_heartbeat \(status["upstream"]?["last_heartbeat"] ?? .null) is stale")
            let state = try #require(try site.platform.state()["state"])
            #expect(state["agent"]?["version"]?.string?.isEmpty == false, "\(state)")
            #expect(state["agent"]?["simulated"] == true, "\(state)")
            #expect(state["partitions"]?.array?.map { $0["id"] } == ["main"], "\(state)")
            #expect(state["relays"]?.array?.compactMap { $0["id"]?.string } == ["door_strike", "siren", "gate"], "\(state)")
            #expect(state["zones"]?.array?.count == 4, "\(state)")
            #expect(state["outbox"]?["pending"] != nil && state["clock_offset_ms"]?.int != nil, "\(state)")
            // The snapshot is the platform's: no local-only sections.
            #expect(state["inputs"] == nil && state["upstream"] == nil && state["bridge"] == nil, "\(state)")
        }

        @Test(arguments: [0, -3600])
        func theStartsStateIsPutOnceAndCarriesTheMeasuredClockOffset(platformSkewS: Int) throws {
            let site = try PlatformSite(heartbeatS: 3600)  // any later PUT would be a heartbeat an hour on
            defer { site.close() }
            if platformSkewS != 0 { try site.platform.fault(["kind": "clock_skew", "offset_s": platformSkewS]) }
            try site.start()
            let state = try site.waitFor("the start-up PUT /state") { () throws -> JSON? in
                let s = try site.platform.state()["state"]
                return s == .null ? nil : s
            }
            let offset = try #require(state["clock_offset_ms"]?.int, "\(state)")
            #expect(abs(offset - Int64(platformSkewS) * 1000) <= 1500, "the start's state reported clock_offset_ms \(offset), not \(platformSkewS) s")
            try site.waitDelivered()
            try site.agent.barrier(ms: 300)
            let puts = try site.platform.requests().filter { $0["method"] == "PUT" }
            #expect(try statePuts(site).count == 1, "\(puts)")
        }

        @Test func aReconnectSendsTheStateAtOnce() throws {
            // A heartbeat of an hour: any new PUT /state is the reconnect's.
            let site = try PlatformSite(heartbeatS: 3600)
            defer { site.close() }
            try site.start()
            try site.waitFor("the start-up PUT /state") { try statePuts(site).isEmpty ? nil : true }
            try site.agent.barrier(ms: 200)
            let before = try statePuts(site).count

            // Two drops: libcurl itself retries a request once when a reused connection dies without an answer,
            // so only the second drop reaches the agent as a network error (not connected).
            try site.platform.fault(["kind": "drop", "path": "events", "count": 2])
            try site.toggle("in1", "active", expect: "zone.faulted")
            try site.waitDelivered()
            let dropped = try site.platform.requests().filter { $0["status"] == 0 }
            #expect(dropped.count == 2, "the connection was not dropped twice: \(dropped)")
            #expect(try site.agent.status()["upstream"]?["last_error"]?.string?.contains("events") == true, site.note)
            try site.waitFor("a PUT /state after the reconnect") { try statePuts(site).count > before ? true : nil }
            let state = try #require(try site.platform.state()["state"])
            #expect(state["zones"]?.array?.first { $0["id"] == "front_door" }?["state"] == "faulted", "\(state)")
        }

        @Test func aPlatformClockAnHourBehindIsTrackedForSignaturesAndExpiry() throws {
            let site = try PlatformSite()
            defer { site.close() }
            try site.start()
            let offset0 = try site.agent.status()["clock_offset_ms"]?.int ?? .max
            #expect(abs(offset0) <= 1500, "clock_offset_ms \(offset0) against a platform on the same clock")

            // An agent comparing with its own clock would refuse every signature (t is 3600 s off) and call
            // every command expired (expires_at is an hour in its past).
            try site.platform.fault(["kind": "clock_skew", "offset_s": -3600])
            try site.toggle("in1", "active", expect: "zone.faulted")
            let (recorded, received) = try site.waitDelivered(timeout: 20)
            site.expectSameEvents(recorded, received)
            let status = try site.waitFor("clock_offset_ms to follow the platform's clock") { () throws -> JSON? in
                let s = try site.agent.status()
                guard let ms = s["clock_offset_ms"]?.int else { return nil }
                return abs(ms + 3_600_000) <= 1500 ? s : nil
            }
            #expect(status["upstream"]?["auth_failed"] == false, "\(status["upstream"] ?? .null)")

            let id = try site.platform.issue("relay.activate", ["relay": "gate", "duration_ms": 100])
            let result = try site.waitResult(id)
            #expect(result["status"] == "succeeded", "a command valid in platform time was refused: \(result)\n\(site.diagnostics)")
            #expect(try site.caused(by: id).map(\.type) == ["relay.activated"], site.note)
            let completed = try #require(result["completed_at"]?.string.flatMap(WallClock.parse), "\(result)")
            #expect(abs(completed - (WallClock.nowMs() - 3_600_000)) <= 10_000, "completed_at \(result["completed_at"] ?? .null) is not in platform time")

            let late = try site.platform.issue("zone.bypass", ["zone": "hall_pir"], expiresInS: -1)
            let expired = try site.waitResult(late)
            #expect(expired["status"] == "expired" && expired["code"] == "expired", "\(expired)")
            #expect(try site.caused(by: late).isEmpty)
        }
    }
}
