/// One board input: its raw level as reported and its debounced level.
struct InputRuntime: Sendable {
    /// A raw level waiting to hold for the input's debounce period.
    struct Pending: Sendable, Equatable {
        var level: Bool
        var at: Millis
    }
    var raw: Bool?
    /// The debounced level; nil until one has settled, and while the input's device is offline.
    var level: Bool?
    var lastChange: Millis?
    var pending: Pending?
}

struct ZoneRuntime: Sendable {
    /// The last reported state (`zone.faulted`/`zone.restored`); kept through trouble.
    var faulted = false
    var bypassed = false
    /// Alarms in this arming period, for the swinger limit.
    var alarms = 0
}

/// A keyswitch arm or disarm waiting for the panel's armed-status input.
struct KeyswitchPending: Sendable {
    var ticket: Ticket
    /// The asked mode for an arm; nil for a disarm.
    var arm: ArmMode?
    var origin: Origin
    var deadline: Millis
}

struct PartitionRuntime: Sendable {
    var status: PartitionStatus = .disarmed
    var mode: ArmMode?
    var exitEndsAt: Millis?
    var entryEndsAt: Millis?
    var entryZones: [String] = []
    var armOrigin: Origin?
    var keyswitchPending: KeyswitchPending?

    /// Armed (a keyswitch panel confirmed) while its exit grace runs: see `Engine.mirrorArmed`.
    var inExitGrace: Bool { status.isArmed && status != .alarm && exitEndsAt != nil }
}

/// How a relay is turned on.
enum Activation: Sendable, Equatable {
    /// On for this many milliseconds (before the `max_on_ms` bound).
    case pulse(Int)
    case latch
}

/// An activation waiting for its interlock gap to pass.
struct PendingActivation: Sendable {
    var at: Millis
    var activation: Activation
    var origin: Origin
    /// The request to complete once energised (nil for rule and keyswitch activations).
    var ticket: Ticket?
}

struct RelayRuntime: Sendable {
    var on = false
    var pulseEndsAt: Millis?
    var maxOnEndsAt: Millis?
    var pending: PendingActivation?

    /// When the relay is released next, if it is on and bounded.
    var releaseAt: Millis? {
        guard on else { return nil }
        switch (pulseEndsAt, maxOnEndsAt) {
        case let (p?, m?): return min(p, m)
        case let (p?, nil): return p
        case let (nil, m?): return m
        case (nil, nil): return nil
        }
    }

    /// Why the relay is released at `releaseAt`: the pulse, unless `max_on_ms` comes strictly first.
    var releaseReason: ReleaseReason {
        if let p = pulseEndsAt, p <= (maxOnEndsAt ?? p) { return .pulseElapsed }
        return maxOnEndsAt == nil ? .pulseElapsed : .maxOn
    }
}

extension RelayRuntime {
    /// On, with the deadlines a snapshot saved for it.
    init(restoring saved: PersistedState.Relay) {
        self.init(on: true, pulseEndsAt: saved.pulseUntil, maxOnEndsAt: saved.maxOnUntil)
    }
}

struct DeviceRuntime: Sendable {
    /// nil: never heard of in this state folder.
    var online: Bool?
    var lastSeen: Millis?
    var failures = 0
}
