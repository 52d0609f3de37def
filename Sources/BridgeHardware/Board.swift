import BridgeCore

/// What happens on the board, as the backend reports it.
public enum HardwareEvent: Sendable, Equatable {
    /// A board input's level changed (already mapped through `active_low`): raw, not debounced. `monotonicNs` is
    /// when the change happened (`CLOCK_MONOTONIC`) where the hardware says so (the kernel's timestamp of a GPIO
    /// edge), so that the debounce runs from the edge and not from whenever the event was read; nil where the
    /// change was seen by polling (Modbus) or simulated.
    case input(id: String, active: Bool, monotonicNs: UInt64? = nil)
    /// One transaction with a supervised device (Modbus device, or GPIO chip id).
    case device(id: String, outcome: DeviceOutcome)
}

/// The small hardware protocol every backend implements: libgpiod, libmodbus, simulated.
///
/// Lifecycle: `open` once (outputs are requested already at their initial
/// level, so nothing clicks), read `events` until `close`. `setOutput` may be
/// called from any thread. Backends run their blocking C calls on threads of
/// their own, never on the Swift concurrency pool.
public protocol Board: AnyObject, Sendable {
    /// Opens every chip, line, bus and device the profile names. Devices that
    /// cannot be reached are not an error: they are reported through `events`
    /// and retried. Returns the first reading of every board input (nil: unreadable).
    func open(initialOutputs: [String: Bool]) throws(HardwareError) -> [String: Bool?]

    /// Hardware events, in the order they happened. Finishes after `close`.
    var events: AsyncStream<HardwareEvent> { get }

    /// Drives a board output (`active` is the logical level; the backend applies `active_low`).
    func setOutput(_ id: String, active: Bool) throws(HardwareError)

    /// Releases every line and connection; the stream finishes.
    func close()

    /// What the backend knows of each supervised device beyond online/offline, by device id, for `status`
    /// (a Modbus device's counters, last error, round-trip time). Empty by default.
    func diagnostics() -> [String: JSONObject]
}

extension Board {
    public func diagnostics() -> [String: JSONObject] { [:] }
}

/// A hardware failure a technician can act on.
public struct HardwareError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable { case notFound = "not_found", io, busy, unsupported, invalidState = "invalid_state" }
    public var code: Code
    /// What was being done, e.g. `set output out1`.
    public var operation: String
    public var errno: Int32?
    public var message: String
    public init(_ code: Code, operation: String, errno: Int32? = nil, message: String) {
        self.code = code; self.operation = operation; self.errno = errno; self.message = message
    }
    public var description: String {
        var s = "\(operation): \(message)"
        if let errno { s += " (errno \(errno))" }
        return s
    }
}
