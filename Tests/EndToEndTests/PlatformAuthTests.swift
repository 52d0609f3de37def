import Foundation
import Glibc
import Testing

extension PlatformLink {
    /// Credentials: rotation with SIGHUP or a 401, refusal of a world-readable file, and no key or secret anywhere.
    @Suite struct Authentication {
        @Test func afterAKeyRotationEventsStayQueuedUntilSIGHUPBringsTheNewCredentials() throws {
            let site = try PlatformSite()
            defer { site.close() }
            try site.start()
            let (before, _) = try site.waitDelivered()

            let rotated = PlatformCredentials.random("rot")
            try site.rotate(to: rotated)
            try site.toggleSiren(pairs: 2)
            try site.toggle("in1", "active", expect: "zone.faulted")
            let failing = try site.waitFor("status to show auth_failed") { () throws -> JSON? in
                let s = try site.agent.status()
                return s["upstream"]?["auth_failed"] == true ? s : nil
            }
            #expect(failing["upstream"]?["connected"] == false, "\(failing["upstream"] ?? .null)")
            #expect(failing["upstream"]?["last_error"]?.string?.contains("401") == true, "\(failing["upstream"] ?? .null)")
            #expect((failing.pending ?? 0) >= 5, "the events recorded after the rotation are not all queued: \(failing["outbox"] ?? .null)")
            #expect(try site.platform.events().count == before.count, "events got through with the old key\n\(site.diagnostics)")
            // It re-read the (unchanged) file once before giving up, and says what to do.
            #expect(site.agent.log.contains("SIGHUP"), "the log does not say how to recover\n\(site.agent.logTail)")
            #expect(try site.platform.requests().contains { $0["status"] == 401 })

            try site.replaceCredentials(rotated)
            site.agent.process?.kill(SIGHUP)
            try site.waitFor("the agent to log that SIGHUP re-read the credentials") {
                site.agent.log.contains("SIGHUP: credentials re-read") ? true : nil
            }
            let reloadedBy = WallClock.nowMs()
            let (recorded, received) = try site.waitDelivered(timeout: 30)
            // SIGHUP put the new key in use: nothing sent after it met a 401 (the 401 path was not needed).
            let lateRefusals = try site.platform.requests().filter {
                $0["status"] == 401 && ($0["at"]?.string.flatMap(WallClock.parse) ?? 0) > reloadedBy
            }
            #expect(lateRefusals.isEmpty, "requests after the SIGHUP re-read still met 401: \(lateRefusals)")
            site.expectSameEvents(recorded, received)
            #expect(recorded.count == before.count + 5, "\(recorded.listing)")
            let status = try site.waitFor("status to show connected again") { () throws -> JSON? in
                let s = try site.agent.status()
                return s["upstream"]?["connected"] == true ? s : nil
            }
            #expect(status["upstream"]?["auth_failed"] == false, "\(status["upstream"] ?? .null)")
            #expect(status["outbox"]?["dead_lettered"] == 0, "an event was dropped for an auth failure: \(status["outbox"] ?? .null)")
            try site.expectNoSecretsLeaked()
        }

        @Test func a401MakesTheAgentReReadAReplacedFileWithoutSIGHUP() throws {
            let site = try PlatformSite()
            defer { site.close() }
            try site.start()
            let (before, _) = try site.waitDelivered()
            let requestsBefore = try site.platform.requests().count

            // The file first, then the platform: the agent keeps using the key it holds until a 401.
            let rotated = PlatformCredentials.random("new")
            try site.replaceCredentials(rotated)
            try site.rotate(to: rotated)
            let faulted = try site.toggle("in2", "active", expect: "zone.faulted")
            let (recorded, received) = try site.waitDelivered(timeout: 20)
            site.expectSameEvents(recorded, received)
            #expect(received.last?["id"] == .string(faulted.id))
            #expect(recorded.count == before.count + 1)

            let after = Array(try site.platform.requests().dropFirst(requestsBefore))
            #expect(after.contains { $0["status"] == 401 }, "no request met the rotated key, so the re-read was not tested: \(after)")
            #expect(site.agent.log.contains("answered 401: credentials re-read"), "\(site.agent.logTail)")
            #expect(!site.agent.log.contains("SIGHUP:"), "\(site.agent.logTail)")
            let status = try site.waitFor("status to show connected") { () throws -> JSON? in
                let s = try site.agent.status()
                return s["upstream"]?["connected"] == true ? s : nil
            }
            #expect(status["upstream"]?["auth_failed"] == false, "\(status["upstream"] ?? .null)")
            try site.expectNoSecretsLeaked()
        }

        @Test func aFileReplacedAfterTheAgentMet401IsPickedUpByALater401WithoutSIGHUP() throws {
            let site = try PlatformSite()
            defer { site.close() }
            try site.start()
            try site.waitDelivered()

            // The key is rotated on the platform while the bridge is off; it starts with the old file, so every
            // request meets 401 (and no long-poll authorised before the rotation is left to succeed later).
            try #require(site.agent.stop() != nil)
            let rotated = PlatformCredentials.random("late")
            try site.rotate(to: rotated)
            try site.agent.start()
            let failing = try site.waitFor("status to show auth_failed") { () throws -> JSON? in
                let s = try site.agent.status()
                return s["upstream"]?["auth_failed"] == true ? s : nil
            }
            #expect(failing["upstream"]?["connected"] == false, "\(failing["upstream"] ?? .null)")
            let restarted = try #require(try site.journal().last { $0.type == "bridge.started" })
            #expect(try !site.platform.events().contains { $0["id"] == .string(restarted.id) })

            // Only the file changes: no SIGHUP. config.md: "replace the file and send SIGHUP, or let the next 401
            // make the agent re-read it"; the back-off while failing is well under 40 s this early.
            try site.replaceCredentials(rotated)
            let (recorded, received) = try site.waitDelivered(timeout: 40)
            site.expectSameEvents(recorded, received)
            #expect(!site.agent.log.contains("SIGHUP:"), "\(site.agent.logTail)")
            #expect(try site.agent.status()["upstream"]?["auth_failed"] == false)
        }

        @Test func aCredentialsFileReadableByOthersStopsTheStartWithAChmodHint() throws {
            let site = try PlatformSite()
            defer { site.close() }
            #expect(chmod(site.credentialsPath, 0o644) == 0)

            let run = try Tool.run(["run", "--config", site.sandbox.root + "/config.json", "--simulate", "--socket", site.sandbox.socket],
                                   cwd: site.sandbox.root)
            #expect(!run.signalled && run.status == 2, "\(run)")
            #expect(run.stderr.contains("chmod 600"), "stderr does not say chmod 600: \(run.stderr)")
            #expect(run.stderr.contains(site.credentialsPath), "stderr does not name the file: \(run.stderr)")
            for secret in site.secrets {
                #expect(!run.stderr.contains(secret) && !run.stdout.contains(secret), "a credential string is in the output: \(run)")
            }
            #expect(try site.platform.requests().isEmpty, "the agent contacted the platform with refused credentials")
            #expect(!site.sandbox.exists(site.sandbox.socket), "a control socket was left behind")
            #expect(!site.sandbox.exists(site.sandbox.stateDir), "the state folder was created before the credentials were checked")
        }

        @Test func theKeyAndSecretNeverAppearInLogsStatusOrStateFiles() throws {
            let site = try PlatformSite()
            defer { site.close() }
            try site.start()

            // Exercise every path that logs: events, a command and its result, a bad signature, a 401 with a
            // re-read, a SIGHUP refused for a file mode, a SIGHUP accepted.
            try site.toggle("in1", "active", expect: "zone.faulted")
            let command = try site.platform.issue("relay.activate", ["relay": "gate", "duration_ms": 100])
            try site.waitResult(command)
            try site.platform.fault(["kind": "tamper_signature", "count": 1])
            let tampered = try site.platform.issue("zone.bypass", ["zone": "hall_pir"])
            #expect(try site.waitResult(tampered)["code"] == "bad_signature")

            let rotated = PlatformCredentials.random("leak")
            try site.replaceCredentials(rotated)
            try site.rotate(to: rotated)
            try site.toggle("in1", "inactive", expect: "zone.restored")
            try site.waitDelivered(timeout: 20)

            #expect(chmod(site.credentialsPath, 0o644) == 0)
            site.agent.process?.kill(SIGHUP)
            try site.waitFor("the agent to refuse the re-read") {
                site.agent.log.contains("credentials not re-read") ? true : nil
            }
            #expect(site.agent.log.contains("chmod 600"), "\(site.agent.logTail)")
            #expect(chmod(site.credentialsPath, 0o600) == 0)
            site.agent.process?.kill(SIGHUP)
            try site.waitFor("the agent to re-read the credentials") {
                site.agent.log.contains("SIGHUP: credentials re-read") ? true : nil
            }

            try site.expectNoSecretsLeaked()
            let (ended, _) = try #require(site.agent.stop())
            #expect(!ended.signalled && ended.status == 0, "\(ended)")
            try site.expectNoSecretsLeaked()
        }
    }
}
