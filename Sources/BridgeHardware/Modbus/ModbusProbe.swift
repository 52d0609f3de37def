import BridgeCore
import BridgeSystem

/// One read from one Modbus device, outside the agent: what `doctor` does when no agent holds the bus.
public enum ModbusProbe {
    /// Opens the device's bus, reads the first run of its plan once, and closes the bus. The round trip in
    /// milliseconds, or the reason it failed as `device.offline` names it.
    public static func probe(_ device: BoardProfile.ModbusDevice, profile: BoardProfile) -> Result<Double, ProbeFailure> {
        guard let bus = profile.bus(device.bus) else { return .failure(ProbeFailure(reason: "no bus \(device.bus)", isLink: true)) }
        let plan = ModbusPlan(device: device, profile: profile)
        do throws(ModbusFailure) {
            let connection = try ModbusConnection(bus: bus)
            _ = try connection.open()
            defer { connection.close() }
            guard let read = plan.reads.first else { return .success(0) }
            let start = Posix.monotonicNanos()
            _ = try connection.read(read, unit: device.unit)
            return .success(Double(Posix.monotonicNanos() - start) / 1_000_000)
        } catch {
            return .failure(ProbeFailure(reason: error.reason, isLink: error.kind == .link))
        }
    }

    public struct ProbeFailure: Error, Sendable {
        /// As `device.offline` names it: `timeout`, `crc_error`, `exception 2 (illegal data address)`, `permission denied`.
        public var reason: String
        /// The bus itself could not be opened (the device was never asked).
        public var isLink: Bool
    }
}
