/// The domain state machine of behaviour.md: debounce, zones, partitions,
/// keyswitches, relays, devices, start-up settling.
///
/// Pure: no I/O, no threads, no clock. Time comes in as `now` (`Millis`, the
/// agent's monotonic-anchored epoch time) on every call; the engine keeps
/// its own deadlines and says when it next needs to run (`nextDeadline`).
/// Every call returns the effects to carry out, in order. Not thread-safe:
/// one owner drives it (the agent's runtime loop).
public struct Engine: Sendable {
    public let site: Site

    /// - Parameters:
    ///   - restored: the state saved by an earlier run, nil on the very first start.
    ///   - makeAlarmID: makes a unique alarm id (`alm_...`); injected so tests are deterministic.
    public init(site: Site, restored: PersistedState?, makeAlarmID: @escaping @Sendable () -> String) {
        self.site = site
        _ = restored
        _ = makeAlarmID
    }

    /// The level every board output must be requested at, before `start`:
    /// from `power_on`, the restored state and its deadlines (a relay whose
    /// deadline has passed comes up released). Every board output has an entry.
    public func initialOutputs(now: Millis) -> [String: Bool] { [:] }

    /// Starts the engine with the first reading of every board input
    /// (`nil`: unreadable, its device is offline). Zones are evaluated once
    /// inputs have settled for one debounce period.
    public mutating func start(levels: [String: Bool?], now: Millis) -> [Effect] { [] }

    /// A raw (not yet debounced) input level change.
    public mutating func inputChanged(_ input: String, active: Bool, now: Millis) -> [Effect] { [] }

    /// One transaction with a supervised device (a Modbus device, or a GPIO chip by its id).
    public mutating func deviceTransaction(_ device: String, outcome: DeviceOutcome, now: Millis) -> [Effect] { [] }

    /// A request from the platform, the CLI or a rule. The `complete` effect for
    /// `ticket` comes in the returned effects, or later for keyswitch partitions.
    public mutating func submit(_ request: Request, origin: Origin, ticket: Ticket, now: Millis) -> [Effect] { [] }

    /// Runs every deadline that is due at `now`.
    public mutating func advance(to now: Millis) -> [Effect] { [] }

    /// The earliest pending deadline, nil when none.
    public var nextDeadline: Millis? { nil }

    /// Every relay to its safe state, each with `relay.deactivated` reason `shutdown`.
    public mutating func shutdown(now: Millis) -> [Effect] { [] }

    /// What must survive a restart: partitions, bypasses, relays and their deadlines, zone and device states.
    public var persistedState: PersistedState { PersistedState() }

    /// What was restored at start, for `bridge.started`'s `restored` field.
    public var restoredSummary: JSONValue { .object([:]) }

    /// protocol.md's state snapshot parts: `partitions`, `zones`, `relays`, `devices`
    /// (same keys and shapes), plus local-only fields.
    public func stateReport(now: Millis) -> JSONObject { [:] }

    /// Every board input: its debounced and raw level and last change.
    public func inputReport(now: Millis) -> [InputStatus] { [] }
}

/// One board input as `status` and `inputs` show it.
public struct InputStatus: Sendable, Equatable {
    public var id: String
    /// Debounced level; nil while unreadable (device offline) or not yet settled.
    public var active: Bool?
    public var raw: Bool?
    public var lastChange: Millis?
    /// The zone using this input, if any.
    public var zone: String?
    public init(id: String, active: Bool?, raw: Bool?, lastChange: Millis?, zone: String?) {
        self.id = id; self.active = active; self.raw = raw; self.lastChange = lastChange; self.zone = zone
    }
}

/// The engine's durable state, saved as the snapshot (JSON).
public struct PersistedState: Sendable, Equatable, Codable {
    public init() {}
}
