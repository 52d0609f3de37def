import BridgeCore

/// A board made of parts, one per backend (GPIO through libgpiod, Modbus through libmodbus), seen as one `Board`:
/// one event stream, outputs routed to the part that owns them, diagnostics merged. The runtime never knows which
/// backend drives what.
public final class CompositeBoard: Board {
    public let profile: BoardProfile
    public let events: AsyncStream<HardwareEvent>
    private let continuation: AsyncStream<HardwareEvent>.Continuation
    private let gpio: GPIOBoard?
    private let modbus: ModbusBoard?

    /// `devices`: where the GPIO chips' character devices are (`/dev`).
    public init(profile: BoardProfile, devices: String = "/dev") {
        self.profile = profile
        let stream = AsyncStream.makeStream(of: HardwareEvent.self, bufferingPolicy: .unbounded)
        (events, continuation) = stream
        gpio = profile.gpioChips.isEmpty ? nil : GPIOBoard(profile: profile, devices: devices, stream: stream)
        modbus = profile.modbusBuses.isEmpty ? nil : ModbusBoard(profile: profile, stream: stream)
    }

    private var parts: [any Board] { [gpio as (any Board)?, modbus].compactMap { $0 } }

    /// Opens the GPIO part first (its outputs are requested at their levels at once), then the Modbus part (which
    /// returns once every device has been polled). A part that fails closes what was opened.
    public func open(initialOutputs: [String: Bool]) throws(HardwareError) -> [String: Bool?] {
        var levels: [String: Bool?] = [:]
        var opened: [any Board] = []
        for part in parts {
            do {
                levels.merge(try part.open(initialOutputs: initialOutputs)) { a, _ in a }
                opened.append(part)
            } catch {
                for p in opened { p.close() }
                continuation.finish()
                throw error
            }
        }
        return levels
    }

    public func setOutput(_ id: String, active: Bool) throws(HardwareError) {
        switch profile.output(id)?.sink {
        case .gpio?: try gpio!.setOutput(id, active: active)
        case .modbus?: try modbus!.setOutput(id, active: active)
        case nil: throw HardwareError(.notFound, operation: "set output \(id)", message: "no output \"\(id)\" on board \(ConfigText.printable(profile.name))")
        }
    }

    public func close() {
        for part in parts { part.close() }
        continuation.finish()
    }

    public func diagnostics() -> [String: JSONObject] {
        parts.reduce(into: [:]) { all, part in all.merge(part.diagnostics()) { a, _ in a } }
    }
}
