/// Something asked of the core: from the platform (a command), the local CLI, or a rule.
public enum Request: Sendable, Equatable {
    case arm(partition: String, mode: ArmMode, force: Bool)
    case disarm(partition: String)
    case bypass(zone: String)
    case unbypass(zone: String)
    /// protocol.md `relay.activate`: a pulse when `durationMs` is given or the
    /// relay's mode is `pulse` (for `pulse_ms`), else latched on. Bounded by `max_on_ms`.
    case relayActivate(relay: String, durationMs: Int?)
    /// CLI `relay pulse`: a pulse of `durationMs`, else the relay's `pulse_ms`, else 1000 ms.
    case relayPulse(relay: String, durationMs: Int?)
    case relayDeactivate(relay: String)
}

public enum ArmMode: String, Sendable, Hashable, Codable, CaseIterable { case away, stay }

/// Who asked: `source` goes into the events a request causes, with `commandID` when from the platform.
public struct Origin: Sendable, Hashable {
    public var source: Source
    public var commandID: String?
    public init(source: Source, commandID: String? = nil) { self.source = source; self.commandID = commandID }
    public static let technician = Origin(source: .technician)
}

/// The caller's handle for a request, echoed in the `complete` effect (which may come later: keyswitch confirmation).
public typealias Ticket = UInt64

/// The outcome of a request, in protocol.md's terms (`status`, `code`, `message`).
public struct RequestResult: Sendable, Equatable {
    public enum Status: String, Sendable, Codable { case succeeded, failed, rejected, expired }
    public var status: Status
    public var code: String?
    public var message: String?
    /// For `zones_not_ready`: the zones that are not ready.
    public var zones: [String]?
    /// The target's state after the request (a partition, zone or relay entry of the state report).
    public var state: JSONValue?

    public init(status: Status, code: String? = nil, message: String? = nil, zones: [String]? = nil, state: JSONValue? = nil) {
        self.status = status; self.code = code; self.message = message; self.zones = zones; self.state = state
    }
    public static func succeeded(_ message: String? = nil, state: JSONValue? = nil) -> RequestResult {
        RequestResult(status: .succeeded, message: message, state: state)
    }
    public static func failed(_ code: String, _ message: String, zones: [String]? = nil) -> RequestResult {
        RequestResult(status: .failed, code: code, message: message, zones: zones)
    }
    public static func rejected(_ code: String, _ message: String) -> RequestResult {
        RequestResult(status: .rejected, code: code, message: message)
    }
}
