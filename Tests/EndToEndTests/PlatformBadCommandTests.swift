import Foundation
import Glibc
import Testing

extension PlatformLink {
    /// Signed command answers a real platform would never build (issue 14), sent byte for byte through the reference
    /// platform's raw commands and `replace_body` fault: what the agent cannot read with one meaning is answered
    /// `rejected`/`invalid_params` and never executed; what it can read runs; nothing kills it.
    @Suite struct BadCommands {
        /// A command object's text, keys in the order written: `id`, `type`, `params` (JSON text; nil: no
        /// `params` key), `issued_by` with the scope the type needs, then `extra` (`,"key":value` fragments) verbatim.
        func command(_ id: String, _ type: String, params: String? = "{}", scopes: String? = nil, extra: String = "") -> String {
            let scope = scopes ?? (type == "state.sync" ? #"["devices:read"]"# : #"["devices:write"]"#)
            return #"{"id":"\#(id)","type":"\#(type)""# + (params.map { #","params":\#($0)"# } ?? "")
                + #","issued_by":{"app":"app_e2e","scopes":\#(scope)}"# + extra + "}"
        }

        /// A 200 ms pulse of `relay`, as a raw command with `extra` fragments.
        func pulse(_ id: String, _ relay: String = "gate", extra: String = "") -> String {
            command(id, "relay.activate", params: #"{"relay":"\#(relay)","duration_ms":200}"#, extra: extra)
        }

        /// How many commands the platform has issued so far (the position its cursor will name after them).
        func issuedCount(_ site: PlatformSite) throws -> Int { try site.platform.commands()["commands"]?.array?.count ?? 0 }

        func expectRefused(_ site: PlatformSite, _ id: String, mentioning words: [String] = [], _ what: String,
                           sourceLocation: SourceLocation = #_sourceLocation) throws {
            let result = try site.waitResult(id)
            #expect(result["status"] == "rejected" && result["code"] == "invalid_params", "\(what): \(result)\n\(site.diagnostics)",
                    sourceLocation: sourceLocation)
            #expect(result["state"] == nil, "\(what): a refused command carries no state: \(result)", sourceLocation: sourceLocation)
            let message = result["message"]?.string ?? ""
            #expect(!message.isEmpty, "\(what): no message for the technician: \(result)", sourceLocation: sourceLocation)
            for word in words {
                #expect(message.contains(word), "\(what): the message does not name \(word): \(result)", sourceLocation: sourceLocation)
            }
        }

        @Test func timesWithMoreThanThreeFractionalDigitsAreReadAndTheCommandRuns() throws {
            let site = try PlatformSite()
            defer { site.close() }
            try site.start()

            let cases = [
                ("cmd_frac_4", #","expires_at":"2030-01-01T00:00:00.0000Z""#),
                ("cmd_frac_6", #","expires_at":"2030-01-01T00:00:00.123456Z""#),
                ("cmd_frac_9", #","issued_at":"2026-01-01T00:00:00.123456789Z","expires_at":"2030-01-01T00:00:00.999999999+01:00""#),
            ]
            for (id, times) in cases {
                try site.platform.issueRaw(pulse(id, extra: times), id: id)
                let result = try site.waitResult(id)
                #expect(result["status"] == "succeeded", "\(times): \(result)\n\(site.diagnostics)")
                let on = try site.agent.waitForEvent("relay.activated") { $0.data["command_id"] == .string(id) }
                #expect(on.data == ["relay": "gate", "mode": "pulse", "duration_ms": 200, "source": "command", "command_id": .string(id)],
                        "\(on)")
                _ = try site.agent.waitForEvent("relay.deactivated", after: on.seq) { $0.data["relay"] == "gate" }
                #expect(site.agent.isRunning, "the agent died on \(times)\n\(site.agent.logTail)")
            }
            #expect(try site.agent.status()["upstream"]?["connected"] == true)
        }

        @Test func aTimeThatIsPresentButUnreadableIsRejectedAndNothingRuns() throws {
            let site = try PlatformSite()
            defer { site.close() }
            try site.start()
            let start = try site.agent.lastSeq

            let unreadable: [(id: String, extra: String, key: String)] = [
                ("cmd_exp_garbage", #","expires_at":"garbage""#, "expires_at"),
                ("cmd_exp_empty", #","expires_at":"""#, "expires_at"),
                ("cmd_exp_no_date", #","expires_at":"2026-13-45T99:99:99Z""#, "expires_at"),
                ("cmd_exp_31_april", #","expires_at":"2030-04-31T00:00:00.000Z""#, "expires_at"),
                ("cmd_exp_number", #","expires_at":5"#, "expires_at"),
                ("cmd_exp_null", #","expires_at":null"#, "expires_at"),
                ("cmd_iss_garbage", #","issued_at":"garbage","expires_at":"2030-01-01T00:00:00.000Z""#, "issued_at"),
                ("cmd_iss_number", #","issued_at":5"#, "issued_at"),
            ]
            // All in one answer, with a command without expires_at last: absent means no expiry, so that one runs.
            var requests: [[String: Any]] = unreadable.map { ["raw": pulse($0.id, "door_strike", extra: $0.extra), "id": $0.id] }
            requests.append(["raw": pulse("cmd_no_expiry"), "id": "cmd_no_expiry"])
            try site.platform.issueAll(requests)

            for c in unreadable { try expectRefused(site, c.id, mentioning: [c.key], c.extra) }
            let ran = try site.waitResult("cmd_no_expiry")
            #expect(ran["status"] == "succeeded", "a command without expires_at: \(ran)\n\(site.diagnostics)")
            let on = try site.agent.waitForEvent("relay.activated") { $0.data["command_id"] == "cmd_no_expiry" }
            _ = try site.agent.waitForEvent("relay.deactivated", after: on.seq) { $0.data["relay"] == "gate" }

            try site.agent.barrier(relay: "gate", ms: 100)
            for c in unreadable { #expect(try site.caused(by: c.id).isEmpty, "\(c.extra) was executed:\n\(site.journalListing)") }
            #expect(try site.journal().of("relay.activated", after: start).allSatisfy { $0.data["relay"] != "door_strike" }, site.note)
            #expect(try site.agent.status().entry("relays", "door_strike")?["on"] == false)
            #expect(site.agent.isRunning)
        }

        @Test func aRepeatedKeyInACommandRefusesThatCommandOnly() throws {
            let site = try PlatformSite()
            defer { site.close() }
            try site.start()
            let start = try site.agent.lastSeq
            let before = try issuedCount(site)

            let repeatedType = #"{"id":"cmd_dup_type","type":"relay.activate","type":"state.sync","params":{"relay":"door_strike","duration_ms":200},"issued_by":{"app":"app_e2e","scopes":["devices:write","devices:read"]}}"#
            let repeatedID = #"{"id":"cmd_dup_id_1","id":"cmd_dup_id_2","type":"relay.activate","params":{"relay":"door_strike","duration_ms":200},"issued_by":{"app":"app_e2e","scopes":["devices:write"]}}"#
            let repeatedRelay = #"{"id":"cmd_dup_relay","type":"relay.activate","params":{"relay":"door_strike","relay":"siren"},"issued_by":{"app":"app_e2e","scopes":["devices:write"]}}"#
            // One answer: the three ambiguous commands between two well-formed ones.
            let ids = try site.platform.issueAll([
                ["raw": repeatedType, "id": "cmd_dup_type"],
                ["type": "relay.activate", "params": ["relay": "gate", "duration_ms": 200]],
                ["raw": repeatedID, "id": "cmd_dup_id_1"],
                ["raw": repeatedRelay, "id": "cmd_dup_relay"],
                ["type": "state.sync"],
            ])
            let (good, sync) = (ids[1], ids[4])

            try expectRefused(site, "cmd_dup_type", mentioning: ["type"], "a repeated \"type\"")
            try expectRefused(site, "cmd_dup_relay", mentioning: ["relay"], "a repeated params.relay")
            let pulsed = try site.waitResult(good)
            #expect(pulsed["status"] == "succeeded", "the well-formed command beside them: \(pulsed)\n\(site.diagnostics)")
            let synced = try site.waitResult(sync)
            #expect(synced["status"] == "succeeded", "the well-formed command after them: \(synced)\n\(site.diagnostics)")

            // The answer was taken: the cursor moved past all five.
            let cursor = PlatformSim.cursor(position: before + 5)
            let cursorFile = site.sandbox.stateDir + "/commands.cursor"
            try site.waitFor("the agent to persist the cursor \(cursor) past the answer") {
                (try? String(contentsOfFile: cursorFile, encoding: .utf8)) == cursor ? true : nil
            }

            // A command whose id is given twice has no id to answer under: no result, under either id.
            let on = try site.agent.waitForEvent("relay.activated") { $0.data["command_id"] == .string(good) }
            _ = try site.agent.waitForEvent("relay.deactivated", after: on.seq) { $0.data["relay"] == "gate" }
            try site.agent.barrier(relay: "gate", ms: 100)
            // Results are recorded in the order the answer lists the commands; the state.sync after it is answered.
            let results = try site.journalRecords("results.journal")
            #expect(results.allSatisfy { $0.data["command_id"] != "cmd_dup_id_1" && $0.data["command_id"] != "cmd_dup_id_2" },
                    "a command with a repeated id was answered:\n\(results.listing)")
            #expect(results.contains { $0.data["command_id"] == .string(sync) }, "\(results.listing)")
            let platformResults = try site.platform.results()
            #expect(platformResults["cmd_dup_id_1"] == nil && platformResults["cmd_dup_id_2"] == nil, "\(platformResults)")

            for id in ["cmd_dup_type", "cmd_dup_id_1", "cmd_dup_id_2", "cmd_dup_relay"] {
                #expect(try site.caused(by: id).isEmpty, "\(id) was executed:\n\(site.journalListing)")
            }
            let activated = try site.journal().of("relay.activated", after: start)
            #expect(activated.allSatisfy { $0.data["relay"] == "gate" }, "only the gate may have been switched:\n\(activated.listing)")
            let status = try site.agent.status()
            #expect(status.entry("relays", "door_strike")?["on"] == false && status.entry("relays", "siren")?["on"] == false,
                    "\(status["relays"] ?? .null)")
        }

        @Test func aRepeatedTopLevelKeyMakesTheWholeAnswerUnusable() throws {
            let site = try PlatformSite()
            defer { site.close() }
            try site.start()
            let start = try site.agent.lastSeq

            // "commands" twice: the first array names two commands; a reader keeping the last value would see none.
            let a = pulse("cmd_top_a", "door_strike"), b = pulse("cmd_top_b", "gate")
            var position = try issuedCount(site) + 2
            try site.platform.fault(["kind": "replace_body",
                                     "body": #"{"commands":[\#(a),\#(b)],"commands":[],"cursor":"\#(PlatformSim.cursor(position: position))"}"#])
            // The platform knows the ids (their results are recorded); the answer carrying them is the replaced one.
            try site.platform.issueAll([["raw": a, "id": "cmd_top_a"], ["raw": b, "id": "cmd_top_b"]])
            try expectRefused(site, "cmd_top_a", mentioning: ["commands"], "an answer repeating \"commands\"")
            try expectRefused(site, "cmd_top_b", mentioning: ["commands"], "an answer repeating \"commands\"")
            // The cursor stayed, so the genuine answer comes next; the ledger has both ids: the stored results are
            // sent again and nothing runs (at most once).
            #expect(try site.waitResult("cmd_top_a", count: 2, timeout: 15)["code"] == "invalid_params")
            #expect(try site.waitResult("cmd_top_b", count: 2, timeout: 15)["code"] == "invalid_params")

            // "cursor" twice.
            let c = pulse("cmd_top_c", "door_strike")
            position = try issuedCount(site)
            try site.platform.fault(["kind": "replace_body", "body": #"{"commands":[\#(c)],"cursor":"\#(PlatformSim.cursor(position: position))","cursor":"\#(PlatformSim.cursor(position: position + 1))"}"#])
            try site.platform.issueRaw(c, id: "cmd_top_c")
            try expectRefused(site, "cmd_top_c", mentioning: ["cursor"], "an answer repeating \"cursor\"")
            #expect(try site.waitResult("cmd_top_c", count: 2, timeout: 15)["code"] == "invalid_params")

            // The link goes on: a well-formed command afterwards runs.
            let after = try site.platform.issue("relay.activate", ["relay": "siren"])
            #expect(try site.waitResult(after)["status"] == "succeeded", site.note)
            try site.agent.barrier(relay: "gate", ms: 100)
            for id in ["cmd_top_a", "cmd_top_b", "cmd_top_c"] {
                #expect(try site.caused(by: id).isEmpty, "\(id) was executed:\n\(site.journalListing)")
            }
            let activated = try site.journal().of("relay.activated", after: start)
            #expect(activated.map { $0.data["relay"]?.string ?? "?" } == ["siren", "gate"], "\(activated.listing)")
            #expect(site.agent.isRunning)
        }

        @Test func stateSyncTakesNoParamsAndACommandNoUnknownField() throws {
            let site = try PlatformSite()
            defer { site.close() }
            try site.start()
            let start = try site.agent.lastSeq

            let refused: [(id: String, request: [String: Any], words: [String])] = [
                ("cmd_sync_x", ["type": "state.sync", "params": ["x": 1], "id": "cmd_sync_x"], [#""x""#]),
                ("cmd_sync_array", ["raw": command("cmd_sync_array", "state.sync", params: "[{}]"), "id": "cmd_sync_array"], ["params"]),
                ("cmd_sync_number", ["raw": command("cmd_sync_number", "state.sync", params: "5"), "id": "cmd_sync_number"], ["params"]),
                ("cmd_priority", ["raw": pulse("cmd_priority", "door_strike", extra: #","priority":1"#), "id": "cmd_priority"], ["priority"]),
                ("cmd_issuer_role", ["raw": command("cmd_issuer_role", "relay.activate", params: #"{"relay":"door_strike","duration_ms":200}"#,
                                                    scopes: #"["devices:write"],"role":"admin""#), "id": "cmd_issuer_role"], ["role"]),
            ]
            let accepted: [[String: Any]] = [
                ["type": "state.sync", "params": [String: Any](), "id": "cmd_sync_empty"],
                ["raw": command("cmd_sync_none", "state.sync", params: nil), "id": "cmd_sync_none"],
            ]
            try site.platform.issueAll(refused.map { $0.request } + accepted)

            for c in refused { try expectRefused(site, c.id, mentioning: c.words, "\(c.request)") }
            for id in ["cmd_sync_empty", "cmd_sync_none"] {
                let result = try site.waitResult(id)
                #expect(result["status"] == "succeeded", "\(id): \(result)\n\(site.diagnostics)")
            }
            try site.agent.barrier(relay: "gate", ms: 100)
            for c in refused { #expect(try site.caused(by: c.id).isEmpty, "\(c.id) was executed:\n\(site.journalListing)") }
            #expect(try site.journal().of("relay.activated", after: start).allSatisfy { $0.data["relay"] == "gate" }, site.note)
        }
    }
}
