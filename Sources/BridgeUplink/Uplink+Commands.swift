import BridgeCore
import BridgeStore
import BridgeSystem

/// Commands: the long-poll, signature and expiry checks, scopes, the ledger, execution, results (protocol.md, Commands).
extension Uplink {
    static let pollWaitS = 25

    /// The scope each command type needs.
    static let requiredScope: [String: String] = [
        "partition.arm": "sites:write", "partition.disarm": "sites:write",
        "zone.bypass": "sites:write", "zone.unbypass": "sites:write",
        "relay.activate": "devices:write", "relay.deactivate": "devices:write",
        "state.sync": "devices:read",
    ]

    func commandLoop() {
        guard let client = makeClient(timeoutMs: (Self.pollWaitS + 15) * 1000) else { return }
        var attempt = 0
        var retriedAuth = false
        while !isStopping {
            lock.lock(); let cursor = self.cursor; lock.unlock()
            var path = "/bridges/\(config.bridgeID)/commands?wait=\(Self.pollWaitS)"
            if let cursor { path += "&cursor=" + Self.percentEncode(cursor) }
            var retryAfterMs: Int?
            if case .response(let response) = send(client, method: "GET", path: path, body: []) {
                lock.lock(); lastPollAt = Posix.wallMillis(); lock.unlock()
                switch response.status {
                case 200:
                    markHealthy()
                    retriedAuth = false
                    if handle(response) { attempt = 0; continue }
                case 401:
                    if unauthorized("GET commands", alreadyRetried: retriedAuth) { retriedAuth = true; continue }
                default:
                    noteError("GET commands: HTTP \(response.status)")
                    retryAfterMs = Backoff.retryAfterMs(response.header("retry-after"), now: Posix.wallMillis())
                }
            }
            attempt += 1
            lock.lock(); let capMs = authFailed ? 300_000 : 30_000; lock.unlock()
            guard pause(ms: nextBackoff(attempt: attempt, retryAfterMs: retryAfterMs, capMs: capMs)) else { return }
        }
    }

    /// Handles one 200 answer. False when it was refused (bad signature or body): the caller backs off a little.
    func handle(_ response: HTTPResponse) -> Bool {
        lock.lock()
        let secret = credentials.signingSecretBytes
        let platformSeconds = clock.platformNow(local: Posix.wallMillis()) / 1000
        lock.unlock()
        let check = Signature.verify(header: response.header(Signature.headerName.lowercased()), body: response.body,
                                     secrets: [secret], platformNowSeconds: platformSeconds)
        let poll = CommandPoll.parse(response.body)
        if check == .missing, poll.hasCommandsKey, poll.commands.isEmpty, poll.unreadable == 0 {
            // protocol.md requires a signature on bodies that carry commands; an unsigned empty answer is just idle.
            return true
        }
        guard check.isValid else {
            // Nothing in it is executed; every command id it names is answered rejected/bad_signature.
            noteError("a command response failed its signature check (\(check)); \(poll.commands.count) command(s) in it rejected, none executed")
            refuse(poll.commands, .rejected("bad_signature", "the response carrying this command failed its signature check; not executed"))
            return false
        }
        if poll.unreadable > 0 { Log.warning("upstream: \(poll.unreadable) command(s) without a usable id were ignored") }
        guard poll.problem == nil, let next = poll.cursor else {
            // Authentic but unusable as a whole: nothing in it runs, the cursor stays (at-most-once wins).
            let problem = poll.problem ?? "no cursor"
            noteError("a signed command response cannot be read (\(problem)); \(poll.commands.count) command(s) in it rejected, none executed")
            refuse(poll.commands, .rejected("invalid_params", "the response carrying this command cannot be read (\(problem)); not executed"))
            return false
        }
        var allRecorded = true
        for command in poll.commands where !receive(command) { allRecorded = false }
        if !poll.commands.isEmpty { Heap.trim() }  // a large answer leaves its memory free in the heap
        // The cursor moves only once every command it covers is in the ledger.
        guard allRecorded else { return false }
        lock.lock(); let unchanged = cursor == next; lock.unlock()
        if unchanged { return true }
        do {
            try AtomicFile.write(Array(next.utf8), to: cursorPath)
            lock.lock(); cursor = next; lock.unlock()
        } catch {
            noteError("cannot persist the command cursor: \(error.code)")
            return false
        }
        return true
    }

    /// Command ids used in URLs and files: letters, digits, `_`, `-`, `.`, at most 128 characters.
    static func isAcceptableID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 128 && id.utf8.allSatisfy { b in
            (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 95 || b == 45 || b == 46
        }
    }

    /// The most command ids of one refused answer that are recorded and answered. An answer that cannot be
    /// trusted could list any number of made-up ids; each answered one costs a ledger entry and a result.
    static let refusedPerAnswer = 100

    /// Answers the commands of a refused answer, at most `refusedPerAnswer` of them; the rest are only counted.
    private func refuse(_ commands: [CommandEnvelope], _ result: RequestResult) {
        for command in commands.prefix(Self.refusedPerAnswer) { refuse(command.id, result) }
        if commands.count > Self.refusedPerAnswer {
            Log.warning("upstream: \(commands.count - Self.refusedPerAnswer) more command id(s) in that answer were neither recorded nor answered")
        }
    }

    /// Answers a command that is refused before it is looked at, unless its id is in the ledger already (then a
    /// genuine command with this id was handled, and its result stands).
    private func refuse(_ id: String, _ result: RequestResult) {
        do {
            ledgerLock.lock(); defer { ledgerLock.unlock() }
            guard !ledger.contains(id) else { return }
            try ledger.recordReceived(id, now: Posix.wallMillis())
        } catch {
            noteError("command ledger: \(error)")
            return
        }
        finish(id, result)
    }

    /// One verified command: at most once, checked, executed, answered. False when it could not be put in the
    /// ledger (then nothing was done with it, and the cursor must not move past it).
    func receive(_ command: CommandEnvelope) -> Bool {
        let id = command.id
        ledgerLock.lock()
        let repeated = ledger.contains(id)
        var stored: JSONObject?
        if repeated {
            do { stored = try ledger.entry(id)?.result } catch {
                Log.warning("upstream: command \(id) repeated; it is not executed again, but its stored result cannot be read: \(error)")
            }
        } else {
            do { try ledger.recordReceived(id, now: Posix.wallMillis()) } catch {
                ledgerLock.unlock()
                noteError("command ledger: \(error); command \(id) not executed, will be polled again")
                return false
            }
        }
        ledgerLock.unlock()
        lock.lock()
        if !repeated { commandsReceived += 1 }
        let platformNow = clock.platformNow(local: Posix.wallMillis())
        lock.unlock()
        if repeated {
            // Already seen: never executed again. A stored result is re-sent; one still executing answers when done.
            if let stored {
                Log.info("upstream: command \(id) repeated; re-sending its result")
                _ = enqueueResult(id, body: stored)
            }
            return true
        }
        execute(id, command, platformNow: platformNow)
        return true
    }

    /// The checks of docs/protocol.md in their order, then execution on the runtime loop.
    private func execute(_ id: String, _ command: CommandEnvelope, platformNow: Int64) {
        if let problem = command.problem {
            // A field the agent cannot read with one meaning: fail closed, never a guess.
            return finish(id, .rejected("invalid_params", "\(problem); not executed"))
        }
        let type = command.type
        guard let scope = Self.requiredScope[type] else {
            return finish(id, .rejected("unsupported_command",
                "unsupported command type \(ConfigText.quoted(String(type.prefix(64)))) (supported: \(Self.requiredScope.keys.sorted().joined(separator: ", ")))"))
        }
        let scopes = command.scopes
        guard scopes.contains(scope) else {
            let held = scopes.isEmpty ? "none" : CommandEnvelope.list(scopes)
            return finish(id, .rejected("missing_scope", "\(type) needs the scope \(scope); the app has \(held)"))
        }
        if let expires = command.expiresAt, expires < platformNow {
            return finish(id, RequestResult(status: .expired, code: "expired",
                message: "expired at \(Timestamp.rfc3339(expires)); it arrived at \(Timestamp.rfc3339(platformNow)) platform time"))
        }
        if type == "state.sync" {
            guard command.params.isEmpty else {
                return finish(id, .rejected("invalid_params", "state.sync takes no parameters; found " + CommandEnvelope.list(command.params.keys.sorted())))
            }
            // Answered once the platform has accepted a snapshot taken after this command (Uplink+State.swift).
            lock.lock(); stateSyncs.append(id); stateRequested = true; lock.broadcast(); lock.unlock()
            return
        }
        let request: Request
        switch Request.parse(type: type, params: command.params) {
        case .success(let r): request = r
        case .failure(let e): return finish(id, e.result)
        }
        guard let host else { return finish(id, .failed("busy", "the agent is stopping")) }
        Log.info("upstream: command \(id) \(type) from \(ConfigText.printable(command.app ?? "?"))")
        host.execute(request, origin: Origin(source: .command, commandID: id)) { [self] result in
            finish(id, result)
        }
    }

    /// Hands a command's result to the results thread, which records it (two fsyncs): callers include the
    /// runtime loop, whose deadlines must not wait on a slow SD card.
    func finish(_ id: String, _ result: RequestResult) {
        var body = result.json
        body["completed_at"] = .string(Timestamp.rfc3339(platformNow()))
        lock.lock()
        resultQueue.append((id, body))
        lock.broadcast()
        lock.unlock()
    }

    /// The results thread: records queued results in order until stopped and drained.
    func resultLoop() {
        while true {
            lock.lock()
            while resultQueue.isEmpty && !stopping { lock.wait() }
            let batch = resultQueue
            resultQueue.removeAll()
            let done = batch.isEmpty && stopping
            if done { resultsDrained = true; lock.broadcast() }
            lock.unlock()
            if done { return }
            for (id, body) in batch { record(id, body: body) }
        }
    }

    /// Records a command's result: first in the outbox (durable, to be delivered), then in the ledger.
    /// If the outbox refused it, the ledger entry stays open and the next start answers it.
    private func record(_ id: String, body: JSONObject) {
        guard enqueueResult(id, body: body) else { return }
        ledgerLock.lock(); defer { ledgerLock.unlock() }
        do {
            try ledger.recordResult(id, result: body, now: Posix.wallMillis())
            if ledger.compactionDue {
                do {
                    for problem in try ledger.compact(now: Posix.wallMillis()) { Log.warning(problem) }
                } catch {
                    Log.warning("command ledger compaction failed, will retry: \(error)")
                }
            }
        } catch {
            Log.error("command ledger: cannot record the result of \(id): \(error)")
        }
    }

    /// Puts a result in the outbox as a `command.result` record. False when it could not be recorded.
    @discardableResult
    func enqueueResult(_ id: String, body: JSONObject) -> Bool {
        var data = body
        data["command_id"] = .string(id)
        do {
            let recorded = try results.append([EventDraft(type: EventType.commandResult.rawValue, occurredAt: Posix.wallMillis(), data: data)])
            for event in recorded {
                Log.info("result #\(event.seq) command_id=\(id) status=\(body["status"]?.stringValue ?? "?")" + (body["code"]?.stringValue.map { " code=\($0)" } ?? ""))
            }
        } catch {
            Log.error("cannot record the result of command \(id): \(error)")
            return false
        }
        eventsRecorded()
        return true
    }

    /// At start: a command recorded as received but with no result was cut off by a crash or power cut.
    /// It is not executed again; unless its result already reached the outbox, it is answered `failed`.
    func answerInterruptedCommands() {
        ledgerLock.lock()
        let open = ledger.openEntries()
        ledgerLock.unlock()
        guard !open.isEmpty else { return }
        // Every result the journal still holds, delivered or not: one already sent must not get a contradicting twin.
        var queued: [String: JSONObject] = [:]
        var after: Int64 = 0
        while let page = try? results.events(after: after, limit: 500), !page.isEmpty {
            for e in page where e.type == EventType.commandResult.rawValue {
                if let id = e.data["command_id"]?.stringValue { queued[id] = e.data }
            }
            after = page.last!.seq
        }
        for id in open {
            if var body = queued[id] {
                body.removeValue(forKey: "command_id")
                ledgerLock.lock()
                try? ledger.recordResult(id, result: body, now: Posix.wallMillis())
                ledgerLock.unlock()
            } else {
                Log.warning("upstream: command \(id) was interrupted by a restart; it is not executed again")
                finish(id, .failed("hardware_error", "the agent restarted while executing this command; it was not repeated, and may or may not have taken effect: check the state"))
            }
        }
    }

    static func percentEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(Character(Unicode.Scalar(b)))
            default:
                let hex = Array("0123456789ABCDEF")
                out += "%\(hex[Int(b >> 4)])\(hex[Int(b & 15)])"
            }
        }
        return out
    }
}
