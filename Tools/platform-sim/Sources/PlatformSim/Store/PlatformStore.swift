import Synchronization

/// All the platform's memory: the bridges, the faults, and the long polls waiting for commands.
public struct PlatformState: Sendable {
    /// Bridges by id.
    public var bridges: [String: BridgeRecord] = [:]
    /// Installed faults.
    public var faults = FaultBook()
    fileprivate var waiters: [UInt64: Waiter] = [:]
    fileprivate var nextWaiter: UInt64 = 1
    fileprivate var shuttingDown = false
    fileprivate var shutdownWaiters: [CheckedContinuation<Void, Never>] = []
    /// Callers of `waitUntilAPollWaits()`, resumed when a long poll registers (or at shutdown).
    fileprivate var pollWatchers: [CheckedContinuation<Void, Never>] = []

    /// Bridge ids, sorted.
    public var bridgeIDs: [String] { bridges.keys.sorted() }
}

/// A long poll's slot: registered before it parks, so that a wake-up between the two is not lost.
private enum Waiter {
    case registered(bridge: String)
    case parked(bridge: String, CheckedContinuation<Void, Never>)
    var bridge: String {
        switch self {
        case .registered(let b), .parked(let b, _): return b
        }
    }
}

/// The platform's state behind one lock, with its clock and the long-poll wake-ups.
///
/// Thread-safe: every access goes through `withState`, which holds a `Synchronization.Mutex` for the duration of a
/// short, non-suspending closure. State lives in memory only: a restarted platform knows nothing (cursors it
/// issued before are treated as "the end", see `BridgeRecord.pending(after:)`).
public final class PlatformStore: Sendable {
    private let state: Mutex<PlatformState>
    private let realClock: @Sendable () -> Millis

    /// A store with these bridges; `realClock` is wall time (tests pass their own).
    public init(bridges: [BridgeRegistration], realClock: @escaping @Sendable () -> Millis = Timestamp.systemNow) {
        var s = PlatformState()
        for b in bridges { s.bridges[b.id] = BridgeRecord(id: b.id, credentials: b.credentials) }
        self.state = Mutex(s)
        self.realClock = realClock
    }

    /// Runs `body` with exclusive access to the state. `body` must not block or suspend.
    public func withState<R: Sendable, E: Error>(_ body: (inout PlatformState) throws(E) -> R) throws(E) -> R {
        try state.withLock { (s: inout PlatformState) throws(E) -> R in try body(&s) }
    }

    /// Real wall time (fault lifetimes are measured in it).
    public func realNow() -> Millis { realClock() }

    /// Platform time: real time shifted by a `clock_skew` fault, if one is in force.
    ///
    /// Used for the `Date` header, signature `t` and its window, command `issued_at`/`expires_at`, and every
    /// "received at" the admin API shows.
    public func now() -> Millis {
        let real = realClock()
        return real + withState { $0.faults.clockSkewMs(now: real) }
    }

    /// Adds a bridge (or replaces its credentials, keeping its history); returns false when it existed.
    @discardableResult
    public func register(_ registration: BridgeRegistration) -> Bool {
        withState { s in
            if s.bridges[registration.id] != nil {
                s.bridges[registration.id]!.credentials = registration.credentials
                return false
            }
            s.bridges[registration.id] = BridgeRecord(id: registration.id, credentials: registration.credentials)
            return true
        }
    }

    /// Issues a command to a bridge and wakes its long polls; false when the bridge is unknown.
    @discardableResult
    public func enqueue(_ command: PlatformCommand, bridge: String) -> Bool {
        enqueue([command], bridge: bridge)
    }

    /// Issues several commands at consecutive positions at once (no poll can answer between two of them, so one
    /// answer carries them all, up to `BridgeRecord.commandsPerResponse`) and wakes the bridge's long polls; false
    /// when the bridge is unknown.
    @discardableResult
    public func enqueue(_ commands: [PlatformCommand], bridge: String) -> Bool {
        withState { s in
            guard s.bridges[bridge] != nil else { return false }
            for command in commands { s.bridges[bridge]!.enqueue(command) }
            Self.wake(&s, bridge: bridge)
            return true
        }
    }

    /// Waits until a command is enqueued for `bridge`, `timeout` passes, or the platform shuts down.
    ///
    /// Returns at once when the platform is shutting down. The caller re-checks what is pending afterwards: a
    /// wake-up only says "look again".
    public func waitForCommands(bridge: String, timeout: Duration) async {
        let id: UInt64? = withState { s in
            guard !s.shuttingDown else { return nil }
            let id = s.nextWaiter
            s.nextWaiter += 1
            s.waiters[id] = .registered(bridge: bridge)
            for c in s.pollWatchers { c.resume() }
            s.pollWatchers.removeAll()
            return id
        }
        guard let id else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.park(id) }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
            // Whichever finished first, release the slot so the other child (a parked continuation) ends too.
            withState { s in
                if case .parked(_, let c) = s.waiters.removeValue(forKey: id) { c.resume() }
            }
        }
    }

    /// Wakes every parked long poll to look again (after a fault that changes what a poll answers is installed).
    public func wakeAllPolls() {
        withState { s in
            for (id, w) in s.waiters {
                s.waiters.removeValue(forKey: id)
                if case .parked(_, let c) = w { c.resume() }
            }
        }
    }

    /// Starts a graceful shutdown: wakes every long poll, makes later ones return at once, and stops the server.
    public func shutDown() {
        withState { s in
            s.shuttingDown = true
            for (_, w) in s.waiters {
                if case .parked(_, let c) = w { c.resume() }
            }
            s.waiters.removeAll()
            for c in s.shutdownWaiters + s.pollWatchers { c.resume() }
            s.shutdownWaiters.removeAll()
            s.pollWatchers.removeAll()
        }
    }

    /// Returns once a long poll is waiting (registered: a command enqueued from then on wakes it), or at shutdown.
    public func waitUntilAPollWaits() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            withState { s in
                if !s.waiters.isEmpty || s.shuttingDown { return c.resume() }
                s.pollWatchers.append(c)
            }
        }
    }

    /// Returns once `shutDown()` has been called.
    public func waitUntilShutDown() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            withState { s in
                if s.shuttingDown { return c.resume() }
                s.shutdownWaiters.append(c)
            }
        }
    }

    /// Whether `shutDown()` was called.
    public var isShuttingDown: Bool { withState { $0.shuttingDown } }

    /// How many long polls are waiting (for tests and the admin API).
    public var waitingPolls: Int { withState { $0.waiters.count } }

    private func park(_ id: UInt64) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            withState { s in
                // Gone already: woken (or released) before it could park.
                guard let w = s.waiters[id] else { return c.resume() }
                s.waiters[id] = .parked(bridge: w.bridge, c)
            }
        }
    }

    private static func wake(_ s: inout PlatformState, bridge: String) {
        for (id, w) in s.waiters where w.bridge == bridge {
            s.waiters.removeValue(forKey: id)
            if case .parked(_, let c) = w { c.resume() }
        }
    }
}
