import BridgeSystem
import BridgeCore
import BridgeHardware
import BridgeStore
import BridgeUplink
import FoundationEssentials

/// What reaches the runtime loop, from the hardware, the control socket, the timer and the signal thread.
public enum RuntimeMessage: Sendable {
    case hardware(HardwareEvent)
    /// A control-socket operation needing the engine; `reply` is called once, after anything it recorded is durable.
    case control(ControlOperation, uid: UInt32?, reply: @Sendable (JSONObject) -> Void)
    /// A platform command's request (from the uplink); `reply` gets the result once its events are durable.
    case command(Request, Origin, reply: @Sendable (RequestResult) -> Void)
    /// protocol.md's state snapshot, for `PUT /state`.
    case stateSnapshot(reply: @Sendable (JSONObject) -> Void)
    case tick
    case signal(Int32)
}

/// The operations the control socket hands to the loop.
public enum ControlOperation: Sendable {
    case status
    case inputs
    case request(Request)
    case simInput(String, active: Bool)
    case simDevice(String, online: Bool)
}

/// The agent's runtime: drives the engine from one serial loop and carries out its effects.
///
/// One loop owns the engine, the board's outputs and the journal's appends:
/// messages are handled in arrival order. Effects are carried out in order:
/// outputs at once, then the step's events appended in one group commit
/// (durable before anything is answered), then the snapshot replaced, then
/// requests answered. Time: one wall-clock reading at start plus the injected
/// monotonic `clock`, so `now` never jumps within a run.
public final class Runtime<C: Clock<Duration>>: @unchecked Sendable {
    public struct Options: Sendable {
        public var simulated: Bool
        public var configPath: String
        public var stateDir: String
        public init(simulated: Bool, configPath: String, stateDir: String) {
            self.simulated = simulated; self.configPath = configPath; self.stateDir = stateDir
        }
    }

    public let site: Site
    public let feed = ChangeFeed()
    public let journal: Journal
    let options: Options
    let board: any Board
    let simulation: (any SimulationControl)?
    let snapshot: SnapshotFile
    let clock: C
    /// Where the loop, its timer and the hardware pump run: a dedicated thread, never the concurrency pool.
    let executor: ThreadExecutor
    /// Forwards the board's events into `messages` (`loop`), on a thread the loop's work never holds.
    private let pumpExecutor = ThreadExecutor(name: "runtime-board")
    let messages: AsyncStream<RuntimeMessage>
    let continuation: AsyncStream<RuntimeMessage>.Continuation

    // Loop-owned state: touched only from the loop's task.
    private var engine: Engine
    private let wallAnchor: Millis
    private let monoAnchor: C.Instant
    private var timer: (deadline: Millis, task: Task<Void, Never>?)?
    private var nextTicket: Ticket = 1
    private var pending: [Ticket: @Sendable (RequestResult) -> Void] = [:]
    /// The platform link, when `upstream` is configured (set before `run`).
    public var uplink: Uplink?
    /// systemd's watchdog (set before `run`): `ping` is called from the loop itself at least every `intervalMs`, so
    /// a loop that hangs (not just a process that lives) stops the pings and systemd restarts the agent.
    public var watchdog: (intervalMs: Int64, ping: @Sendable () -> Void)?
    private var lastWatchdogPing: Millis = .min
    private var unrecorded: [EventDraft] = []
    /// Why the state folder refuses writes now (a full disk, a read-only filesystem), and since when: the journal's
    /// append and the snapshot's save, each cleared by its next success. Shown in `status` (`storage`).
    private var journalTrouble: (problem: String, since: Millis)?
    private var snapshotTrouble: (problem: String, since: Millis)?
    /// When a write that failed is tried again by the timer (`scheduleTimer`), fixed when it is set: a second after
    /// the failure, not a second after the latest message.
    private var storageRetryAt: Millis?
    private var heldCompletions: [(Ticket, RequestResult)] = []
    private var snapshotDirty = false
    private var stopping = false
    /// Outputs whose last write failed, with the level the engine wants. Written again each time their device
    /// answers (every good Modbus poll, a GPIO chip's return) until it takes, so the hardware converges on what
    /// the engine and the journal say: a door strike switched off during a bus outage goes off when the bus is
    /// back (docs/behaviour-decisions.md, "Outputs on a device that does not answer").
    private var unapplied: [String: Bool] = [:]

    public init(site: Site, board: any Board, simulation: (any SimulationControl)?, journal: Journal,
                snapshot: SnapshotFile, restored: PersistedState?, clock: C, options: Options,
                executor: ThreadExecutor = ThreadExecutor(name: "runtime")) {
        self.executor = executor
        self.site = site
        self.board = board
        self.simulation = simulation
        self.journal = journal
        self.snapshot = snapshot
        self.clock = clock
        self.options = options
        (messages, continuation) = AsyncStream.makeStream(of: RuntimeMessage.self, bufferingPolicy: .unbounded)
        wallAnchor = Posix.wallMillis()
        monoAnchor = clock.now
        engine = Engine(site: site, restored: restored, makeAlarmID: { AlarmID.make() })
    }

    /// Posts a message to the loop; safe from any thread.
    public func post(_ message: RuntimeMessage) {
        // After SIGTERM the loop's stream is finished and drops what is yielded: answer here, so a platform
        // command is answered `busy` (certainly not run) rather than left open and called interrupted at the
        // next start. Off the loop: nothing here reads the loop's state.
        if case .terminated = continuation.yield(message) { _ = Self.refuseStopped(message) }
    }

    /// Answers a command or control request that arrives while the agent is stopping. False for other messages
    /// (a state snapshot asked for after the loop has ended is never built: the link is stopping and nothing
    /// waits for it but a thread the exit ends).
    private static func refuseStopped(_ message: RuntimeMessage) -> Bool {
        switch message {
        case .command(_, _, let reply):
            reply(.failed("busy", "the agent is stopping; the command was not executed"))
        case .control(_, _, let reply):
            reply(failure("stopping", "the agent is stopping", exit: 1))
        case .hardware, .tick, .signal, .stateSnapshot:
            return false
        }
        return true
    }

    /// Milliseconds in the core's time base: the whole milliseconds that have passed, never less than a time
    /// already handed to the engine. `roundedUp` is for input changes: a debounce then ends no earlier than
    /// `debounce_ms` after the real change, so a pulse a fraction of a millisecond too short never counts.
    func now(roundedUp: Bool = false) -> Millis {
        let elapsed = monoAnchor.duration(to: clock.now)
        let (seconds, attoseconds) = elapsed.components
        var ms = wallAnchor + seconds * 1000 + attoseconds / 1_000_000_000_000_000
        if roundedUp && attoseconds % 1_000_000_000_000_000 > 0 { ms += 1 }
        lastNow = max(lastNow, ms)
        return lastNow
    }
    private var lastNow: Millis = 0

    /// When a change the hardware timestamped (`CLOCK_MONOTONIC`) happened, in the core's time base: `now` (already
    /// rounded up) less the whole milliseconds between the change and `current` (read before `now`), so the
    /// debounce never ends early. Only the real clock shares
    /// the kernel's time base; an injected clock takes the change as happening now.
    func changeTime(_ now: Millis, monotonicNs: UInt64, current: UInt64) -> Millis {
        guard clock is ContinuousClock || clock is SuspendingClock else { return now }
        let ageMs = current > monotonicNs ? Int64((current - monotonicNs) / 1_000_000) : 0
        return now - ageMs
    }

    public var startedAt: Millis { wallAnchor }

    /// Opens the board at the outputs' initial levels, records `bridge.started`, and runs until SIGTERM/SIGINT.
    /// Returns the process exit code. Runs on the runtime's own thread, whoever calls it.
    public func run(onReady: @escaping @Sendable () -> Void) async -> Int32 {
        await withTaskExecutorPreference(executor) { await loop(onReady: onReady) }
    }

    private func loop(onReady: @Sendable () -> Void) async -> Int32 {
        let t0 = now()
        let initial = engine.initialOutputs(now: t0)
        let levels: [String: Bool?]
        do {
            levels = try board.open(initialOutputs: initial)
        } catch {
            Log.error("cannot open the board: \(error)")
            return 1
        }
        let startEffects = engine.start(levels: levels, now: t0)
        // `restored` is exact only after start (a saved deadline may pass at start itself); the event still comes first.
        let started: JSONObject = [
            "version": .string(AgentVersion.string), "board": .string(site.board.name),
            "simulated": .bool(options.simulated), "restored": engine.restoredSummary,
        ]
        unrecorded.append(EventDraft(type: EventType.bridgeStarted.rawValue, occurredAt: t0, data: started))
        carryOut(startEffects, now: t0, force: true)

        // The board's events join the loop's messages from a thread of their own, at once, not from the loop's
        // thread: forwarded from there, an edge that came while the loop was busy (an SD card's slow fdatasync)
        // would queue behind a request posted later, whose handling runs the engine to its own time and would end
        // the debounce of the edge before, so a pulse shorter than the debounce would reach its zone.
        let hardwarePump = Task(executorPreference: pumpExecutor) { [board, continuation] in
            for await event in board.events { continuation.yield(.hardware(event)) }
        }
        pingWatchdogIfDue()
        scheduleTimer()
        onReady()

        for await message in messages {
            if stopping {
                refuseWhileStopping(message)
                continue
            }
            handle(message)
            pingWatchdogIfDue()
            if !stopping { scheduleTimer() }
        }
        timer?.task?.cancel()
        if clock is ContinuousClock { executor.setTimer(delayNs: nil) {} }
        hardwarePump.cancel()
        board.close()
        return 0
    }

    private func handle(_ message: RuntimeMessage) {
        let t = now()
        switch message {
        case .hardware(.input(let id, let active, let monotonicNs)):
            // The monotonic reading first: read after `now`, a millisecond boundary between the two would make the
            // change look one millisecond older than it is, and the debounce could end early.
            let current = Posix.monotonicNanos()
            let t = now(roundedUp: true)
            let changedAt = monotonicNs.map { changeTime(t, monotonicNs: $0, current: current) }
            carryOut(engine.inputChanged(id, active: active, changedAt: changedAt, now: t), now: t)
            feed.bump()
        case .hardware(.device(let id, let outcome)):
            carryOut(engine.deviceTransaction(id, outcome: outcome, now: t), now: t)
            if outcome == .ok, !unapplied.isEmpty { reapplyOutputs(of: id) }
        case .tick:
            if let retry = storageRetryAt, retry <= t { storageRetryAt = nil }  // this step retries; the next failure sets the next
            // A debounce that ends moves the feed (`inputs --watch`) even when no event records it: an input that no
            // zone uses settles silently.
            let commits = engine.inputCommits
            carryOut(engine.advance(to: t), now: t)
            if engine.inputCommits != commits { feed.bump() }
        case .signal(let number):
            Log.info("signal \(number): releasing every relay to its safe state and stopping")
            carryOut(engine.advance(to: t) + engine.shutdown(now: t), now: t, force: true)
            stopping = true
            // What is already queued is still answered (below); nothing new is taken.
            continuation.finish()
        case .control(let operation, let uid, let reply):
            control(operation, uid: uid, reply: reply, now: t)
        case .command(let request, let origin, let reply):
            submit(request, origin: origin, now: t, reply: reply)
        case .stateSnapshot(let reply):
            reply(stateSnapshot(now: t))
        }
    }

    /// A relay that someone asked for (a platform command or a technician) and whose output could not be switched
    /// on is released again at once, by the same origin: the request is answered `hardware_error`, so the relay must
    /// not switch on by itself later, when its device answers again (a gate opening hours after the app was told the
    /// command failed). Relays switched on by the agent itself (an alarm's siren, `power_on`) stay wanted on and are
    /// written again when the device answers, until their own deadline. Returns each release's effects.
    private func withdrawRequestedActivations(in effects: [Effect], failedOn: Set<String>, now t: Millis) -> [[Effect]] {
        var releases: [[Effect]] = []
        for case .record(.relayActivated, let data) in effects {
            guard let id = data["relay"]?.stringValue, let relay = site.config.relays.first(where: { $0.id == id }),
                  failedOn.contains(relay.output),
                  let source = data["source"]?.stringValue.flatMap(Source.init(rawValue:)), source == .command || source == .technician
            else { continue }
            Log.warning("relay \(id): its output could not be switched on; released again so that it does not come on later by itself")
            let ticket = nextTicket  // answered to nobody: the request that asked for the relay gets the answer
            nextTicket += 1
            releases.append(engine.submit(.relayDeactivate(relay: id), origin: Origin(source: source, commandID: data["command_id"]?.stringValue),
                                          ticket: ticket, now: t))
        }
        return releases
    }

    /// Writes again the outputs of `device` whose last write failed, now that it answers.
    private func reapplyOutputs(of device: String) {
        for (output, active) in unapplied where site.board.deviceID(ofOutput: output) == device {
            do {
                try board.setOutput(output, active: active)
                unapplied[output] = nil
                Log.info("output \(output) set \(active ? "on" : "off") now that \(device) answers again")
            } catch {
                // Still failing: tried again at the device's next good answer.
            }
        }
    }

    /// After SIGTERM: queued requests are answered, never executed (a platform command answered `busy` here was
    /// certainly not run, unlike one cut off by a crash).
    private func refuseWhileStopping(_ message: RuntimeMessage) {
        if Self.refuseStopped(message) { return }
        if case .stateSnapshot(let reply) = message { reply(stateSnapshot(now: now())) }
    }

    private func control(_ operation: ControlOperation, uid: UInt32?, reply: @escaping @Sendable (JSONObject) -> Void, now t: Millis) {
        switch operation {
        case .status:
            reply(["ok": true, "status": .object(statusReport(now: t))])
        case .inputs:
            reply(["ok": true, "inputs": .array(inputsReport(now: t))])
        case .request(let request):
            Log.info("uid \(uid.map(String.init) ?? "?") asks: \(describe(request))")
            submit(request, origin: .technician, now: t) { result in reply(["ok": true, "result": .object(result.json)]) }
        case .simInput(let id, let active):
            simulate("sim input \(id) \(active ? "active" : "inactive")", uid: uid, reply: reply) { (s: any SimulationControl) throws(HardwareError) in try s.setInput(id, active: active) }
        case .simDevice(let id, let online):
            simulate("sim device \(id) \(online ? "online" : "offline")", uid: uid, reply: reply) { (s: any SimulationControl) throws(HardwareError) in try s.setDevice(id, online: online) }
        }
    }

    /// A `sim` command: only on the simulated board; unknown names are usage errors (exit 2).
    private func simulate(_ what: String, uid: UInt32?, reply: @Sendable (JSONObject) -> Void,
                          _ body: (any SimulationControl) throws(HardwareError) -> Void) {
        guard let simulation else { return reply(notSimulated) }
        Log.info("uid \(uid.map(String.init) ?? "?") asks: \(what)")
        do {
            try body(simulation)
            reply(["ok": true])
        } catch { reply(failure("unknown_target", error.message, exit: 2)) }
    }

    private func submit(_ request: Request, origin: Origin, now t: Millis, reply: @escaping @Sendable (RequestResult) -> Void) {
        let ticket = nextTicket
        nextTicket += 1
        pending[ticket] = reply
        carryOut(engine.submit(request, origin: origin, ticket: ticket, now: t), now: t)
    }

    private var notSimulated: JSONObject {
        failure("not_simulated", "this agent drives real hardware; sim commands work only with an agent started with run --simulate", exit: 1)
    }

    /// Carries out effects: outputs now, events in one durable append, snapshot, then answers.
    private func carryOut(_ effects: [Effect], now t: Millis, force: Bool = false) {
        var completions: [(Ticket, RequestResult)] = []
        var hardwareFailure: String?
        var failedOn: Set<String> = []  // outputs that could not be switched on
        func apply(_ effects: [Effect]) {
            for effect in effects {
                switch effect {
                case .setOutput(let output, let active):
                    do {
                        try board.setOutput(output, active: active)
                        unapplied[output] = nil
                    } catch {
                        Log.error("output \(output): \(error); it is set \(active ? "on" : "off") when its device answers again")
                        unapplied[output] = active
                        hardwareFailure = error.description
                        if active { failedOn.insert(output) }
                    }
                case .record(let type, let data):
                    unrecorded.append(EventDraft(type: type.rawValue, occurredAt: t, data: data))
                case .complete(let ticket, let result):
                    completions.append((ticket, result))
                }
            }
        }
        apply(effects)
        let withdrawn = failedOn.isEmpty ? [] : withdrawRequestedActivations(in: effects, failedOn: failedOn, now: t)
        for release in withdrawn { apply(release) }
        if !effects.isEmpty || force { snapshotDirty = true }
        // A step's state is committed with its events: its snapshot goes to `.next` first, the append commits both,
        // then `.next` becomes the snapshot (SnapshotFile). Saved only after the append, a kill between the two would
        // bring the state back from before events already recorded and delivered (a `partition.armed` whose
        // partition restarts disarmed: Tools/faults/kill-test found 16 such cuts in 200).
        var savedAhead = false
        if !unrecorded.isEmpty && snapshotDirty {
            do {
                try snapshot.saveAhead(SnapshotDocument.encode(engine.persistedState, savedAt: t),
                                       throughSeq: journal.nextSeq + Int64(unrecorded.count) - 1)
                savedAhead = true
            } catch {
                // The events go on all the same (an alarm before a snapshot); the snapshot is retried below.
                noteSnapshotTrouble(error)
            }
        }
        if !unrecorded.isEmpty {
            do {
                let events = try journal.append(unrecorded)
                unrecorded.removeAll()
                if savedAhead {
                    do {
                        try snapshot.commitAhead()
                        snapshotDirty = false
                        snapshotSaved()
                    } catch {
                        noteSnapshotTrouble(error)
                    }
                }
                if let trouble = journalTrouble {
                    Log.info("the journal takes writes again: \(events.count) event(s) recorded, kept in memory since \(Timestamp.rfc3339(trouble.since))")
                    journalTrouble = nil
                }
                for event in events { Log.info(EventLine.format(event)) }
                feed.bump()
                uplink?.eventsRecorded()
            } catch {
                // Kept in memory and retried with the next step: an event is never dropped for a full disk. Logged
                // when the trouble starts or changes, not at every retry (a chattering input would flood the log).
                if Self.note(&journalTrouble, error.description, at: t) {
                    Log.error("cannot record \(unrecorded.count) event(s), will retry: \(error)")
                }
            }
        }
        // A step without events (a deadline moved): the snapshot alone. While events wait for the disk, the snapshot
        // waits with them (saved ahead of them once they can be appended): the state restored after a crash never
        // runs ahead of the journal either.
        if snapshotDirty && unrecorded.isEmpty {
            do {
                try snapshot.save(SnapshotDocument.encode(engine.persistedState, savedAt: t))
                snapshotDirty = false
                snapshotSaved()
            } catch {
                noteSnapshotTrouble(error)
            }
        }
        // A request is answered only once the events it caused are durable: while an append is failing,
        // answers wait with the events and go out after the retried append succeeds.
        heldCompletions += completions
        guard unrecorded.isEmpty else { return }
        let ready = heldCompletions
        heldCompletions.removeAll()
        for (ticket, result) in ready {
            var result = result
            if let hardwareFailure, result.status == .succeeded {
                var failed = RequestResult.failed("hardware_error", hardwareFailure + (withdrawn.isEmpty
                    ? "; the output is set as recorded when its device answers again"
                    : "; the relay was released again: it does not switch on when the device answers"))
                // protocol.md: `state` holds the target's state after the command, a failed one too. A relay's is
                // read again, for the release above changed it.
                if let relay = result.state?["id"]?.stringValue, result.state?["output"] != nil {
                    failed.state = engine.relayEntry(relay)
                } else {
                    failed.state = result.state
                }
                result = failed
            }
            pending.removeValue(forKey: ticket)?(result)
        }
    }

    private func snapshotSaved() {
        if snapshotTrouble != nil { Log.info("the state snapshot is saved again") }
        snapshotTrouble = nil
    }

    /// Logged when the trouble starts or changes, not at every retry.
    private func noteSnapshotTrouble(_ error: any Error) {
        if Self.note(&snapshotTrouble, "\(error)", at: now()) { Log.error("cannot save the state snapshot, will retry: \(error)") }
    }

    /// Keeps a failed write in `trouble` (its error, and since when it has failed); true when that is news to log:
    /// the trouble starts or its error changes.
    private static func note(_ trouble: inout (problem: String, since: Millis)?, _ problem: String, at t: Millis) -> Bool {
        defer { trouble = (problem, trouble?.since ?? t) }
        return trouble?.problem != problem
    }

    /// The longest the loop's timer is set for (`scheduleTimer`).
    static var longestTimerMs: Millis { 3_600_000 }

    /// Pings the watchdog when an interval has passed since the last ping. Called by the loop after every message
    /// it handles; `scheduleTimer` wakes the loop for the next ping when nothing else does.
    private func pingWatchdogIfDue() {
        guard let watchdog else { return }
        let t = now()
        guard lastWatchdogPing == .min || t - lastWatchdogPing >= watchdog.intervalMs else { return }
        lastWatchdogPing = t
        watchdog.ping()
    }

    private func scheduleTimer() {
        // The engine's next deadline always counts (a pulse's end, max_on, a delay), also while a write waits to be
        // retried: a retry set at "a second from now" at every message would be put off for ever by a busy loop
        // (status polled, an input chattering), and the deadlines with it.
        var wanted = engine.nextDeadline
        if !unrecorded.isEmpty || snapshotDirty {
            if storageRetryAt == nil { storageRetryAt = now() + 1000 }
            wanted = min(wanted ?? .max, storageRetryAt!)
        } else {
            storageRetryAt = nil
        }
        if let watchdog, lastWatchdogPing != .min {
            wanted = min(wanted ?? .max, lastWatchdogPing + watchdog.intervalMs)
        }
        if let deadline = wanted {
            // The loop wakes at least hourly: a deadline centuries away (a damaged or hostile snapshot) re-arms at
            // each wake instead of overflowing the timer's nanoseconds; one in the past is due now.
            let t = now()
            wanted = min(max(deadline, t), t + Self.longestTimerMs)
        }
        if let timer, timer.deadline == wanted { return }
        timer?.task?.cancel()
        timer = nil
        guard let wanted else {
            if clock is ContinuousClock { executor.setTimer(delayNs: nil) {} }
            return
        }
        let instant = monoAnchor.advanced(by: .milliseconds(wanted - wallAnchor))
        if clock is ContinuousClock {
            // The real clock: the executor's own timed wait, on the loop's thread (no hop through a timer thread).
            let delay = clock.now.duration(to: instant)
            let ns = delay <= .zero ? 0 : UInt64(delay.components.seconds) * 1_000_000_000 + UInt64(delay.components.attoseconds / 1_000_000_000)
            executor.setTimer(delayNs: ns) { [continuation] in continuation.yield(.tick) }
            timer = (wanted, nil)
            return
        }
        // Any other clock (a manual clock in tests): sleep on it.
        let task = Task(executorPreference: executor) { [clock, continuation] in
            do { try await clock.sleep(until: instant, tolerance: .zero) } catch { return }
            continuation.yield(.tick)
        }
        timer = (wanted, task)
    }

    // MARK: Reports

    func statusReport(now t: Millis) -> JSONObject {
        var report = engine.stateReport(now: t)
        let stats = journal.stats
        report["agent"] = [
            "version": .string(AgentVersion.string), "started_at": .string(Timestamp.rfc3339(wallAnchor)),
            "uptime_s": .int((t - wallAnchor) / 1000), "simulated": .bool(options.simulated),
        ]
        report["clock_offset_ms"] = .int(uplink?.clockOffsetMs ?? 0)
        report["outbox"] = [
            "pending": .int(Int64(stats.pending + (uplink?.pendingResults ?? 0))),
            "oldest_age_s": .int(stats.oldestPendingAt.map { max(0, (t - $0) / 1000) } ?? 0),
            "dead_lettered": .int(Int64(uplink?.deadLettered ?? 0)),
            "dropped": .int(Int64(stats.dropped)),
            "last_seq": .int(journal.lastSeq),
        ]
        report["upstream"] = .object(uplink?.report() ?? ["mode": "local", "connected": false])
        var storage: JSONObject = ["ok": .bool(journalTrouble == nil && snapshotTrouble == nil)]
        if let trouble = journalTrouble {
            storage["journal_problem"] = .string(trouble.problem)
            storage["journal_problem_since"] = .string(Timestamp.rfc3339(trouble.since))
            storage["unrecorded_events"] = .int(Int64(unrecorded.count))
        }
        if let trouble = snapshotTrouble {
            storage["snapshot_problem"] = .string(trouble.problem)
            storage["snapshot_problem_since"] = .string(Timestamp.rfc3339(trouble.since))
        }
        report["storage"] = .object(storage)
        report["bridge"] = [
            "id": .string(site.config.bridge.id), "board": .string(site.board.name),
            "config": .string(options.configPath), "state_dir": .string(options.stateDir),
        ]
        report["inputs"] = .array(inputsReport(now: t))
        // What the backend knows of each device beyond online/offline (a Modbus device's counters, last error and
        // round-trip time), under the device's entry: status only, not the platform's snapshot.
        let diagnostics = board.diagnostics()
        if !diagnostics.isEmpty, case .array(let devices)? = report["devices"] {
            report["devices"] = .array(devices.map { entry in
                guard case .object(var device) = entry, case .string(let id)? = device["id"], let extra = diagnostics[id] else { return entry }
                device["diagnostics"] = .object(extra)
                return .object(device)
            })
        }
        // `applied`: false while the wanted level of the relay's output waits for its device to answer.
        if case .array(let relays)? = report["relays"] {
            report["relays"] = .array(relays.map { entry in
                guard case .object(var relay) = entry, case .string(let output)? = relay["output"] else { return entry }
                relay["applied"] = .bool(unapplied[output] == nil)
                return .object(relay)
            })
        }
        return report
    }

    /// protocol.md's state snapshot (`PUT /state`): the status report without its local-only parts.
    func stateSnapshot(now t: Millis) -> JSONObject {
        var report = statusReport(now: t)
        for localOnly in ["inputs", "bridge", "upstream", "storage"] { report.removeValue(forKey: localOnly) }
        return report
    }

    func inputsReport(now t: Millis) -> [JSONValue] {
        engine.inputReport(now: t).map { i in
            var o: JSONObject = ["id": .string(i.id), "active": i.active.map(JSONValue.bool) ?? .null,
                                 "raw": i.raw.map(JSONValue.bool) ?? .null,
                                 "last_change": i.lastChange.map { .string(Timestamp.rfc3339($0)) } ?? .null]
            if let zone = i.zone { o["zone"] = .string(zone) }
            return .object(o)
        }
    }

    private func describe(_ request: Request) -> String {
        switch request {
        case .arm(let p, let mode, let force): return "arm \(p) \(mode.rawValue)\(force ? " --force" : "")"
        case .disarm(let p): return "disarm \(p)"
        case .bypass(let z): return "bypass \(z)"
        case .unbypass(let z): return "unbypass \(z)"
        case .relayActivate(let r, let ms): return "relay on \(r)" + (ms.map { " for \($0) ms" } ?? "")
        case .relayPulse(let r, let ms): return "relay pulse \(r)" + (ms.map { " \($0) ms" } ?? "")
        case .relayDeactivate(let r): return "relay off \(r)"
        }
    }
}

/// A failed control reply: `code`, words for the technician, and the exit code the CLI should give.
func failure(_ code: String, _ message: String, exit: Int) -> JSONObject {
    ["ok": false, "code": .string(code), "message": .string(message), "exit": .int(Int64(exit))]
}

/// Alarm ids: `alm_` and 16 random hex digits.
enum AlarmID {
    static func make() -> String {
        var g = SystemRandomNumberGenerator()
        let n = g.next() as UInt64
        let hex = String(n, radix: 16)
        return "alm_" + String(repeating: "0", count: 16 - hex.count) + hex
    }
}

extension Runtime: UplinkHost {
    public func execute(_ request: Request, origin: Origin, completion: @escaping @Sendable (RequestResult) -> Void) {
        post(.command(request, origin, reply: completion))
    }

    public func stateSnapshot(completion: @escaping @Sendable (JSONObject) -> Void) {
        post(.stateSnapshot(reply: completion))
    }
}
