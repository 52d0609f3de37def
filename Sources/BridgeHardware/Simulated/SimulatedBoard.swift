import BridgeCore
import Synchronization

/// A board that offers exactly the chips, lines, buses and devices a profile names, in memory.
///
/// It is to the hardware what an embedded event loop is to a network stack:
/// the agent runs on it unchanged (`run --simulate`), and tests and the
/// `sim` commands drive its inputs and devices. Inputs start inactive and
/// every device online. Modbus devices are "polled" every `poll_ms` on the
/// injected clock, so device supervision runs as on a real bus.
/// Thread-safe: every method may be called from any thread.
public final class SimulatedBoard<C: Clock<Duration>>: Board, SimulationControl {
    public let profile: BoardProfile
    public let events: AsyncStream<HardwareEvent>
    private let continuation: AsyncStream<HardwareEvent>.Continuation
    private let clock: C
    private let state: Mutex<State>

    struct State {
        var opened = false
        var closed = false
        var inputs: [String: Bool] = [:]
        var outputs: [String: Bool] = [:]
        var offline: Set<String> = []
        var failedPolls: Set<String> = []
        var pollers: [Task<Void, Never>] = []
    }

    public init(profile: BoardProfile, clock: C) {
        self.profile = profile
        self.clock = clock
        (events, continuation) = AsyncStream.makeStream(of: HardwareEvent.self, bufferingPolicy: .unbounded)
        var s = State()
        for input in profile.inputs { s.inputs[input.id] = false }
        for output in profile.outputs { s.outputs[output.id] = false }
        state = Mutex(s)
    }

    public func open(initialOutputs: [String: Bool]) throws(HardwareError) -> [String: Bool?] {
        let levels: [String: Bool?] = try state.withLock { (s: inout State) throws(HardwareError) -> [String: Bool?] in
            guard !s.opened else { throw HardwareError(.invalidState, operation: "open board", message: "already open") }
            s.opened = true
            for (id, level) in initialOutputs {
                guard s.outputs[id] != nil else {
                    throw HardwareError(.notFound, operation: "open board", message: "no output \"\(id)\" on board \(ConfigText.printable(profile.name))")
                }
                s.outputs[id] = level
            }
            var levels: [String: Bool?] = [:]
            for (id, level) in s.inputs { levels[id] = level }
            return levels
        }
        // First contact with every GPIO chip; Modbus devices answer their first poll.
        for chip in profile.gpioChips { continuation.yield(.device(id: chip.id, outcome: .ok)) }
        let pollers = profile.modbusDevices.map { device in
            Task { [weak self, clock] in
                let period = Duration.milliseconds(device.pollMs)
                var next = clock.now
                while !Task.isCancelled {
                    self?.poll(device.id)
                    next = next.advanced(by: period)
                    do { try await clock.sleep(until: next, tolerance: nil) } catch { return }
                }
            }
        }
        state.withLock { $0.pollers = pollers }
        return levels
    }

    private func poll(_ device: String) {
        let (offline, backLevels) = state.withLock { s -> (Bool, [(String, Bool)]) in
            let offline = s.offline.contains(device)
            guard !offline, s.failedPolls.remove(device) != nil else {
                if offline { s.failedPolls.insert(device) }
                return (offline, [])
            }
            // Back after failed polls: its inputs are read afresh, as a real poll cycle would.
            return (false, profile.inputs.filter { profile.deviceID(ofInput: $0.id) == device }.map { ($0.id, s.inputs[$0.id] ?? false) })
        }
        continuation.yield(.device(id: device, outcome: offline ? .failed(reason: "timeout") : .ok))
        for (input, level) in backLevels { continuation.yield(.input(id: input, active: level)) }
    }

    public func setOutput(_ id: String, active: Bool) throws(HardwareError) {
        try state.withLock { (s: inout State) throws(HardwareError) in
            guard s.outputs[id] != nil else {
                throw HardwareError(.notFound, operation: "set output \(id)", message: "no output \"\(id)\" on board \(ConfigText.printable(profile.name))")
            }
            if let device = profile.deviceID(ofOutput: id), s.offline.contains(device) {
                throw HardwareError(.io, operation: "set output \(id)", message: "device \(device) is not answering")
            }
            s.outputs[id] = active
        }
    }

    public func close() {
        let pollers = state.withLock { s in
            s.closed = true
            defer { s.pollers = [] }
            return s.pollers
        }
        for p in pollers { p.cancel() }
        continuation.finish()
    }

    // MARK: SimulationControl

    public func setInput(_ id: String, active: Bool) throws(HardwareError) {
        let report = try state.withLock { (s: inout State) throws(HardwareError) -> Bool in
            guard let old = s.inputs[id] else {
                throw HardwareError(.notFound, operation: "sim input \(id)",
                                    message: "no input \"\(id)\" on board \(ConfigText.printable(profile.name)) (has \(profile.inputs.map(\.id).joined(separator: ", ")))")
            }
            s.inputs[id] = active
            let device = profile.deviceID(ofInput: id)
            return old != active && s.opened && !(device.map { s.offline.contains($0) } ?? false)
        }
        if report { continuation.yield(.input(id: id, active: active)) }
    }

    public func setDevice(_ id: String, online: Bool) throws(HardwareError) {
        let isChip = profile.gpioChips.contains { $0.id == id }
        guard isChip || profile.device(id) != nil else {
            let all = profile.gpioChips.map(\.id) + profile.modbusDevices.map(\.id)
            throw HardwareError(.notFound, operation: "sim device \(id)",
                                message: "no device \"\(id)\" on board \(ConfigText.printable(profile.name)) (has \(all.joined(separator: ", ")))")
        }
        let (changed, levels) = state.withLock { s -> (Bool, [(String, Bool)]) in
            let was = !s.offline.contains(id)
            if online { s.offline.remove(id) } else { s.offline.insert(id) }
            let levels = profile.inputs.filter { profile.deviceID(ofInput: $0.id) == id }.map { ($0.id, s.inputs[$0.id] ?? false) }
            return (was != online && s.opened, levels)
        }
        guard changed, isChip else { return }  // Modbus devices show it at their next poll.
        if online {
            continuation.yield(.device(id: id, outcome: .ok))
            for (input, level) in levels { continuation.yield(.input(id: input, active: level)) }
        } else {
            continuation.yield(.device(id: id, outcome: .failed(reason: "gpio chip not found")))
        }
    }

    public func inputLevel(_ id: String) -> Bool? { state.withLock { $0.inputs[id] } }
    public func outputLevel(_ id: String) -> Bool? { state.withLock { $0.outputs[id] } }
    public func isOnline(_ device: String) -> Bool { state.withLock { !$0.offline.contains(device) } }
}

/// What the `sim` commands drive: only a simulated board offers it.
public protocol SimulationControl: AnyObject, Sendable {
    func setInput(_ id: String, active: Bool) throws(HardwareError)
    func setDevice(_ id: String, online: Bool) throws(HardwareError)
    func outputLevel(_ id: String) -> Bool?
}
