/// How one site uses its board (config.md, "Site config"), validated.
public struct SiteConfig: Sendable, Equatable {
    public var bridge: Bridge
    public var upstream: Upstream?          // nil: local mode
    public var outbox: Outbox
    public var partitions: [Partition]
    public var zones: [Zone]
    public var relays: [Relay]

    public init(bridge: Bridge, upstream: Upstream? = nil, outbox: Outbox = Outbox(), partitions: [Partition] = [],
                zones: [Zone] = [], relays: [Relay] = []) {
        self.bridge = bridge; self.upstream = upstream; self.outbox = outbox
        self.partitions = partitions; self.zones = zones; self.relays = relays
    }

    public struct Bridge: Sendable, Equatable {
        public var id: String
        /// The board path as written in the file.
        public var board: String
        public var stateDir: String         // default "/var/lib/chekt-bridge"
        public init(id: String, board: String, stateDir: String = "/var/lib/chekt-bridge") {
            self.id = id; self.board = board; self.stateDir = stateDir
        }
    }

    public struct Upstream: Sendable, Equatable {
        public var url: String
        public var credentials: String
        public var heartbeatS: Int          // default 60, 5...3600
        public var caFile: String?
        public init(url: String, credentials: String, heartbeatS: Int = 60, caFile: String? = nil) {
            self.url = url; self.credentials = credentials; self.heartbeatS = heartbeatS; self.caFile = caFile
        }
    }

    public struct Outbox: Sendable, Equatable {
        public var maxMB: Int               // default 64, 1...4096
        public init(maxMB: Int = 64) { self.maxMB = maxMB }
    }

    public struct Partition: Sendable, Equatable {
        public var id: String
        public var exitDelayS: Int          // default 30, 0...600
        public var entryDelayS: Int         // default 30, 0...600
        public var remoteExitDelayS: Int    // default 0, 0...600
        public var siren: Siren?
        public var keyswitch: Keyswitch?
        public init(id: String, exitDelayS: Int = 30, entryDelayS: Int = 30, remoteExitDelayS: Int = 0,
                    siren: Siren? = nil, keyswitch: Keyswitch? = nil) {
            self.id = id; self.exitDelayS = exitDelayS; self.entryDelayS = entryDelayS
            self.remoteExitDelayS = remoteExitDelayS; self.siren = siren; self.keyswitch = keyswitch
        }
    }

    public struct Siren: Sendable, Equatable {
        public var relay: String            // a relay id
        public var timeoutS: Int            // default 240, 1...3600
        public init(relay: String, timeoutS: Int = 240) { self.relay = relay; self.timeoutS = timeoutS }
    }

    /// Drives an existing alarm panel's keyswitch input instead of arming in software.
    public struct Keyswitch: Sendable, Equatable {
        public var relay: String            // a relay id
        /// true: relay held on while armed; false: pulsed to toggle.
        public var hold: Bool               // default false
        public var pulseMs: Int             // default 1000, 50...60_000
        /// The board input that follows the panel's armed status.
        public var armedInput: String
        public var confirmTimeoutS: Int     // default 10, 1...300
        public init(relay: String, hold: Bool = false, pulseMs: Int = 1000, armedInput: String, confirmTimeoutS: Int = 10) {
            self.relay = relay; self.hold = hold; self.pulseMs = pulseMs; self.armedInput = armedInput
            self.confirmTimeoutS = confirmTimeoutS
        }
    }

    public enum ZoneType: String, Sendable, Equatable, CaseIterable {
        case instant, entryExit = "entry_exit", interior, twentyFourHour = "24h", fire, panic, monitor

        /// behaviour.md's table: 24-hour, fire and panic zones are not bypassable unless configured so.
        public var bypassableByDefault: Bool {
            switch self {
            case .twentyFourHour, .fire, .panic: return false
            default: return true
            }
        }
    }

    public struct Zone: Sendable, Equatable {
        public var id: String
        public var input: String            // a board input id
        public var partition: String        // a partition id
        public var type: ZoneType
        public var bypassable: Bool         // default type.bypassableByDefault
        public var swingerLimit: Int        // default 3, 1...100
        public init(id: String, input: String, partition: String, type: ZoneType, bypassable: Bool? = nil, swingerLimit: Int = 3) {
            self.id = id; self.input = input; self.partition = partition; self.type = type
            self.bypassable = bypassable ?? type.bypassableByDefault; self.swingerLimit = swingerLimit
        }
    }

    public enum RelayMode: String, Sendable, Equatable, CaseIterable { case latch, pulse }
    public enum PowerOn: String, Sendable, Equatable, CaseIterable { case off, on, restore }
    public enum SafeState: String, Sendable, Equatable, CaseIterable { case off, on }

    public struct Relay: Sendable, Equatable {
        public var id: String
        public var output: String           // a board output id
        public var mode: RelayMode          // default .latch
        public var pulseMs: Int?            // required for mode pulse; 10...3_600_000
        public var maxOnMs: Int?            // 10...86_400_000; nil: unbounded
        public var powerOn: PowerOn         // default .off
        public var safeState: SafeState     // default .off
        public var interlock: String?       // group name
        public var interlockGapMs: Int      // default 0, 0...10_000
        public init(id: String, output: String, mode: RelayMode = .latch, pulseMs: Int? = nil, maxOnMs: Int? = nil,
                    powerOn: PowerOn = .off, safeState: SafeState = .off, interlock: String? = nil, interlockGapMs: Int = 0) {
            self.id = id; self.output = output; self.mode = mode; self.pulseMs = pulseMs; self.maxOnMs = maxOnMs
            self.powerOn = powerOn; self.safeState = safeState; self.interlock = interlock; self.interlockGapMs = interlockGapMs
        }
    }
}

extension SiteConfig {
    public func partition(_ id: String) -> Partition? { partitions.first { $0.id == id } }
    public func zone(_ id: String) -> Zone? { zones.first { $0.id == id } }
    public func relay(_ id: String) -> Relay? { relays.first { $0.id == id } }
}

/// A site config together with the board it names: what the agent runs.
public struct Site: Sendable, Equatable {
    public var config: SiteConfig
    public var board: BoardProfile
    /// The board file actually loaded (after resolving the relative path).
    public var boardPath: String
    public init(config: SiteConfig, board: BoardProfile, boardPath: String) {
        self.config = config; self.board = board; self.boardPath = boardPath
    }
}
