/// The domain state machine of behaviour.md: debounce, zones, partitions,
/// keyswitches, relays, devices, start-up settling.
///
/// Pure: no I/O, no threads, no clock. Time comes in as `now` (`Millis`, the
/// agent's monotonic-anchored epoch time) on every call; the engine keeps
/// its own deadlines and says when it next needs to run (`nextDeadline`).
/// Every call returns the effects to carry out, in order. Not thread-safe:
/// one owner drives it (the agent's runtime loop).
///
/// Lifecycle: `init` (with the saved snapshot), `initialOutputs` (to request
/// the outputs), `start` (first input reading), then any of `inputChanged`,
/// `deviceTransaction`, `submit` and `advance` (whenever `nextDeadline` is
/// reached), and finally `shutdown`. docs/behaviour-decisions.md says what
/// the engine does where behaviour.md is silent.
public struct Engine: Sendable {
    public let site: Site

    let catalog: SiteCatalog
    let makeAlarmID: @Sendable () -> String
    let restored: PersistedState?

    var inputs: [String: InputRuntime] = [:]
    var zones: [String: ZoneRuntime] = [:]
    var partitions: [String: PartitionRuntime] = [:]
    var relays: [String: RelayRuntime] = [:]
    var devices: [String: DeviceRuntime] = [:]

    var started = false
    var startedAt: Millis = .min
    /// The latest time deadlines have been run up to: what the engine has already handled. A timestamped input
    /// change earlier than that is taken as happening then, so that time never runs backwards in the engine.
    var ranUpTo: Millis = .min
    /// True once every input has settled after start: zones are evaluated from then on.
    var settled = false
    /// Counts the debounced levels committed (`commit`): what `inputReport` shows changed when it moves, whether or
    /// not an event records it (an input no zone uses settles silently).
    public internal(set) var inputCommits: UInt64 = 0
    var stopped = false
    /// The relays as they were when `shutdown` began: what `power_on: restore` brings back.
    var relaysBeforeShutdown: [String: RelayRuntime]?
    var summaryRelaysOn: [String] = []

    /// Effects of the call in progress.
    var out: [Effect] = []

    /// - Parameters:
    ///   - restored: the state saved by an earlier run, nil on the very first start.
    ///   - makeAlarmID: makes a unique alarm id (`alm_...`); injected so tests are deterministic.
    public init(site: Site, restored: PersistedState?, makeAlarmID: @escaping @Sendable () -> String) {
        self.site = site
        self.catalog = SiteCatalog(site: site)
        self.makeAlarmID = makeAlarmID
        self.restored = restored
        restore(restored)
    }

    /// The level every board output must be requested at, before `start`:
    /// from `power_on`, the restored state and its deadlines (a relay whose
    /// deadline has passed comes up released). Every board output has an entry.
    public func initialOutputs(now: Millis) -> [String: Bool] {
        var levels = Dictionary(uniqueKeysWithValues: catalog.outputOrder.map { ($0, false) })
        for step in startupRelayPlan(now: now) where step.state.on {
            if let output = catalog.relays[step.relay]?.output { levels[output] = true }
        }
        return levels
    }

    /// Starts the engine with the first reading of every board input
    /// (`nil`: unreadable, its device is offline). Zones are evaluated once
    /// inputs have settled for one debounce period.
    ///
    /// Relay events of the start-up (power_on `on`, deadlines that passed while
    /// stopped) come with a `.setOutput` that repeats what `initialOutputs` set.
    public mutating func start(levels: [String: Bool?], now: Millis) -> [Effect] {
        guard !started, !stopped else { return [] }
        started = true
        startedAt = now
        beginStart(levels: levels, now: now)
        return take()
    }

    /// A raw (not yet debounced) input level change. `changedAt` is when it happened where the hardware says
    /// (a GPIO edge's kernel timestamp, read late when the loop was busy): the debounce runs from then, and what
    /// was due only after then waits for the next `advance`, so a change that was reversed within the debounce
    /// period is still cancelled by the reversal queued behind it. Clamped to `now` and to what the engine has
    /// already handled (never before the start).
    public mutating func inputChanged(_ input: String, active: Bool, changedAt: Millis? = nil, now: Millis) -> [Effect] {
        guard !stopped else { return [] }
        let at = max(min(changedAt ?? now, now), startedAt, ranUpTo)
        runDue(upTo: at)
        rawChanged(input, level: active, at: at)
        return take()
    }

    /// One transaction with a supervised device (a Modbus device, or a GPIO chip by its id).
    public mutating func deviceTransaction(_ device: String, outcome: DeviceOutcome, now: Millis) -> [Effect] {
        guard !stopped else { return [] }
        runDue(upTo: now)
        deviceOutcome(device, outcome, at: now)
        return take()
    }

    /// A request from the platform, the CLI or a rule. The `complete` effect for
    /// `ticket` comes in the returned effects, or later for keyswitch partitions
    /// and relays waiting for an interlock gap.
    public mutating func submit(_ request: Request, origin: Origin, ticket: Ticket, now: Millis) -> [Effect] {
        guard !stopped else {
            return [.complete(ticket, .failed("busy", "the agent is stopping"))]
        }
        runDue(upTo: now)
        switch request {
        case .arm(let partition, let mode, let force):
            submitArm(partition, mode: mode, force: force, origin: origin, ticket: ticket, at: now)
        case .disarm(let partition):
            submitDisarm(partition, origin: origin, ticket: ticket, at: now)
        case .bypass(let zone):
            submitBypass(zone, bypass: true, origin: origin, ticket: ticket)
        case .unbypass(let zone):
            submitBypass(zone, bypass: false, origin: origin, ticket: ticket)
        case .relayActivate(let relay, let durationMs):
            submitRelayActivate(relay, durationMs: durationMs, pulseOnly: false, origin: origin, ticket: ticket, at: now)
        case .relayPulse(let relay, let durationMs):
            submitRelayActivate(relay, durationMs: durationMs, pulseOnly: true, origin: origin, ticket: ticket, at: now)
        case .relayDeactivate(let relay):
            submitRelayDeactivate(relay, origin: origin, ticket: ticket, at: now)
        }
        return take()
    }

    /// Runs every deadline that is due at `now`, in deadline order.
    public mutating func advance(to now: Millis) -> [Effect] {
        guard started, !stopped else { return [] }
        runDue(upTo: now)
        return take()
    }

    /// The earliest pending deadline, nil when none (and before `start`, after `shutdown`).
    public var nextDeadline: Millis? {
        guard started, !stopped else { return nil }
        return earliestDue()?.at
    }

    /// Every relay to its safe state, each with `relay.deactivated` reason `shutdown`
    /// (or `relay.activated` source `rule` for a `safe_state: on` relay that was off).
    ///
    /// Requests still waiting (keyswitch confirmation, interlock gap) complete
    /// `failed`. After this the engine does nothing more; `persistedState`
    /// keeps the relays as they were before, for `power_on: restore`.
    public mutating func shutdown(now: Millis) -> [Effect] {
        guard !stopped else { return [] }
        runDue(upTo: now)
        shutDown(at: now)
        stopped = true
        return take()
    }

    /// What must survive a restart: partitions, bypasses, relays and their deadlines, zone and device states.
    public var persistedState: PersistedState { snapshot() }

    /// What was restored at start, for `bridge.started`'s `restored` field:
    /// `{"snapshot": false}`, or the partitions' states, the relays that came back on from
    /// the snapshot (`relays_on`) and the bypassed zones. Read before `start` it may still
    /// list a relay whose saved deadline passes at start.
    public var restoredSummary: JSONValue { summary() }

    /// protocol.md's state snapshot parts: `partitions`, `zones`, `relays`, `devices`
    /// (same keys and shapes), plus local-only fields (`mode`, `exit_ends_at`,
    /// `entry_ends_at`, `type`, `input`, `trouble`, `output`, `kind`, `address`).
    public func stateReport(now: Millis) -> JSONObject { report() }

    /// Every board input, in board order: its debounced and raw level and last change.
    public func inputReport(now: Millis) -> [InputStatus] { reportInputs() }

    /// Hands the effects of this call to the caller.
    mutating func take() -> [Effect] {
        defer { out = [] }
        return out
    }

    mutating func record(_ type: EventType, _ data: JSONObject) { out.append(.record(type, data)) }
}

/// One board input as `status` and `inputs` show it.
public struct InputStatus: Sendable, Equatable {
    public var id: String
    /// Debounced level; nil while unreadable (device offline) or not yet settled.
    public var active: Bool?
    public var raw: Bool?
    /// When the debounced level last changed.
    public var lastChange: Millis?
    /// The zone using this input, if any.
    public var zone: String?
    public init(id: String, active: Bool?, raw: Bool?, lastChange: Millis?, zone: String?) {
        self.id = id; self.active = active; self.raw = raw; self.lastChange = lastChange; self.zone = zone
    }
}

extension Origin {
    /// protocol.md's `source` and optional `command_id`, for event data.
    var eventFields: JSONObject {
        var data: JSONObject = ["source": .string(source.rawValue)]
        if let commandID { data["command_id"] = .string(commandID) }
        return data
    }

    /// The release reason of a relay switched off by this origin.
    var releaseReason: ReleaseReason { source == .command ? .command : .technician }
}
