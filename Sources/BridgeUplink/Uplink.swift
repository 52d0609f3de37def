import BridgeCore
import BridgeStore
import BridgeSystem
import FoundationEssentials
import Glibc

/// What the uplink needs of the running agent: executing platform commands and reading its state.
public protocol UplinkHost: AnyObject, Sendable {
    /// Executes a request on the runtime loop; `completion` is called once, after the events it caused are durable.
    func execute(_ request: Request, origin: Origin, completion: @escaping @Sendable (RequestResult) -> Void)
    /// The state snapshot of protocol.md (`PUT /state` body), built on the runtime loop.
    func stateSnapshot(completion: @escaping @Sendable (JSONObject) -> Void)
}

/// The platform link (protocol.md): event delivery from the journal, the command long-poll, state and heartbeat.
///
/// Three threads, each with its own libcurl handle, so none waits behind another: delivery (the outbox, in seq
/// order, one batch in flight), commands (one long-poll always open), and state (snapshots, never queued behind
/// events). Blocking transfers never run on the Swift concurrency pool. Shared state is behind one lock.
public final class Uplink: @unchecked Sendable {
    public struct Configuration: Sendable {
        public var bridgeID: String
        /// Already validated (`UpstreamURL`), without a trailing slash.
        public var baseURL: String
        public var credentialsPath: String
        public var heartbeatS: Int
        public var caFile: String?
        public var stateDir: String
        public var environment: [String: String]
        public init(bridgeID: String, baseURL: String, credentialsPath: String, heartbeatS: Int, caFile: String?,
                    stateDir: String, environment: [String: String]) {
            self.bridgeID = bridgeID; self.baseURL = baseURL; self.credentialsPath = credentialsPath
            self.heartbeatS = heartbeatS; self.caFile = caFile; self.stateDir = stateDir; self.environment = environment
        }
    }

    /// Why the uplink cannot start (exit 2): bad URL, credentials refused, state files unusable.
    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    let config: Configuration
    let journal: Journal
    /// Command results waiting to be posted: their own journal, so results take no event `seq` (the platform sees
    /// the event seqs without gaps) and go out ahead of an event backlog.
    let results: Journal
    weak var host: (any UplinkHost)?
    let lock = Condition()
    /// Guards `ledger` alone, so its fsyncs never hold `lock` (which `status` needs).
    let ledgerLock = Condition()
    let backoff = Backoff()
    let ledger: CommandLedger
    let deadLetters: DeadLetterFile
    let cursorPath: String

    // Guarded by `lock`.
    var credentials: Credentials
    var clock = ClockOffset()
    var rng: SplitMix64
    var stopping = false
    var deliveryWake = false
    /// Also set by the first answer after start (a "reconnect"): the start's snapshot then carries a measured clock offset.
    var stateRequested = false
    /// `state.sync` commands answered once a state snapshot taken after them is accepted by the platform.
    var stateSyncs: [String] = []
    var connected = false
    var authFailed = false
    var lastError: String?
    var lastErrorAt: Int64?
    var lastHeartbeatAt: Int64?
    var lastPollAt: Int64?
    var cursor: String?
    var delivered: Int = 0
    var commandsReceived: Int = 0
    var deadLetterCount: Int = 0
    var credentialsGeneration = 0
    /// Results waiting for the results thread, and whether it has drained after `stop`.
    var resultQueue: [(String, JSONObject)] = []
    var resultsDrained = false
    var started = false

    /// `credentials`: as `Credentials.load` gave them for `config.credentialsPath` (the launcher checks them before
    /// it creates anything in the state folder).
    public init(config: Configuration, credentials: Credentials, journal: Journal) throws(StartError) {
        self.config = config
        self.journal = journal
        if let reason = CurlLibrary.unavailableReason ?? HMACSHA256.unavailableReason {
            throw StartError(description: reason)
        }
        do {
            results = try Journal(directory: journal.directory, maxBytes: 4 << 20, name: "results")
        } catch {
            throw StartError(description: "cannot open the results outbox: \(error)")
        }
        self.credentials = credentials
        do {
            ledger = try CommandLedger(directory: config.stateDir, now: Posix.wallMillis())
            deadLetters = try DeadLetterFile(directory: config.stateDir)
        } catch {
            throw StartError(description: "cannot open the command ledger or dead-letter file: \(error)")
        }
        cursorPath = config.stateDir + "/commands.cursor"
        do {
            // At most what the platform may send as a cursor, and only a regular file (a FIFO would block the start).
            if let bytes = try AtomicFile.read(cursorPath, limit: CommandPoll.maximumCursorBytes),
               let text = String(validating: bytes, as: UTF8.self), !text.isEmpty {
                cursor = text
            }
        } catch {
            // The cursor only saves the platform re-sending commands; the ledger answers repeated ids.
            Log.warning("\(error): starting without a command cursor")
        }
        var system = SystemRandomNumberGenerator()
        rng = SplitMix64(seed: system.next())
        deadLetterCount = deadLetters.count
        for problem in ledger.problems + deadLetters.problems { Log.warning(problem) }
        if let stale = try? AtomicFile.removeStaleTemporaries(for: cursorPath) { _ = stale }
    }

    /// Starts the three threads. Commands left half-executed by a crash are answered first (never executed again).
    public func start(host: any UplinkHost) {
        self.host = host
        lock.lock(); started = true; lock.unlock()
        Posix.spawnThread(name: "uplink-results") { [self] in resultLoop() }
        answerInterruptedCommands()
        Posix.spawnThread(name: "uplink-events") { [self] in deliveryLoop() }
        Posix.spawnThread(name: "uplink-commands") { [self] in commandLoop() }
        Posix.spawnThread(name: "uplink-state") { [self] in stateLoop() }
    }

    /// Stops issuing requests; transfers in flight are abandoned with the process.
    public func stop() {
        lock.lock(); stopping = true; lock.broadcast(); lock.unlock()
        answerUnsentStateSyncs()
    }

    /// Answers the `state.sync` commands still waiting for a snapshot to be accepted: at stop, while the results
    /// outbox still records (close() waits for it), not left for the next start to find interrupted.
    func answerUnsentStateSyncs() {
        lock.lock(); let unsent = stateSyncs; stateSyncs = []; lock.unlock()
        for id in unsent { finish(id, .failed("busy", "the agent stopped before its state was sent; send state.sync again")) }
    }

    /// Closes the results outbox (after `stop`, at exit).
    /// Waits (up to 2 s) for queued command results to be recorded, then closes the results outbox (at exit,
    /// after `stop`). A result still unrecorded then is answered at the next start.
    public func close() {
        let deadline = Posix.monotonicMillis() + 2000
        lock.lock()
        while !resultsDrained && started && Posix.monotonicMillis() < deadline { lock.wait(timeoutMs: 100) }
        lock.unlock()
        results.close()
    }

    /// New events are in the journal: wake the delivery thread.
    public func eventsRecorded() {
        lock.lock(); deliveryWake = true; lock.broadcast(); lock.unlock()
    }

    /// Re-reads the credentials file (SIGHUP, or a 401). Returns a line for the log; never the key or secret.
    @discardableResult
    public func reloadCredentials() -> String {
        do {
            let (fresh, path) = try Credentials.load(path: config.credentialsPath, environment: config.environment)
            lock.lock()
            credentials = fresh
            authFailed = false
            credentialsGeneration += 1  // wakes threads waiting out an auth back-off
            lock.broadcast()
            lock.unlock()
            guard config.environment["CREDENTIALS_DIRECTORY"].map({ path.hasPrefix($0 + "/") }) == true else {
                return "credentials re-read from \(path)"
            }
            // systemd's LoadCredential= copies the file once, at start: a reload reads that copy again.
            return "credentials re-read from \(path), systemd's copy made when the service started: "
                + "after replacing \(config.credentialsPath), restart the service (systemctl restart chekt-bridge)"
        } catch {
            return "credentials not re-read, keeping the previous ones: \(error)"
        }
    }

    /// Re-reads the credentials file; true when it now holds different credentials (which are then in use).
    func reloadIfChanged() -> Bool {
        guard let (fresh, _) = try? Credentials.load(path: config.credentialsPath, environment: config.environment) else { return false }
        lock.lock(); defer { lock.unlock() }
        guard fresh.apiKey != credentials.apiKey || fresh.signingSecret != credentials.signingSecret else { return false }
        credentials = fresh
        authFailed = false
        credentialsGeneration += 1
        lock.broadcast()
        return true
    }

    // MARK: Reports

    /// The platform's time as best known (local + offset from `Date` headers), epoch ms.
    public func platformNow() -> Int64 {
        lock.lock(); defer { lock.unlock() }
        return clock.platformNow(local: Posix.wallMillis())
    }

    public var clockOffsetMs: Int64 {
        lock.lock(); defer { lock.unlock() }
        return clock.offsetMs
    }

    /// Results not yet acknowledged by the platform (they are outbox entries too).
    public var pendingResults: Int { results.stats.pending }

    public var deadLettered: Int {
        lock.lock(); defer { lock.unlock() }
        return deadLetterCount
    }

    /// `status`'s upstream section. Never carries the key or the secret.
    public func report() -> JSONObject {
        lock.lock(); defer { lock.unlock() }
        func time(_ t: Int64?) -> JSONValue { t.map { .string(Timestamp.rfc3339($0)) } ?? .null }
        return [
            "mode": "platform", "url": .string(config.baseURL), "connected": .bool(connected && !authFailed),
            "auth_failed": .bool(authFailed), "last_error": lastError.map(JSONValue.string) ?? .null,
            "last_error_at": time(lastErrorAt), "last_heartbeat": time(lastHeartbeatAt), "last_poll": time(lastPollAt),
            "delivered": .int(Int64(delivered)), "commands_received": .int(Int64(commandsReceived)),
        ]
    }

    // MARK: Shared request machinery

    enum Outcome {
        case response(HTTPResponse)
        case failed(String)
    }

    /// The thread's HTTP client. Setting one up can fail (libcurl not loadable, the `ca_file` gone or damaged since
    /// the start): then it is tried again with backoff, for as long as the link runs, never given up on, since a
    /// thread that returned would leave alarms undelivered until a restart. Nil only once the link stops.
    func makeClient(timeoutMs: Int) -> HTTPClient? {
        var attempt = 0
        while true {
            do {
                return try HTTPClient(options: .init(userAgent: "chekt-bridge/\(AgentIdentity.version)", connectTimeoutMs: 10_000,
                                                     timeoutMs: timeoutMs, caFile: config.caFile))
            } catch {
                noteError("cannot set up HTTPS: \(error); trying again")
                attempt += 1
                guard pause(ms: nextBackoff(attempt: attempt, retryAfterMs: nil, capMs: 60_000)) else { return nil }
            }
        }
    }

    /// One signed request; records the clock offset from its `Date`, the error state, and whether the platform is
    /// reachable (an answer of any status means connected; a reconnect asks for a state snapshot).
    func send(_ client: HTTPClient, method: String, path: String, body: [UInt8], timeoutMs: Int? = nil) -> Outcome {
        lock.lock()
        let creds = credentials
        let t = clock.platformNow(local: Posix.wallMillis()) / 1000
        lock.unlock()
        var headers: [(String, String)] = [
            ("Authorization", "Bearer \(creds.apiKey)"),
            ("X-Bridge-Id", config.bridgeID),
            (Signature.headerName, Signature.header(secret: creds.signingSecretBytes, body: body, unixSeconds: t)),
        ]
        if !body.isEmpty || method != "GET" { headers.append(("Content-Type", "application/json")) }
        let sentAt = Posix.wallMillis()
        do {
            let response = try client.perform(HTTPRequest(method: method, url: config.baseURL + path, headers: headers, body: body),
                                              timeoutMs: timeoutMs)
            let receivedAt = Posix.wallMillis()
            lock.lock()
            if let date = response.header("date").flatMap(HTTPDate.parse) {
                clock.observe(serverDate: date, sentAt: sentAt, receivedAt: receivedAt)
            }
            lock.unlock()
            setConnected(true)
            return .response(response)
        } catch {
            noteError("\(method) \(path): \(error)")
            setConnected(false)
            return .failed(error.description)
        }
    }

    /// Connected after any answer, disconnected after a transport failure; a reconnect asks for a state snapshot.
    private func setConnected(_ value: Bool) {
        lock.lock()
        let reconnected = value && !connected
        connected = value
        if reconnected { stateRequested = true; lock.broadcast() }
        lock.unlock()
    }

    func noteError(_ message: String) {
        lock.lock()
        let repeated = lastError == message
        lastError = message
        lastErrorAt = Posix.wallMillis()
        lock.unlock()
        if !repeated { Log.warning("upstream: \(message)") }
    }

    /// A 401: re-read the credentials once and retry; a second 401 means keep everything queued and back off (cap 5 min).
    /// Returns true when the caller should retry at once.
    /// A 401 (config.md: "let the next 401 make the agent re-read it"): the credentials file is re-read on every 401.
    /// The first 401 of an episode retries at once; so does any 401 after which the file holds new credentials.
    /// Otherwise everything stays queued and the caller backs off (cap 5 min), with `auth_failed` in `status`.
    /// Returns true when the caller should retry at once.
    func unauthorized(_ what: String, alreadyRetried: Bool) -> Bool {
        lock.lock(); let failing = authFailed; lock.unlock()
        let changed = reloadIfChanged()
        if !alreadyRetried && (changed || !failing) {
            Log.warning("upstream: \(what) answered 401: credentials re-read" + (changed ? " (they changed)" : " (unchanged)") + ", retrying")
            if !changed { lock.lock(); authFailed = true; lock.unlock() }  // a second 401 ends the episode's retry
            return true
        }
        lock.lock(); authFailed = true; lock.unlock()
        noteError("\(what): 401 with the current credentials; everything stays queued. Fix the credentials file (it is re-read at every 401) or send SIGHUP.")
        return false
    }

    func markHealthy() {
        lock.lock()
        authFailed = false
        lock.unlock()
    }

    /// Waits up to `ms`, or until stopped or `wake` says so. Returns false once stopping.
    func pause(ms: Int, wake: (() -> Bool)? = nil) -> Bool {
        let deadline = Posix.monotonicMillis() + Int64(ms)
        lock.lock(); defer { lock.unlock() }
        let generation = credentialsGeneration
        while !stopping {
            if let wake, wake() { return true }
            if credentialsGeneration != generation { return true }  // new credentials: retry now
            let left = deadline - Posix.monotonicMillis()
            if left <= 0 { return true }
            lock.wait(timeoutMs: Int(min(left, 60_000)))
        }
        return false
    }

    func nextBackoff(attempt: Int, retryAfterMs: Int?, capMs: Int) -> Int {
        lock.lock(); defer { lock.unlock() }
        return Backoff(capMs: capMs).delayMs(attempt: attempt, retryAfterMs: retryAfterMs, using: &rng)
    }

    var isStopping: Bool {
        lock.lock(); defer { lock.unlock() }
        return stopping
    }
}

/// The version string the uplink sends as `User-Agent` (set by the agent at start).
public enum AgentIdentity {
    nonisolated(unsafe) public static var version = "0"
}
