/// The event types of protocol.md ("Event types and data").
public enum EventType: String, Sendable, Hashable, Codable, CaseIterable {
    case bridgeStarted = "bridge.started"
    case deviceOnline = "device.online"
    case deviceOffline = "device.offline"
    case zoneFaulted = "zone.faulted"
    case zoneRestored = "zone.restored"
    case zoneBypassed = "zone.bypassed"
    case zoneUnbypassed = "zone.unbypassed"
    case partitionArmed = "partition.armed"
    case partitionDisarmed = "partition.disarmed"
    case alarmCreated = "alarm.created"
    case relayActivated = "relay.activated"
    case relayDeactivated = "relay.deactivated"
    /// Not an upstream event type of protocol.md's table: the result of a
    /// platform command, a record of the results outbox (its own journal, so
    /// results take no event `seq`; docs/protocol.md, Commands).
    case commandResult = "command.result"

    /// Events the outbox must never drop when compacting (behaviour.md, Persistence).
    public var isNeverDropped: Bool { self == .alarmCreated || self == .commandResult }
}

/// Who or what caused a change (protocol.md: `source`).
public enum Source: String, Sendable, Hashable, Codable, CaseIterable {
    case command, technician, rule, startup, keyswitch
}

/// Why a relay was released (protocol.md: `relay.deactivated` `reason`).
public enum ReleaseReason: String, Sendable, Hashable, Codable {
    case command, pulseElapsed = "pulse_elapsed", maxOn = "max_on", shutdown, technician
}
