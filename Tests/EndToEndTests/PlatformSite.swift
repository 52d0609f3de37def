import Foundation
import Glibc
import TestSupport
import Testing

/// Every end-to-end test of the platform link, run one at a time: each starts an agent and a reference
/// platform, and several measure timing (Retry-After spacing, back-off) that a crowded 2-core machine would blur.
@Suite(.serialized) enum PlatformLink {}

/// An API key and signing secret, random and distinctive, so a leak check can search for them byte for byte.
struct PlatformCredentials {
    var apiKey: String
    var signingSecret: String

    static func random(_ tag: String) -> PlatformCredentials {
        let nonce = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        return PlatformCredentials(apiKey: "key_\(tag)_\(nonce.prefix(16))", signingSecret: "secret_\(tag)_\(nonce.suffix(16))")
    }

    var strings: [String] { [apiKey, signingSecret] }

    /// Writes `{"api_key","signing_secret"}` to `path` with `mode`, replacing the file in one rename
    /// (as an installer would), so the agent never reads half a file.
    func write(to path: String, mode: mode_t = 0o600) throws {
        let data = try JSONSerialization.data(withJSONObject: ["api_key": apiKey, "signing_secret": signingSecret], options: [.sortedKeys])
        let temporary = path + ".new"
        guard FileManager.default.createFile(atPath: temporary, contents: data) else { throw E2EFailure("cannot write \(temporary)") }
        guard chmod(temporary, mode) == 0 else { throw E2EFailure("chmod \(temporary): \(String(cString: strerror(errno)))") }
        guard rename(temporary, path) == 0 else { throw E2EFailure("rename \(temporary): \(String(cString: strerror(errno)))") }
    }
}

extension Fixture {
    /// The standard site with an `upstream` section.
    static func platformConfig(board: String, stateDir: String, url: String, credentials: String, heartbeatS: Int = 5,
                               caFile: String? = nil, partitions: [[String: Any]] = [partition()],
                               relays: [[String: Any]] = [doorStrike, siren, gate]) -> [String: Any] {
        var config = self.config(board: board, stateDir: stateDir, partitions: partitions, relays: relays)
        var upstream: [String: Any] = ["url": url, "credentials": credentials, "heartbeat_s": heartbeatS]
        if let caFile { upstream["ca_file"] = caFile }
        config["upstream"] = upstream
        return config
    }
}

/// One test's bridge site linked to its own reference platform: sandbox, credentials file (0600), platform, agent.
///
/// The agent's config points at the platform (`heartbeat_s` 5 unless told).
/// `close()` stops both processes and belongs in a `defer`. Waiting polls
/// the platform's admin API and `status --json` every 100 ms up to a
/// deadline, never a fixed sleep, and fails early when the agent has died.
final class PlatformSite {
    let sandbox: Sandbox
    let credentialsPath: String
    private(set) var credentials: PlatformCredentials
    /// Every key and secret this test has used, for the leak checks.
    private(set) var secrets: [String]
    let platform: PlatformSim
    let agent: Agent
    let board: String
    let heartbeatS: Int
    let partitions: [[String: Any]]
    let relays: [[String: Any]]

    init(heartbeatS: Int = 5, partitions: [[String: Any]] = [Fixture.partition()],
         relays: [[String: Any]] = [Fixture.doorStrike, Fixture.siren, Fixture.gate]) throws {
        sandbox = try Sandbox()
        credentials = .random("e2e")
        secrets = credentials.strings
        credentialsPath = sandbox.root + "/credentials.json"
        try credentials.write(to: credentialsPath)
        platform = try PlatformSim(sandbox, credentials: credentialsPath)
        board = try Repo.board()
        self.heartbeatS = heartbeatS
        self.partitions = partitions
        self.relays = relays
        agent = Agent(sandbox, config: sandbox.root + "/config.json")
        try writeConfig(url: platform.apiURL)
    }

    /// (Re)writes the agent's config; it takes effect at the agent's next start.
    func writeConfig(url: String, caFile: String? = nil) throws {
        try sandbox.writeJSON("config.json", Fixture.platformConfig(
            board: board, stateDir: sandbox.stateDir, url: url, credentials: credentialsPath, heartbeatS: heartbeatS,
            caFile: caFile, partitions: partitions, relays: relays))
    }

    /// Stops the agent, then the platform.
    func close() {
        agent.stop()
        platform.stop()
    }

    /// New credentials written to the credentials file (mode 0600); the agent sees them on SIGHUP or its next 401.
    func replaceCredentials(_ fresh: PlatformCredentials) throws {
        credentials = fresh
        secrets += fresh.strings
        try fresh.write(to: credentialsPath)
    }

    /// Gives the platform new credentials (`rotate_key`): the agent's current ones get 401 from now on.
    func rotate(to fresh: PlatformCredentials) throws {
        secrets += fresh.strings
        try platform.rotateKey(apiKey: fresh.apiKey, signingSecret: fresh.signingSecret)
    }

    // MARK: Starting

    /// Starts the agent and waits until it is connected and the platform has this run's `bridge.started`.
    @discardableResult
    func start(timeout: Double = 15) throws -> JSON {
        try agent.start(timeout: timeout)
        try waitFor("this run's bridge.started to reach the platform and status to say connected", timeout: timeout) {
            () throws -> Bool? in
            guard let mine = try journal().last(where: { $0.type == "bridge.started" }) else { return nil }
            guard try platform.events().contains(where: { $0["id"] == .string(mine.id) }) else { return nil }
            return try agent.status()["upstream"]?["connected"] == true ? true : nil
        }
        return try agent.status()
    }

    // MARK: Reading both sides

    /// The journal's events, via `events --json --since 1` (command results are not among them: they have their own
    /// outbox, docs/protocol.md; the filter only guards against them coming back into the event seq).
    func journal() throws -> [RecordedEvent] { try agent.events().filter { $0.type != "command.result" } }

    /// The `command.result` records for `commandID` in the results outbox (`<state>/journal/results.journal`),
    /// one per result queued for the platform: the first answer and every re-send.
    func resultRecords(_ commandID: String) throws -> [RecordedEvent] {
        try journalRecords("results.journal").filter { $0.type == "command.result" && $0.data["command_id"] == .string(commandID) }
    }

    /// The event records (kind `E`) of a journal file under `<state>/journal`, read with the framing of
    /// docs/storage.md "Record format": magic `FF 43 42`, kind, u32 length, i64 seq, CRC-32C, payload (the event JSON).
    /// A record still being written at the end is left out.
    func journalRecords(_ name: String) throws -> [RecordedEvent] {
        let path = sandbox.journalDir + "/" + name
        guard let data = FileManager.default.contents(atPath: path) else { throw E2EFailure("no \(path)") }
        let bytes = [UInt8](data)
        var records: [RecordedEvent] = []
        var at = 0
        while at + 20 <= bytes.count {
            guard bytes[at] == 0xFF, bytes[at + 1] == 0x43, bytes[at + 2] == 0x42 else {
                throw E2EFailure("\(path): no record magic at offset \(at)")
            }
            let length = (0..<4).reduce(0) { $0 | Int(bytes[at + 4 + $1]) << (8 * $1) }
            guard at + 20 + length <= bytes.count else { break }
            if bytes[at + 3] == UInt8(ascii: "E") {
                let payload = Data(bytes[(at + 20)..<(at + 20 + length)])
                do { records.append(try JSONDecoder().decode(RecordedEvent.self, from: payload)) } catch {
                    throw E2EFailure("\(path): the record at offset \(at) is not an event: \(error)")
                }
            }
            at += 20 + length
        }
        return records
    }

    /// The events of the journal that name `commandID` (what the command caused).
    func caused(by commandID: String) throws -> [RecordedEvent] {
        try journal().filter { $0.data["command_id"] == .string(commandID) }
    }

    /// Sets a simulated input and waits for the zone event it causes (so a quick toggle is never debounced away).
    @discardableResult
    func toggle(_ input: String, _ level: String, expect type: String) throws -> RecordedEvent {
        let before = try agent.lastSeq
        try agent.ok("sim", "input", input, level)
        return try agent.waitForEvent(type, after: before)
    }

    /// `relay on siren` / `relay off siren`, `pairs` times: two events per pair, recorded before each command returns.
    func toggleSiren(pairs: Int) throws {
        for _ in 0..<pairs {
            try agent.ok("relay", "on", "siren")
            try agent.ok("relay", "off", "siren")
        }
    }

    // MARK: Waiting

    /// Polls `condition` every 100 ms until it gives a value; fails after `timeout` s, or at once when the agent died.
    @discardableResult
    func waitFor<T>(_ what: String, timeout: Double = 10, _ condition: () throws -> T?) throws -> T {
        let value = try pollUntil(timeout: timeout, every: 0.1) { () throws -> T? in
            if let value = try condition() { return value }
            if let process = agent.process, let ended = process.wait(timeout: 0) {
                throw E2EFailure("the agent ended (\(ended.signalled ? "signal" : "exit") \(ended.status)) while waiting for \(what)\n\(diagnostics)")
            }
            if !platform.isRunning {
                throw E2EFailure("the reference platform died while waiting for \(what)\n\(platform.stderrText.suffix(3000))")
            }
            return nil
        }
        guard let value else { throw E2EFailure("timed out after \(timeout) s waiting for \(what)\n\(diagnostics)") }
        return value
    }

    /// Waits until the platform holds exactly the journal's events and `status` shows the outbox empty.
    /// Returns the journal's events and the platform's, as they were then.
    @discardableResult
    func waitDelivered(timeout: Double = 15) throws -> (journal: [RecordedEvent], platform: [JSON]) {
        try waitFor("every recorded event to reach the platform and outbox.pending to be 0", timeout: timeout) {
            () throws -> ([RecordedEvent], [JSON])? in
            let status = try agent.status()
            guard status["outbox"]?["pending"] == 0 else { return nil }
            let recorded = try journal()
            let received = try platform.events()
            let ids = Set(received.compactMap { $0["id"]?.string })
            // Both ways: an event recorded and delivered between the two reads (a pulse ending) makes them differ.
            let recordedIDs = Set(recorded.map(\.id))
            let same = recorded.allSatisfy { ids.contains($0.id) } && ids.isSubset(of: recordedIDs)
            return same ? (recorded, received) : nil
        }
    }

    /// Waits for the platform to hold a result for `commandID` received at least `count` times.
    @discardableResult
    func waitResult(_ commandID: String, count: Int64 = 1, timeout: Double = 10) throws -> JSON {
        try waitFor("the result of \(commandID) to reach the platform (received \(count) time(s))", timeout: timeout) {
            () throws -> JSON? in
            guard let result = try platform.results()[commandID], (result["received_count"]?.int ?? 0) >= count else { return nil }
            return result
        }
    }

    /// The agent's log tails, the platform's request log tail and the journal, for failure messages.
    var diagnostics: String {
        let journal = (try? agent.events())?.listing ?? "(journal unavailable)"
        return "journal:\n\(journal)\n\(agent.logTail)--- platform requests (last 40)\n\(platform.requestTail)\n--- platform stderr\n\(platform.stderrText.suffix(1500))"
    }

    /// The whole journal, one event a line, for failure messages (never throws).
    var journalListing: String { (try? agent.events())?.listing ?? "(journal unavailable)" }

    /// A failure comment with `diagnostics`; evaluated only when an expectation fails.
    var note: Comment { Comment(rawValue: diagnostics) }

    // MARK: Checks shared by the scenarios

    /// The platform kept exactly the journal's events, in the journal's order, unchanged (id, seq, type,
    /// occurred_at, data); ids unique; `order_violations` empty.
    func expectSameEvents(_ recorded: [RecordedEvent], _ received: [JSON], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(received.map { $0["id"]?.string ?? "?" } == recorded.map(\.id),
                "the platform's events (arrival order) are not the journal's, in seq order\n\(diagnostics)", sourceLocation: sourceLocation)
        #expect(received == recorded.map(\.wire), "an event reached the platform changed", sourceLocation: sourceLocation)
        let seqs = received.compactMap { $0["seq"]?.int }
        #expect(zip(seqs, seqs.dropFirst()).allSatisfy { $0 < $1 }, "seq not increasing at the platform: \(seqs)", sourceLocation: sourceLocation)
        #expect(Set(received.compactMap { $0["id"]?.string }).count == received.count, "an id twice at the platform", sourceLocation: sourceLocation)
        let report = try? platform.eventsReport()
        #expect(report?["order_violations"] == [], "order violations at the platform: \(report?["order_violations"] ?? .null)\n\(diagnostics)",
                sourceLocation: sourceLocation)
    }

    /// No key or secret this test used appears in the agent's stderr/stdout of any run, in `status --json`,
    /// in `events --json`, or in any file of the state folder (journal, ledger, cursor, snapshot, dead letters).
    func expectNoSecretsLeaked(sourceLocation: SourceLocation = #_sourceLocation) throws {
        var places: [(String, Data)] = []
        let fm = FileManager.default
        for name in try fm.contentsOfDirectory(atPath: sandbox.root) where name.hasPrefix("agent-") {
            places.append((name, fm.contents(atPath: sandbox.root + "/" + name) ?? Data()))
        }
        if let walker = fm.enumerator(atPath: sandbox.stateDir) {
            while let relative = walker.nextObject() as? String {
                var isFolder: ObjCBool = false
                let path = sandbox.stateDir + "/" + relative
                guard fm.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue else { continue }
                places.append(("state/" + relative, fm.contents(atPath: path) ?? Data()))
            }
        }
        #expect(places.contains { $0.0.hasSuffix("commands.ledger") }, "no commands.ledger in \(sandbox.stateDir)", sourceLocation: sourceLocation)
        #expect(places.contains { $0.0.hasPrefix("state/journal/") }, "no journal files in \(sandbox.stateDir)", sourceLocation: sourceLocation)
        if agent.isRunning {
            places.append(("status --json", Data(try agent.tool("status", "--json").stdout.utf8)))
            places.append(("status", Data(try agent.tool("status").stdout.utf8)))
            places.append(("events --json", Data(try agent.tool("events", "--json", "--since", "1").stdout.utf8)))
        }
        for secret in Set(secrets) {
            let leaks = places.filter { $0.1.range(of: Data(secret.utf8)) != nil }.map(\.0)
            #expect(leaks.isEmpty, "a credential string (\(secret.hasPrefix("key_") ? "api_key" : "signing_secret")) appears in: \(leaks)",
                    sourceLocation: sourceLocation)
        }
    }
}

extension RecordedEvent {
    /// The event as the protocol sends it (and the platform keeps it, less `received_at`).
    var wire: JSON { ["id": .string(id), "seq": .int(seq), "type": .string(type), "occurred_at": .string(occurredAt), "data": .object(data)] }
}

extension JSON {
    /// `status --json`'s `outbox.pending`.
    var pending: Int64? { self["outbox"]?["pending"]?.int }
}
