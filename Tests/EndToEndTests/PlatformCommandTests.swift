import Foundation
import Glibc
import Testing

extension PlatformLink {
    /// Platform commands through the admin API: each type executed once, its result, and the events it caused.
    @Suite struct Commands {
        /// Issues a command and waits for its result at the platform.
        func run(_ site: PlatformSite, _ type: String, _ params: [String: Any] = [:], expiresInS: Int? = nil,
                 scopes: [String]? = nil) throws -> (id: String, result: JSON) {
            let id = try site.platform.issue(type, params, expiresInS: expiresInS, scopes: scopes)
            return (id, try site.waitResult(id))
        }

        @Test func armDisarmZonesNotReadyAndForce() throws {
            let site = try PlatformSite(partitions: [Fixture.partition(exitDelayS: 1, entryDelayS: 10)])
            defer { site.close() }
            try site.start()

            // remote_exit_delay_s is 0: a platform arm arms at once.
            let arm = try run(site, "partition.arm", ["partition": "main", "mode": "away"])
            #expect(arm.result["status"] == "succeeded", "\(arm.result)\n\(site.diagnostics)")
            #expect(arm.result["code"] == nil, "\(arm.result)")
            #expect(arm.result["state"] == ["id": "main", "state": "armed_away", "mode": "away", "bypassed": []], "\(arm.result)")
            #expect(arm.result["completed_at"]?.string.flatMap(WallClock.parse) != nil, "\(arm.result)")
            let armed = try site.caused(by: arm.id)
            #expect(armed.map(\.data) == [["partition": "main", "mode": "away", "source": "command", "command_id": .string(arm.id), "bypassed": []]],
                    "\(armed.listing)")
            #expect(armed.map(\.type) == ["partition.armed"])
            #expect(try site.agent.status().entry("partitions", "main")?["state"] == "armed_away")

            let disarm = try run(site, "partition.disarm", ["partition": "main"])
            #expect(disarm.result["status"] == "succeeded", "\(disarm.result)")
            #expect(disarm.result["state"] == ["id": "main", "state": "disarmed", "bypassed": []], "\(disarm.result)")
            let disarmed = try site.caused(by: disarm.id)
            #expect(disarmed.map(\.type) == ["partition.disarmed"], "\(disarmed.listing)")
            #expect(disarmed.first?.data == ["partition": "main", "source": "command", "command_id": .string(disarm.id)])

            // A faulted zone stops arming: failed zones_not_ready, naming it; nothing changes.
            try site.toggle("in4", "active", expect: "zone.faulted")
            let refused = try run(site, "partition.arm", ["partition": "main", "mode": "away"])
            #expect(refused.result["status"] == "failed", "\(refused.result)")
            #expect(refused.result["code"] == "zones_not_ready", "\(refused.result)")
            #expect(refused.result["zones"] == ["back_window"], "\(refused.result)")
            #expect(refused.result["message"]?.string?.contains("back_window") == true, "\(refused.result)")
            #expect(refused.result["state"]?["state"] == "disarmed", "\(refused.result)")
            #expect(try site.caused(by: refused.id).isEmpty, "\(site.journalListing)")

            // force: the zone is bypassed first (and the events say so), then the partition arms.
            let forced = try run(site, "partition.arm", ["partition": "main", "mode": "stay", "force": true])
            #expect(forced.result["status"] == "succeeded", "\(forced.result)")
            #expect(forced.result["state"] == ["id": "main", "state": "armed_stay", "mode": "stay", "bypassed": ["back_window"]], "\(forced.result)")
            #expect(forced.result["message"]?.string?.contains("back_window") == true, "the result does not say what it bypassed: \(forced.result)")
            let steps = try site.caused(by: forced.id)
            #expect(steps.map(\.type) == ["zone.bypassed", "partition.armed"], "\(steps.listing)")
            #expect(steps.first?.data == ["zone": "back_window", "partition": "main", "source": "command", "command_id": .string(forced.id)])
            #expect(steps.last?.data == ["partition": "main", "mode": "stay", "source": "command", "command_id": .string(forced.id),
                                         "bypassed": ["back_window"]])

            // Disarm clears the bypass; both events name the disarm command.
            let clear = try run(site, "partition.disarm", ["partition": "main"])
            #expect(clear.result["status"] == "succeeded", "\(clear.result)")
            let cleared = try site.caused(by: clear.id)
            #expect(cleared.map(\.type).sorted() == ["partition.disarmed", "zone.unbypassed"], "\(cleared.listing)")
            #expect(cleared.first { $0.type == "zone.unbypassed" }?.data
                    == ["zone": "back_window", "partition": "main", "source": "command", "command_id": .string(clear.id)])

            // Each command ran once; every result reached the platform once; the platform got every event.
            for id in [arm.id, disarm.id, refused.id, forced.id, clear.id] {
                #expect(try site.resultRecords(id).count == 1, "\(id) answered more than once")
            }
            let results = try site.platform.results()
            #expect(results.count == 5 && results.values.allSatisfy { $0["received_count"] == 1 }, "\(results)")
            let (recorded, received) = try site.waitDelivered()
            #expect(received.map { $0["id"]?.string ?? "" } == recorded.map(\.id), site.note)
            try site.expectNoSecretsLeaked()
        }

        @Test func bypassUnbypassAndAFireZoneIsNotBypassable() throws {
            let site = try PlatformSite()
            defer { site.close() }
            try site.start()

            let bypass = try run(site, "zone.bypass", ["zone": "hall_pir"])
            #expect(bypass.result["status"] == "succeeded", "\(bypass.result)\n\(site.diagnostics)")
            #expect(bypass.result["state"] == ["id": "hall_pir", "partition": "main", "state": "normal", "bypassed": true,
                                               "type": "interior", "input": "in2", "trouble": false], "\(bypass.result)")
            let bypassed = try site.caused(by: bypass.id)
            #expect(bypassed.map(\.type) == ["zone.bypassed"], "\(bypassed.listing)")
            #expect(bypassed.first?.data == ["zone": "hall_pir", "partition": "main", "source": "command", "command_id": .string(bypass.id)])
            #expect(try site.agent.status().entry("zones", "hall_pir")?["bypassed"] == true)

            let unbypass = try run(site, "zone.unbypass", ["zone": "hall_pir"])
            #expect(unbypass.result["status"] == "succeeded", "\(unbypass.result)")
            #expect(unbypass.result["state"]?["bypassed"] == false, "\(unbypass.result)")
            let unbypassed = try site.caused(by: unbypass.id)
            #expect(unbypassed.map(\.type) == ["zone.unbypassed"], "\(unbypassed.listing)")
            #expect(unbypassed.first?.data == ["zone": "hall_pir", "partition": "main", "source": "command", "command_id": .string(unbypass.id)])

            let fire = try run(site, "zone.bypass", ["zone": "smoke"])
            #expect(fire.result["status"] == "rejected", "\(fire.result)")
            #expect(fire.result["code"] == "not_bypassable", "\(fire.result)")
            #expect(fire.result["state"]?["bypassed"] == false, "\(fire.result)")
            #expect(try site.caused(by: fire.id).isEmpty)
            #expect(try site.agent.status().entry("zones", "smoke")?["bypassed"] == false)
            #expect(try site.journal().of("zone.bypassed").count == 1, "\(site.journalListing)")
        }

        @Test func relayActivatePulseAndLatchAndDeactivate() throws {
            let site = try PlatformSite()
            defer { site.close() }
            try site.start()

            let pulse = try run(site, "relay.activate", ["relay": "door_strike", "duration_ms": 500])
            #expect(pulse.result["status"] == "succeeded", "\(pulse.result)\n\(site.diagnostics)")
            let on = try #require(try site.caused(by: pulse.id).first, site.note)
            #expect(on.type == "relay.activated")
            #expect(on.data == ["relay": "door_strike", "mode": "pulse", "duration_ms": 500, "source": "command", "command_id": .string(pulse.id)])
            let state = try #require(pulse.result["state"], "\(pulse.result)")
            #expect(state["on"] == true && state["mode"] == "pulse" && state["id"] == "door_strike", "\(state)")
            #expect(state["until"]?.string.flatMap(WallClock.parse) == on.at + 500, "until is not activation + 500 ms: \(state)")
            let off = try site.agent.waitForEvent("relay.deactivated", after: on.seq) { $0.data["relay"] == "door_strike" }
            #expect(off.data["reason"] == "pulse_elapsed", "\(off)")
            #expect(abs(off.at - on.at - 500) <= 150, "the 500 ms pulse lasted \(off.at - on.at) ms")

            // A pulse-only relay pulses for its pulse_ms when no duration is given.
            let gate = try run(site, "relay.activate", ["relay": "gate"])
            #expect(gate.result["status"] == "succeeded", "\(gate.result)")
            #expect(try site.caused(by: gate.id).map(\.data)
                    == [["relay": "gate", "mode": "pulse", "duration_ms": 1000, "source": "command", "command_id": .string(gate.id)]])

            let latch = try run(site, "relay.activate", ["relay": "siren"])
            #expect(latch.result["status"] == "succeeded", "\(latch.result)")
            #expect(latch.result["state"]?["on"] == true && latch.result["state"]?["mode"] == "latch", "\(latch.result)")
            #expect(try site.caused(by: latch.id).map(\.data) == [["relay": "siren", "mode": "latch", "source": "command", "command_id": .string(latch.id)]])
            #expect(try site.agent.status().entry("relays", "siren")?["on"] == true)

            let release = try run(site, "relay.deactivate", ["relay": "siren"])
            #expect(release.result["status"] == "succeeded", "\(release.result)")
            #expect(release.result["state"]?["on"] == false, "\(release.result)")
            let released = try site.journal().filter { $0.seq > on.seq && $0.type == "relay.deactivated" && $0.data["relay"] == "siren" }
            #expect(released.count == 1, "\(site.journalListing)")
            #expect(released.first?.data["reason"] == "command", "\(released.listing)")
            // docs/protocol.md: source command and the command_id "in every event it causes".
            #expect(released.first?.data["command_id"] == .string(release.id),
                    "relay.deactivated caused by relay.deactivate \(release.id) does not name the command: \(released.listing)")
            #expect(try site.agent.status().entry("relays", "siren")?["on"] == false)
            #expect(try site.journal().of("relay.activated").count == 3, "\(site.journalListing)")
        }

        @Test func stateSyncSendsAFreshStateAtOnce() throws {
            // A heartbeat of an hour: any new PUT /state is the state.sync's.
            let site = try PlatformSite(heartbeatS: 3600)
            defer { site.close() }
            try site.start()
            try site.waitFor("the start-up PUT /state") { try site.platform.state()["count"]?.int ?? 0 >= 1 ? true : nil }
            try site.agent.barrier(ms: 200)  // the start-up (and reconnect) snapshots are sent by now
            let before = try site.platform.state()
            let count = before["count"]?.int ?? 0
            #expect(before["state"]?["relays"]?.array?.first { $0["id"] == "siren" }?["on"] == false, "\(before)")

            try site.agent.ok("relay", "on", "siren")
            let sync = try run(site, "state.sync")
            #expect(sync.result["status"] == "succeeded", "\(sync.result)\n\(site.diagnostics)")
            // "succeeded" means the state was sent: the platform has the new PUT before it has the result.
            let after = try site.platform.state()
            #expect(after["count"]?.int == count + 1, "\(after["count"] ?? .null) PUTs, \(count) before the state.sync")
            let state = try #require(after["state"])
            #expect(state["relays"]?.array?.first { $0["id"] == "siren" }?["on"] == true, "\(state)")
            #expect(state["partitions"]?.array?.first?["id"] == "main", "\(state)")
            #expect(state["agent"]?["simulated"] == true, "\(state)")
            #expect(state["outbox"]?["pending"]?.int != nil, "\(state)")
            #expect(state["clock_offset_ms"]?.int != nil, "\(state)")
            #expect(try site.caused(by: sync.id).isEmpty)
        }

        /// "succeeded" for a state.sync means the platform has the state: while PUT /state fails, the command waits
        /// (its result is not sent), and it is answered once a PUT after it is accepted.
        @Test func stateSyncIsAnsweredOnlyOnceItsStateIsAccepted() throws {
            let site = try PlatformSite(heartbeatS: 3600)
            defer { site.close() }
            try site.start()
            try site.waitFor("the start-up PUT /state") { try site.platform.state()["count"]?.int ?? 0 >= 1 ? true : nil }
            try site.agent.barrier(ms: 200)
            try site.platform.fault(["kind": "status", "status": 503, "retry_after_s": 1, "for_s": 3, "path": "state"])
            let before = try site.platform.state()["count"]?.int ?? 0
            let id = try site.platform.issue("state.sync", [:], expiresInS: nil, scopes: nil)
            let result = try site.waitResult(id, timeout: 20)
            let after = try site.platform.state()["count"]?.int ?? 0
            #expect(result["status"] == "succeeded", "\(result)\n\(site.diagnostics)")
            #expect(after == before + 1, "the result came before its PUT /state was accepted (\(before) then \(after) PUTs)")
            // The state.sync's own PUT met the fault: it was refused and retried, and the command waited for it.
            let refused = try site.platform.requests().filter { $0["method"] == "PUT" && $0["status"] == 503 }
            #expect(!refused.isEmpty, "no PUT /state met the fault: the test proves nothing\n\(site.platform.requestTail)")
        }

        @Test func refusedCommandsAreAnsweredAndNeverExecuted() throws {
            let site = try PlatformSite()
            defer { site.close() }
            try site.start()
            let start = try site.agent.lastSeq

            let cases: [(type: String, params: [String: Any], expiresInS: Int?, scopes: [String]?, status: String, code: String)] = [
                ("door.open", ["door": "front"], nil, nil, "rejected", "unsupported_command"),
                ("relay.pulse", ["relay": "gate"], nil, ["devices:write"], "rejected", "unsupported_command"),
                ("relay.activate", ["relay": "door_strike", "duration_ms": "soon"], nil, nil, "rejected", "invalid_params"),
                ("partition.arm", ["partition": "main", "mode": "night"], nil, nil, "rejected", "invalid_params"),
                ("relay.activate", ["relay": "garage_door"], nil, nil, "rejected", "unknown_target"),
                ("zone.bypass", ["zone": "attic"], nil, nil, "rejected", "unknown_target"),
                ("relay.activate", ["relay": "siren"], nil, [], "rejected", "missing_scope"),
                ("partition.arm", ["partition": "main"], nil, ["devices:write"], "rejected", "missing_scope"),
                ("zone.bypass", ["zone": "hall_pir"], -1, nil, "expired", "expired"),
            ]
            var ids: [String] = []
            for c in cases {
                let (id, result) = try run(site, c.type, c.params, expiresInS: c.expiresInS, scopes: c.scopes)
                ids.append(id)
                #expect(result["status"] == .string(c.status), "\(c.type) \(c.params): \(result)")
                #expect(result["code"] == .string(c.code), "\(c.type) \(c.params): \(result)")
                #expect(result["message"]?.string?.isEmpty == false, "\(c.type): no message for the technician: \(result)")
            }
            try site.agent.barrier(ms: 200)
            for id in ids { #expect(try site.caused(by: id).isEmpty, "\(id) caused events: \(site.journalListing)") }
            let status = try site.agent.status()
            #expect(status["relays"]?.array?.allSatisfy { $0["on"] == false } == true, "\(status["relays"] ?? .null)")
            #expect(status.entry("zones", "hall_pir")?["bypassed"] == false)
            #expect(status.entry("partitions", "main")?["state"] == "disarmed")
            // Only the barrier's own pulse happened after the start.
            #expect(try site.journal().actions(after: start).types == ["relay.activated", "relay.deactivated"], site.note)
        }

        @Test func commandResultsLeaveNoGapInTheSeqThePlatformSees() throws {
            let site = try PlatformSite()
            defer { site.close() }
            try site.start()
            let first = try run(site, "zone.bypass", ["zone": "hall_pir"])
            #expect(first.result["status"] == "succeeded")
            try site.toggle("in1", "active", expect: "zone.faulted")
            let second = try run(site, "zone.unbypass", ["zone": "hall_pir"])
            #expect(second.result["status"] == "succeeded")
            try site.toggle("in1", "inactive", expect: "zone.restored")
            let (recorded, received) = try site.waitDelivered()
            #expect(received.map { $0["id"]?.string ?? "" } == recorded.map(\.id), site.note)
            // The platform notes a seq that skips a number as an order violation (platform-sim README, "Seq order").
            let violations = try site.platform.eventsReport()["order_violations"] ?? .null
            #expect(violations == [], """
                the platform saw gaps in the event seq: command.result records take seq numbers in the journal \
                but travel to /commands/{id}/result, so the events after them skip numbers: \(violations)
                events sent: \(received.map { "\($0["seq"] ?? .null) \($0["type"] ?? .null)" })
                """)
        }

        @Test func aTamperedSignatureIsRejectedAndTheCommandNeverRuns() throws {
            let site = try PlatformSite()
            defer { site.close() }
            try site.start()

            try site.platform.fault(["kind": "tamper_signature", "count": 1])
            let id = try site.platform.issue("relay.activate", ["relay": "door_strike", "duration_ms": 300])
            let result = try site.waitResult(id)
            #expect(result["status"] == "rejected", "\(result)\n\(site.diagnostics)")
            #expect(result["code"] == "bad_signature", "\(result)")
            // The cursor did not move: the platform delivers the same command again, now genuinely signed;
            // the ledger already holds it, so its result is re-sent and it is still not executed.
            let again = try site.waitResult(id, count: 2, timeout: 15)
            #expect(again["status"] == "rejected" && again["code"] == "bad_signature", "\(again)")
            try site.agent.barrier(relay: "gate", ms: 200)
            #expect(try site.caused(by: id).isEmpty, "the command of a tampered response was executed:\n\(site.journalListing)")
            #expect(try site.journal().of("relay.activated").allSatisfy { $0.data["relay"] != "door_strike" }, site.note)
            #expect(try site.agent.status().entry("relays", "door_strike")?["on"] == false)
            let records = try site.resultRecords(id)
            #expect(records.count >= 2 && Set(records.map { JSON.object($0.data).description }).count == 1,
                    "the re-sent result differs from the stored one:\n\(records.listing)")
            let upstream = try site.agent.status()["upstream"]
            #expect(upstream?["last_error"]?.string?.lowercased().contains("signature") == true, "\(upstream ?? .null)")
            #expect(site.agent.log.lowercased().contains("signature"), "the agent did not log the bad signature\n\(site.agent.logTail)")
        }

        @Test func aDuplicateDeliveryIsExecutedOnceAndItsResultResent() throws {
            let site = try PlatformSite()
            defer { site.close() }
            try site.start()

            let id = try site.platform.issue("relay.activate", ["relay": "gate", "duration_ms": 200])
            let first = try site.waitResult(id)
            #expect(first["status"] == "succeeded", "\(first)\n\(site.diagnostics)")

            // The platform repeats the last command it delivered (as after a lost acknowledgement) …
            try site.platform.fault(["kind": "duplicate_command", "count": 1])
            _ = try site.waitResult(id, count: 2)
            // … and issues the same id again at a new position (a platform retry).
            try site.platform.issue("relay.activate", ["relay": "gate", "duration_ms": 200], id: id)
            let third = try site.waitResult(id, count: 3)
            #expect(third["status"] == "succeeded" && third["completed_at"] == first["completed_at"], "\(third)")

            try site.agent.barrier(relay: "door_strike", ms: 200)
            let caused = try site.caused(by: id)
            #expect(caused.map(\.type) == ["relay.activated"], "executed more than once:\n\(caused.listing)")
            #expect(try site.journal().of("relay.activated").filter { $0.data["relay"] == "gate" }.count == 1, site.note)
            let records = try site.resultRecords(id)
            #expect(records.count == 3, "\(records.listing)")
            #expect(Set(records.map { JSON.object($0.data).description }).count == 1, "the re-sent results differ from the stored one:\n\(records.listing)")
            #expect(try site.agent.status()["upstream"]?["commands_received"] == 1)
        }

        @Test func aCommandExecutedBeforeKillNineIsNotExecutedAgainWhenRedelivered() throws {
            let site = try PlatformSite()
            defer { site.close() }
            try site.start()

            let id = try site.platform.issue("relay.activate", ["relay": "siren"])
            try site.waitFor("the siren to be on (the command executed)") {
                try site.agent.status().entry("relays", "siren")?["on"] == true ? true : nil
            }
            let killed = try site.agent.kill9()
            #expect(killed.signalled && killed.status == SIGKILL, "\(killed)")
            try site.start()
            // power_on defaults to off, so the restart left the siren off.
            #expect(try site.agent.status().entry("relays", "siren")?["on"] == false)
            let stored = try site.waitResult(id)
            let count = stored["received_count"]?.int ?? 0

            try site.platform.issue("relay.activate", ["relay": "siren"], id: id)
            let resent = try site.waitResult(id, count: count + 1, timeout: 15)
            try site.agent.barrier(relay: "gate", ms: 200)
            let activations = try site.journal().filter { $0.type == "relay.activated" && $0.data["command_id"] == .string(id) }
            #expect(activations.count == 1, "the command ran again after the restart:\n\(site.journalListing)\n\(site.agent.logTail)")
            #expect(try site.agent.status().entry("relays", "siren")?["on"] == false, "the siren came on again")
            #expect(resent["status"] == stored["status"] && resent["completed_at"] == stored["completed_at"], "\(stored) → \(resent)")
            #expect(stored["status"] == "succeeded", "the command ran, but was answered: \(stored)")
            let records = try site.resultRecords(id)
            #expect(records.count >= 2 && Set(records.map { JSON.object($0.data).description }).count == 1,
                    "the re-sent result is not the stored one:\n\(records.listing)")
        }
    }
}
