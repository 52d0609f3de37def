/// The engine's durable state, saved as the snapshot (JSON, snake_case keys).
///
/// Small on purpose: only what differs from a fresh start is kept (zones that
/// are faulted, bypassed or have counted alarms; relays that are on; devices
/// seen at least once). Deadlines are epoch milliseconds, the same base as
/// `now`, so they keep their meaning across a restart. A snapshot written by a
/// newer agent (`version` above `currentVersion`) does not decode: the agent
/// must say so rather than guess at its meaning.
public struct PersistedState: Sendable, Equatable, Codable {
    /// The snapshot format this agent writes and reads.
    public static let currentVersion = 1

    public var version: Int
    public var partitions: [String: Partition]
    public var zones: [String: Zone]
    public var relays: [String: Relay]
    public var devices: [String: Device]
    /// Written by a clean stop (SIGTERM/SIGINT), after the relays went to their safe states and their
    /// `relay.deactivated` were recorded; `relays` still holds them as they were before (for `power_on: restore`).
    /// False after `kill -9` or a power cut: the last snapshot is then one taken while running.
    public var stoppedCleanly = false

    /// An empty snapshot: everything disarmed, off, normal and never seen.
    public init() {
        self.init(partitions: [:], zones: [:], relays: [:], devices: [:])
    }

    public init(partitions: [String: Partition], zones: [String: Zone], relays: [String: Relay], devices: [String: Device]) {
        self.version = Self.currentVersion
        self.partitions = partitions; self.zones = zones; self.relays = relays; self.devices = devices
    }

    /// One partition's arming state and its running delays.
    public struct Partition: Sendable, Equatable, Codable {
        public var state: PartitionStatus
        public var mode: ArmMode?
        public var exitEndsAt: Millis?
        public var entryEndsAt: Millis?
        /// The zones waiting on the entry delay: the one that started it first, then followers in fault order.
        public var entryZones: [String]?
        /// Who started the exit delay, for `partition.armed` when it ends.
        public var armSource: Source?
        public var armCommandID: String?

        public init(state: PartitionStatus, mode: ArmMode? = nil, exitEndsAt: Millis? = nil, entryEndsAt: Millis? = nil,
                    entryZones: [String]? = nil, armSource: Source? = nil, armCommandID: String? = nil) {
            self.state = state; self.mode = mode; self.exitEndsAt = exitEndsAt; self.entryEndsAt = entryEndsAt
            self.entryZones = entryZones; self.armSource = armSource; self.armCommandID = armCommandID
        }

        enum CodingKeys: String, CodingKey {
            case state, mode, exitEndsAt = "exit_ends_at", entryEndsAt = "entry_ends_at", entryZones = "entry_zones"
            case armSource = "arm_source", armCommandID = "arm_command_id"
        }
    }

    /// One zone's last reported state (before any trouble), its bypass and its alarm count in this arming period.
    public struct Zone: Sendable, Equatable, Codable {
        public var faulted: Bool
        public var bypassed: Bool
        /// Alarms raised in the current arming period (swinger shutdown); omitted when 0.
        public var alarms: Int?

        public init(faulted: Bool, bypassed: Bool, alarms: Int? = nil) {
            self.faulted = faulted; self.bypassed = bypassed; self.alarms = alarms
        }
    }

    /// A relay that was on, with its release deadlines (a relay absent from the snapshot was off).
    public struct Relay: Sendable, Equatable, Codable {
        /// When the current pulse ends; nil for a latch.
        public var pulseUntil: Millis?
        /// When `max_on_ms` releases it, counted from when it came on; nil when the relay has no `max_on_ms`.
        public var maxOnUntil: Millis?

        public init(pulseUntil: Millis? = nil, maxOnUntil: Millis? = nil) {
            self.pulseUntil = pulseUntil; self.maxOnUntil = maxOnUntil
        }

        enum CodingKeys: String, CodingKey { case pulseUntil = "pulse_until", maxOnUntil = "max_on_until" }
    }

    /// A supervised device as last known, so that a restart does not announce it again.
    public struct Device: Sendable, Equatable, Codable {
        public var online: Bool
        public var lastSeen: Millis?

        public init(online: Bool, lastSeen: Millis?) { self.online = online; self.lastSeen = lastSeen }

        enum CodingKeys: String, CodingKey { case online, lastSeen = "last_seen" }
    }

    enum CodingKeys: String, CodingKey { case version, partitions, zones, relays, devices, stoppedCleanly = "stopped_cleanly" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let version = try c.decode(Int.self, forKey: .version)
        guard (1...Self.currentVersion).contains(version) else {
            throw DecodingError.dataCorruptedError(
                forKey: .version, in: c,
                debugDescription: "snapshot version \(version) is not one this agent reads (it reads 1...\(Self.currentVersion)); "
                    + "it was written by a different agent version: install that version or move the snapshot away")
        }
        self.version = version
        partitions = try c.decodeIfPresent([String: Partition].self, forKey: .partitions) ?? [:]
        zones = try c.decodeIfPresent([String: Zone].self, forKey: .zones) ?? [:]
        relays = try c.decodeIfPresent([String: Relay].self, forKey: .relays) ?? [:]
        devices = try c.decodeIfPresent([String: Device].self, forKey: .devices) ?? [:]
        stoppedCleanly = try c.decodeIfPresent(Bool.self, forKey: .stoppedCleanly) ?? false
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(version, forKey: .version)
        try c.encode(partitions, forKey: .partitions)
        try c.encode(zones, forKey: .zones)
        try c.encode(relays, forKey: .relays)
        try c.encode(devices, forKey: .devices)
        if stoppedCleanly { try c.encode(true, forKey: .stoppedCleanly) }
    }
}

/// A partition's state as protocol.md names it.
public enum PartitionStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case disarmed, arming
    case armedAway = "armed_away"
    case armedStay = "armed_stay"
    /// Armed, with an active alarm.
    case alarm

    /// Armed in some mode (with or without an alarm); `arming` is not armed yet.
    public var isArmed: Bool { self == .armedAway || self == .armedStay || self == .alarm }

    static func armed(_ mode: ArmMode) -> PartitionStatus { mode == .away ? .armedAway : .armedStay }
}
