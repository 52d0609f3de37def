import Foundation
import Glibc
import Testing

extension PlatformLink {
    /// Event delivery to the reference platform: order, outages, Retry-After, refused batches, dead letters, kill -9.
    @Suite struct Delivery {
        @Test func everyRecordedEventArrivesOnceInSeqOrder() throws {
            let site = try PlatformSite()
            defer { site.close() }
            try site.start()

            var made: [RecordedEvent] = []
            made.append(try site.toggle("in1", "active", expect: "zone.faulted"))
            made.append(try site.toggle("in1", "inactive", expect: "zone.restored"))
            made.append(try site.toggle("in2", "active", expect: "zone.faulted"))
            made.append(try site.toggle("in2", "inactive", expect: "zone.restored"))
            try site.agent.ok("relay", "pulse", "gate", "--ms", "100")
            try site.agent.ok("relay", "pulse", "door_strike", "--ms", "150")
            try site.toggleSiren(pairs: 3)
            made.append(try site.toggle("in4", "active", expect: "zone.faulted"))
            // Both pulses must have ended, or one may end between reading the journal and reading the platform.
            _ = try site.waitFor("both pulses to end") { () throws -> Bool? in
                let ended = try site.journal().filter { $0.type == "relay.deactivated" && $0.data["reason"] == "pulse_elapsed" }
                return ended.count == 2 ? true : nil
            }

            let (recorded, received) = try site.waitDelivered()
            #expect(made.allSatisfy { e in received.contains { $0["id"] == .string(e.id) } }, site.note)
            // No command ran, so the journal's seqs are 1, 2, 3, … and so are the platform's.
            #expect(recorded.map(\.seq) == (1...Int64(recorded.count)).map { $0 }, "\(recorded.listing)")
            site.expectSameEvents(recorded, received)
            let report = try site.platform.eventsReport()
            #expect(report["total"] == .int(Int64(recorded.count)), "\(report["total"] ?? .null) events at the platform, \(recorded.count) recorded")
            #expect(report["duplicates_received"] == 0, "the agent re-sent accepted events: \(report["duplicates_received"] ?? .null)\n\(site.diagnostics)")
            #expect(received.filter { $0["type"] == "relay.activated" }.count == 5, site.note)

            let status = try site.agent.status()
            #expect(status["outbox"]?["pending"] == 0, "\(status["outbox"] ?? .null)")
            #expect(status["outbox"]?["dead_lettered"] == 0, "\(status["outbox"] ?? .null)")
            #expect(status["upstream"]?["connected"] == true, "\(status["upstream"] ?? .null)")
            #expect(status["upstream"]?["mode"] == "platform", "\(status["upstream"] ?? .null)")
            #expect(status["upstream"]?["url"] == .string(site.platform.apiURL), "\(status["upstream"] ?? .null)")
            #expect(status["upstream"]?["auth_failed"] == false, "\(status["upstream"] ?? .null)")
            #expect(status["upstream"]?["last_error"] == .null, "\(status["upstream"] ?? .null)")
            // The platform saw the agent identify itself: every request authenticated (no 401) and none refused.
            let refused = try site.platform.requests().filter { ($0["status"]?.int ?? 0) >= 300 }
            #expect(refused.isEmpty, "requests refused: \(refused)")
            try site.expectNoSecretsLeaked()
        }

        /// Results go first (an app waits for them), but a burst of them must not hold events back: with each
        /// result POST taking 300 ms, a zone event recorded behind 20 queued results reaches the platform after at
        /// most a few of them (docs/protocol.md, "Delivery order"), not after all 20.
        @Test func aBurstOfCommandResultsDoesNotHoldAnEventBack() throws {
            let site = try PlatformSite()
            defer { site.close() }
            try site.start()
            _ = try site.waitDelivered()
            try site.platform.fault(["kind": "delay", "ms": 300, "for_s": 120, "path": "result"])
            // 20 commands refused at once (no such zone): 20 results, no event.
            let ids = try site.platform.issueAll((0..<20).map { i in
                ["type": "zone.bypass", "params": ["zone": "no_such_zone_\(i)"]] as [String: Any]
            })
            try site.waitFor("the 20 commands to be answered in the ledger") { () throws -> Bool? in
                try ids.allSatisfy { try !site.resultRecords($0).isEmpty } ? true : nil
            }
            let event = try site.toggle("in1", "active", expect: "zone.faulted")
            try site.waitFor("the zone event at the platform", timeout: 20) { () throws -> Bool? in
                try site.platform.events().contains { $0["id"] == .string(event.id) } ? true : nil
            }
            let delivered = try site.platform.results().filter { ids.contains($0.key) }.count
            #expect(delivered < 15, "\(delivered) of 20 results went before the event: results held it back\n\(site.diagnostics)")
            // And every result still arrives, once.
            for id in ids { #expect(try site.waitResult(id, timeout: 20)["received_count"] == 1) }
        }

        @Test func anOutageOf503WithRetryAfterLosesNothingAndKeepsOrder() throws {
            let site = try PlatformSite()
            defer { site.close() }
            try site.start()
            let (before, _) = try site.waitDelivered()

            try site.platform.fault(["kind": "status", "status": 503, "retry_after_s": 1, "for_s": 4, "path": "events"])
            let faultedAt = WallClock.nowMs()
            try site.toggle("in1", "active", expect: "zone.faulted")
            try site.toggleSiren(pairs: 2)
            try site.toggle("in1", "inactive", expect: "zone.restored")
            // Still inside the outage: nothing new has arrived, and the outbox holds it.
            let meanwhile = try site.agent.status()
            let recordedDuring = try site.journal().count - before.count
            if WallClock.nowMs() - faultedAt < 3500 {
                #expect(try site.platform.events().count == before.count, "events arrived during the 503 outage\n\(site.diagnostics)")
                #expect((meanwhile.pending ?? 0) >= Int64(recordedDuring), "status during the outage: \(meanwhile["outbox"] ?? .null)")
            }

            let (recorded, received) = try site.waitDelivered(timeout: 20)
            site.expectSameEvents(recorded, received)
            #expect(recorded.count == before.count + 6, "\(recorded.listing)")

            let posts = try site.platform.requests().filter { $0["method"] == "POST" && $0["path"]?.string?.hasSuffix("/events") == true }
            let refused = posts.filter { $0["status"] == 503 }
            #expect(refused.count >= 2, "the agent did not keep trying through the outage: \(posts)")
            #expect(refused.allSatisfy { $0["fault"] == "status" }, "\(refused)")
            // Retry-After: 1 is honoured: no retry sooner than a second after a 503.
            let times = posts.compactMap { $0["at"]?.string.flatMap(WallClock.parse) }
            for (i, post) in posts.enumerated().dropLast() where post["status"] == 503 {
                let gap = times[i + 1] - times[i]
                #expect(gap >= 990, "a retry came \(gap) ms after a 503 with Retry-After: 1\n\(posts)")
            }
            #expect(try site.agent.status()["upstream"]?["connected"] == true)
        }

        @Test func aBatchAnsweredWith503IsSentAgainAsItWasWithoutTheEventsRecordedMeanwhile() throws {
            let site = try PlatformSite()
            defer { site.close() }
            try site.start()
            try site.waitDelivered()

            try site.platform.fault(["kind": "status", "status": 503, "retry_after_s": 2, "count": 1, "path": "events"])
            let faulted = try site.toggle("in1", "active", expect: "zone.faulted")
            let isEventPost = { (r: JSON) in r["method"] == "POST" && r["path"]?.string?.hasSuffix("/events") == true }
            let refused = try site.waitFor("the POST of #\(faulted.seq) to be answered 503") {
                try site.platform.requests().last { isEventPost($0) && $0["status"] == 503 }
            }
            try site.toggleSiren(pairs: 2)  // recorded during the back-off: not part of the batch being retried
            let (recorded, received) = try site.waitDelivered(timeout: 20)
            site.expectSameEvents(recorded, received)

            let posts = try site.platform.requests().filter(isEventPost)
            let i = try #require(posts.firstIndex(of: refused))
            let refusedSeqs = refused["seqs"]?.array?.compactMap(\.int) ?? []
            #expect(refusedSeqs == [faulted.seq], "\(posts)")
            #expect(posts[i + 1]["seqs"] == refused["seqs"], "the retry was not the same batch\n\(posts)")
            #expect(posts[i + 1]["status"] == 200, "\(posts)")
            #expect(posts[(i + 2)...].contains { $0["seqs"]?.array?.count == 4 }, "the 4 siren events did not follow in a batch of their own\n\(posts)")
        }

        @Test func a429WithRetryAfterIsRetriedNoSoonerThanItSays() throws {
            let site = try PlatformSite()
            defer { site.close() }
            try site.start()
            try site.waitDelivered()

            try site.platform.fault(["kind": "status", "status": 429, "retry_after_s": 2, "count": 2, "path": "events"])
            try site.toggle("in2", "active", expect: "zone.faulted")
            let (recorded, received) = try site.waitDelivered(timeout: 20)
            site.expectSameEvents(recorded, received)

            let posts = try site.platform.requests().filter { $0["method"] == "POST" && $0["path"]?.string?.hasSuffix("/events") == true }
            let tail = Array(posts.suffix(3))
            #expect(tail.compactMap { $0["status"]?.int } == [429, 429, 200], "\(posts)")
            let times = tail.compactMap { $0["at"]?.string.flatMap(WallClock.parse) }
            if times.count == 3 {
                #expect(times[1] - times[0] >= 1990, "retried \(times[1] - times[0]) ms after a 429 with Retry-After: 2")
                #expect(times[2] - times[1] >= 1990, "retried \(times[2] - times[1]) ms after a 429 with Retry-After: 2")
            }
        }

        @Test func aRefusedBatchIsSplitAndOnlyTheRefusedEventIsDeadLettered() throws {
            let site = try PlatformSite()
            defer { site.close() }
            try site.start()
            let (before, _) = try site.waitDelivered()

            // Hold delivery (503) while four events queue up, so they travel as one batch.
            let hold = try site.platform.fault(["kind": "status", "status": 503, "retry_after_s": 1, "for_s": 60, "path": "events"])
            let faulted = try site.toggle("in1", "active", expect: "zone.faulted")
            try site.agent.ok("relay", "pulse", "gate", "--ms", "100")
            let released = try site.agent.waitForEvent("relay.deactivated", after: faulted.seq)
            let restored = try site.toggle("in1", "inactive", expect: "zone.restored")
            try site.waitFor("a POST of the queued events to be refused with 503") {
                try site.platform.requests().contains { $0["status"] == 503 && $0["path"]?.string?.hasSuffix("/events") == true } ? true : nil
            }
            let queued = try site.journal().filter { $0.seq > before.last!.seq }
            #expect(queued.map(\.type) == ["zone.faulted", "relay.activated", "relay.deactivated", "zone.restored"], "\(queued.listing)")
            let refusedEvent = try #require(queued.first { $0.type == "relay.activated" })
            #expect(released.seq < restored.seq)

            try site.platform.fault(["kind": "refuse_batch_with", "event_type": "relay.activated", "status": 422])
            try site.platform.removeFault(hold)

            try site.waitFor("zone.restored to reach the platform after the split", timeout: 20) {
                try site.platform.events().contains { $0["id"] == .string(restored.id) } ? true : nil
            }
            let status = try site.waitFor("outbox.pending 0") { () throws -> JSON? in
                let s = try site.agent.status()
                return s.pending == 0 ? s : nil
            }
            #expect(status["outbox"]?["dead_lettered"] == 1, "\(status["outbox"] ?? .null)\n\(site.diagnostics)")
            let received = try site.platform.events()
            let expected = (before + queued).filter { $0.id != refusedEvent.id }
            #expect(received == expected.map(\.wire), "the platform should hold every event but the refused one, in order\n\(site.diagnostics)")
            let refusals = try site.platform.requests().filter { $0["status"] == 422 }
            #expect(refusals.count >= 2, "the batch was not split down to the one refused event: \(refusals)")

            let deadLetters = sandboxFile(site, "dead-letter.log")
            #expect(deadLetters.range(of: Data(refusedEvent.id.utf8)) != nil, "dead-letter.log does not hold \(refusedEvent.id)")
            #expect(deadLetters.range(of: Data("http_422".utf8)) != nil, "dead-letter.log does not give the refusal (http_422)")
            for other in expected where other.seq > before.last!.seq {
                #expect(deadLetters.range(of: Data(other.id.utf8)) == nil, "\(other.type) \(other.id) was dead-lettered too")
            }
            #expect(site.agent.log.contains(refusedEvent.id), "the agent did not log the dead-lettered event\n\(site.agent.logTail)")
        }

        @Test func aRejectedEventIsDeadLetteredWithThePlatformsCode() throws {
            let site = try PlatformSite()
            defer { site.close() }
            try site.start()
            try site.waitDelivered()

            try site.platform.fault(["kind": "reject_event", "event_type": "zone.faulted"])
            let faulted = try site.toggle("in4", "active", expect: "zone.faulted")
            let restored = try site.toggle("in4", "inactive", expect: "zone.restored")
            try site.waitFor("zone.restored to reach the platform") {
                try site.platform.events().contains { $0["id"] == .string(restored.id) } ? true : nil
            }
            let status = try site.waitFor("outbox.pending 0") { () throws -> JSON? in
                let s = try site.agent.status()
                return s.pending == 0 ? s : nil
            }
            #expect(status["outbox"]?["dead_lettered"] == 1, "\(status["outbox"] ?? .null)\n\(site.diagnostics)")
            let received = try site.platform.events()
            #expect(!received.contains { $0["id"] == .string(faulted.id) }, "the rejected event is among the accepted")
            #expect(received.last?["id"] == .string(restored.id))
            // The platform counts a rejected event's seq as taken: no gap.
            #expect(try site.platform.eventsReport()["order_violations"] == [], site.note)

            let deadLetters = sandboxFile(site, "dead-letter.log")
            #expect(deadLetters.range(of: Data(faulted.id.utf8)) != nil, "dead-letter.log does not hold \(faulted.id)")
            #expect(deadLetters.range(of: Data("refused_by_test".utf8)) != nil, "dead-letter.log does not carry the platform's code refused_by_test")
            #expect(deadLetters.range(of: Data(restored.id.utf8)) == nil, "the accepted zone.restored was dead-lettered too")
            #expect(site.agent.log.contains("refused_by_test"), "the agent did not log the platform's reason\n\(site.agent.logTail)")
        }

        @Test func killNineDuringDeliveryLosesNothingAndKeepsOrder() throws {
            let site = try PlatformSite()
            defer { site.close() }
            try site.start()
            try site.waitDelivered()

            // A backlog of 160 events builds behind a 503; then every POST is held 5 s, so when the first held
            // batch (100 events) is answered, the next one is already on its way: the kill lands during delivery.
            let hold = try site.platform.fault(["kind": "status", "status": 503, "retry_after_s": 1, "for_s": 120, "path": "events"])
            try site.toggleSiren(pairs: 80)
            try site.platform.fault(["kind": "delay", "ms": 5000, "for_s": 120, "path": "events"])
            try site.platform.removeFault(hold)
            func held(_ r: JSON) -> Bool {
                r["method"] == "POST" && r["path"]?.string?.hasSuffix("/events") == true && r["status"] == 200 && (r["duration_ms"]?.int ?? 0) >= 4900
            }
            try site.waitFor("a held POST of events to be answered", timeout: 40) {
                try site.platform.requests().contains(where: held) ? true : nil
            }
            let pendingAtKill = try site.agent.status().pending ?? 0
            let beforeKill = try site.journal()
            let killed = try site.agent.kill9()
            #expect(killed.signalled && killed.status == SIGKILL, "\(killed)")
            #expect(pendingAtKill >= 50, "only \(pendingAtKill) events were pending at the kill")
            let atKill = try site.platform.events().count
            #expect(atKill < beforeKill.count, "everything was delivered before the kill; the test proves nothing")

            try site.platform.clearFaults()
            try site.start(timeout: 20)
            let (recorded, received) = try site.waitDelivered(timeout: 30)
            #expect(Array(recorded.prefix(beforeKill.count)) == beforeKill, "the journal changed across kill -9")
            let ids = Set(received.compactMap { $0["id"]?.string })
            let lost = beforeKill.filter { !ids.contains($0.id) }
            #expect(lost.isEmpty, "recorded before kill -9 but never delivered: \(lost.listing)")
            site.expectSameEvents(recorded, received)

            let posts = try site.platform.requests().filter { $0["method"] == "POST" && $0["path"]?.string?.hasSuffix("/events") == true }
            #expect(!posts.contains { $0["status"] == 413 }, "a batch was over the platform's limit (100 events, 256 KiB): \(posts.filter { $0["status"] == 413 })")
            let duplicates = try site.platform.eventsReport()["duplicates_received"]?.int ?? -1
            #expect(duplicates >= 0 && duplicates <= 100, "\(duplicates) duplicates: more than the one batch in flight was re-sent\n\(posts)")
        }
    }
}

/// The bytes of a file in the agent's state folder (empty when missing).
func sandboxFile(_ site: PlatformSite, _ name: String) -> Data {
    FileManager.default.contents(atPath: site.sandbox.stateDir + "/" + name) ?? Data()
}
