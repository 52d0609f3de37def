/// The installed faults, in the order they were added, and their use counting.
///
/// Pure: time comes in as `now` (real, unskewed milliseconds), so expiry and counting are tested with numbers.
public struct FaultBook: Sendable {
    /// Installed faults still in force, oldest first.
    public private(set) var faults: [Fault] = []
    private var nextNumber = 1

    /// An empty book.
    public init() {}

    /// Installs a fault and returns it with its id.
    @discardableResult
    public mutating func install(_ fault: Fault) -> Fault {
        var f = fault
        f.id = "flt_\(nextNumber)"
        nextNumber += 1
        faults.append(f)
        return f
    }

    /// Removes every fault.
    public mutating func clear() { faults.removeAll() }

    /// Removes one fault; false when there is none with that id.
    public mutating func remove(id: String) -> Bool {
        guard let i = faults.firstIndex(where: { $0.id == id }) else { return false }
        faults.remove(at: i)
        return true
    }

    /// The faults still in force at `now`.
    public mutating func active(now: Millis) -> [Fault] {
        prune(now: now)
        return faults
    }

    /// Uses the oldest fault in force that matches, counting the use; nil when none matches.
    ///
    /// `bridge` and `route` are the request's; a fault that names another bridge or endpoint does not match.
    public mutating func take(
        now: Millis, bridge: String, route: RouteKind?, where matches: (FaultKind) -> Bool
    ) -> Fault? {
        prune(now: now)
        guard
            let i = faults.firstIndex(where: { f in
                (f.bridge == nil || f.bridge == bridge) && (f.path == nil || f.path == route) && matches(f.kind)
            })
        else { return nil }
        faults[i].used += 1
        let taken = faults[i]
        if let r = faults[i].remaining {
            if r <= 1 { faults.remove(at: i) } else { faults[i].remaining = r - 1 }
        }
        return taken
    }

    /// Whether a fault in force matches, without using it.
    public mutating func has(now: Millis, bridge: String, route: RouteKind?, where matches: (FaultKind) -> Bool)
        -> Bool
    {
        prune(now: now)
        return faults.contains { f in
            (f.bridge == nil || f.bridge == bridge) && (f.path == nil || f.path == route) && matches(f.kind)
        }
    }

    /// The platform clock's offset from real time: the newest `clock_skew` in force, else 0.
    ///
    /// A skew applies to every bridge (platform time is one clock); its `bridge` field is ignored.
    public mutating func clockSkewMs(now: Millis) -> Int64 {
        prune(now: now)
        for f in faults.reversed() {
            if case .clockSkew(let offset) = f.kind { return offset }
        }
        return 0
    }

    private mutating func prune(now: Millis) {
        faults.removeAll { f in f.until.map { now >= $0 } ?? false }
    }
}
