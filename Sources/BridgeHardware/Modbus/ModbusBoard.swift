import BridgeCore
import Synchronization

/// The board's Modbus part through libmodbus: every bus and device the profile names, one thread per bus
/// (`ModbusBus`).
///
/// `open` starts the buses and returns once each device has been polled once; devices that did not answer
/// are reported through `events` (`device` outcomes) and retried, as `Board` asks. Thread-safe.
public final class ModbusBoard: Board {
    public let profile: BoardProfile
    public let events: AsyncStream<HardwareEvent>
    private let continuation: AsyncStream<HardwareEvent>.Continuation
    private let buses: [ModbusBus]
    private let opened = Mutex(false)

    public convenience init(profile: BoardProfile) {
        self.init(profile: profile, stream: AsyncStream.makeStream(of: HardwareEvent.self, bufferingPolicy: .unbounded))
    }

    /// `stream` may be shared with the other parts of a `CompositeBoard`.
    init(profile: BoardProfile, stream: (AsyncStream<HardwareEvent>, AsyncStream<HardwareEvent>.Continuation)) {
        self.profile = profile
        let (events, continuation) = stream
        self.events = events
        self.continuation = continuation
        buses = profile.modbusBuses.map { bus in
            ModbusBus(spec: bus, devices: profile.modbusDevices.filter { $0.bus == bus.id }, profile: profile,
                      emit: { continuation.yield($0) })
        }
    }

    public func open(initialOutputs: [String: Bool]) throws(HardwareError) -> [String: Bool?] {
        let first = opened.withLock { o in defer { o = true }; return !o }
        guard first else { throw HardwareError(.invalidState, operation: "open board", message: "already open") }
        // Every bus polls at once, in parallel; the first levels are there once each has polled each device.
        for bus in buses { try bus.start(initialOutputs: initialOutputs) }
        var levels: [String: Bool?] = [:]
        for input in profile.inputs where profile.modbusDeviceID(ofInput: input.id) != nil { levels[input.id] = .some(nil) }
        for bus in buses {
            for (input, level) in bus.firstLevels() { levels[input] = level }
        }
        return levels
    }

    public func setOutput(_ id: String, active: Bool) throws(HardwareError) {
        for bus in buses {
            if let device = bus.device(ofOutput: id) { return try bus.set(id, active: active, device: device) }
        }
        throw HardwareError(.notFound, operation: "set output \(id)", message: "no Modbus output \"\(id)\" on board \(ConfigText.printable(profile.name))")
    }

    public func close() {
        for bus in buses { bus.stop() }
        continuation.finish()
    }

    /// Each device's counters and last results (for `status`), by device id.
    public func diagnostics() -> [String: JSONObject] {
        var all: [String: JSONObject] = [:]
        for bus in buses {
            for (device, s) in bus.statistics() {
                var o: JSONObject = [
                    "transactions": .int(Int64(s.transactions)), "timeouts": .int(Int64(s.timeouts)),
                    "crc_errors": .int(Int64(s.crcErrors)), "exceptions": .int(Int64(s.exceptions)),
                    "other_errors": .int(Int64(s.otherErrors)), "output_mismatches": .int(Int64(s.mismatches)),
                ]
                o["last_error"] = s.lastError.map { .string($0) } ?? .null
                o["round_trip_ms"] = s.lastRoundTripUs.map { .double(Double($0) / 1000) } ?? .null
                all[device] = o
            }
        }
        return all
    }
}

extension BoardProfile {
    /// The Modbus device an input is read from, if it is a Modbus input.
    func modbusDeviceID(ofInput id: String) -> String? {
        if case .modbus(let device, _)? = input(id)?.source { return device }
        return nil
    }
}
