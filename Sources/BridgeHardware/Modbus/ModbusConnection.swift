import BridgeCore
import CModbus
import Glibc

/// One libmodbus context (`modbus_t`): a serial line or a TCP connection to a gateway.
///
/// Not thread-safe, as libmodbus is not: it belongs to its bus's thread (`ModbusBus`). errno is mapped here,
/// once, into a `ModbusFailure` that names the reason as a technician reads it. Freed in `deinit`.
final class ModbusConnection {
    private let context: OpaquePointer
    let bus: BoardProfile.ModbusBus
    private(set) var isOpen = false

    /// Makes the context; nil (with the reason) when libmodbus refuses the settings.
    init(bus: BoardProfile.ModbusBus) throws(ModbusFailure) {
        self.bus = bus
        let made: OpaquePointer?
        switch bus.transport {
        case .rtu(let device, let baud, let parity, let dataBits, let stopBits):
            let p: CChar = parity == .none ? 78 : parity == .even ? 69 : 79  // 'N', 'E', 'O'
            made = modbus_new_rtu(device, Int32(baud), p, Int32(dataBits), Int32(stopBits))
        case .tcp(let host, let port):
            made = modbus_new_tcp_pi(host, String(port))
        }
        guard let made else { throw ModbusFailure(errno: errno, operation: "set up bus \(bus.id)") }
        context = made
        let timeout = UInt32(bus.timeoutMs)
        modbus_set_response_timeout(context, timeout / 1000, (timeout % 1000) * 1000)
        let byteTimeout = UInt32(Self.byteTimeoutMs(bus))
        modbus_set_byte_timeout(context, byteTimeout / 1000, (byteTimeout % 1000) * 1000)
    }

    deinit {
        if isOpen { modbus_close(context) }
        modbus_free(context)
    }

    /// The longest silence allowed inside one answer: on a serial line 10 characters' time (at least 20 ms,
    /// for USB adapters that deliver in chunks), never more than the response timeout.
    static func byteTimeoutMs(_ bus: BoardProfile.ModbusBus) -> Int {
        switch bus.transport {
        case .rtu(_, let baud, _, _, _): return min(bus.timeoutMs, max(20, 10 * 11 * 1000 / max(baud, 1) + 1))
        case .tcp: return bus.timeoutMs
        }
    }

    /// The silence a serial line needs between frames: 3.5 characters, at least 1.75 ms above 19200 baud
    /// (Modbus over Serial Line v1.02, 2.5.1.1). Zero for TCP.
    static func interFrameGapNs(_ bus: BoardProfile.ModbusBus) -> UInt64 {
        guard case .rtu(_, let baud, _, _, _) = bus.transport else { return 0 }
        if baud > 19_200 { return 1_750_000 }
        return UInt64(3.5 * 11 * 1_000_000_000 / Double(max(baud, 1)))
    }

    /// Opens the serial device or connects to the gateway. On a serial line, asks for RS-485 mode; a tty that
    /// does not have it (a PTY, a USB adapter that switches direction itself) is not an error: `noRS485` is why
    /// the kernel refused it, for a warning.
    func open() throws(ModbusFailure) -> (rs485: Bool, noRS485: String?) {
        if isOpen { return (true, nil) }
        guard modbus_connect(context) == 0 else { throw ModbusFailure(errno: errno, operation: "open bus \(bus.id)") }
        isOpen = true
        guard case .rtu = bus.transport else { return (false, nil) }
        if modbus_rtu_set_serial_mode(context, MODBUS_RTU_RS485) == 0 { return (true, nil) }
        return (false, ModbusLibrary.describe(errno: errno))
    }

    /// Closes the line or connection (to be opened again).
    func close() {
        if isOpen { modbus_close(context); isOpen = false }
    }

    /// Discards whatever is waiting on the line (a late answer after a timeout must not be read as the next one).
    func flush() { if isOpen { _ = modbus_flush(context) } }

    /// Reads one run of a table from `unit`: `read.count` values, the first at `read.address`.
    func read(_ read: ModbusPlan.Read, unit: Int) throws(ModbusFailure) -> [Int] {
        modbus_set_slave(context, Int32(unit))
        let n: Int32
        var values: [Int]
        if read.table.isBits {
            var bits = [UInt8](repeating: 0, count: read.count)
            n = read.table == .coils
                ? modbus_read_bits(context, Int32(read.address), Int32(read.count), &bits)
                : modbus_read_input_bits(context, Int32(read.address), Int32(read.count), &bits)
            values = bits.map { Int($0) }
        } else {
            var registers = [UInt16](repeating: 0, count: read.count)
            n = read.table == .holdingRegisters
                ? modbus_read_registers(context, Int32(read.address), Int32(read.count), &registers)
                : modbus_read_input_registers(context, Int32(read.address), Int32(read.count), &registers)
            values = registers.map { Int($0) }
        }
        guard n == Int32(read.count) else {
            // The words only on failure: a poll that succeeds formats nothing.
            throw ModbusFailure(errno: n < 0 ? errno : chekt_EMBBADDATA,
                                operation: "read \(read.count) \(read.table.rawValue) at \(read.address) from unit \(unit)")
        }
        return values
    }

    /// Writes one coil.
    func writeCoil(_ address: Int, _ on: Bool, unit: Int) throws(ModbusFailure) {
        modbus_set_slave(context, Int32(unit))
        guard modbus_write_bit(context, Int32(address), on ? 1 : 0) == 1 else {
            throw ModbusFailure(errno: errno, operation: "write coil \(address) of unit \(unit)")
        }
    }

    /// Sets one bit of a holding register: read, change that bit, write back (function 22, mask write, is
    /// optional in the protocol and many I/O modules lack it).
    func writeRegisterBit(_ address: Int, bit: Int, _ on: Bool, unit: Int) throws(ModbusFailure) {
        let current = try read(ModbusPlan.Read(table: .holdingRegisters, address: address, count: 1), unit: unit)[0]
        let value = on ? current | (1 << bit) : current & ~(1 << bit)
        guard value != current else { return }
        guard modbus_write_register(context, Int32(address), UInt16(value & 0xFFFF)) == 1 else {
            throw ModbusFailure(errno: errno, operation: "write holding register \(address) of unit \(unit)")
        }
    }
}

/// A failed Modbus operation: the errno libmodbus set, classified.
struct ModbusFailure: Error, Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case timeout
        case crc
        /// A Modbus exception answer, with its code (1 illegal function, 2 illegal data address, ...).
        case exception(Int)
        /// The line or connection itself failed (refused, reset, device gone): reopen it.
        case link
        /// Anything else (a malformed answer, ...).
        case other
    }

    var errno: Int32
    var operation: String

    var kind: Kind {
        let base = Int32(MODBUS_ENOBASE)
        switch errno {
        case ETIMEDOUT: return .timeout
        case chekt_EMBBADCRC: return .crc
        case (base + 1)...(base + 11): return .exception(Int(errno - base))
        case ECONNREFUSED, ECONNRESET, ECONNABORTED, EPIPE, EBADF, ENOTCONN, EHOSTUNREACH, ENETUNREACH, ENOENT, ENODEV,
             ENXIO, EIO, EACCES, EPERM, EINVAL:
            return .link
        default: return .other
        }
    }

    /// The short reason of `device.offline` (protocol.md), e.g. `timeout`, `crc_error`,
    /// `exception 2 (illegal data address)`, `connection refused`.
    var reason: String {
        switch kind {
        case .timeout: return "timeout"
        case .crc: return "crc_error"
        case .exception(let code): return "exception \(code) (\(Self.exceptionNames[code] ?? "unknown"))"
        case .link, .other: return ModbusLibrary.describe(errno: errno).lowercased()
        }
    }

    static let exceptionNames = [
        1: "illegal function", 2: "illegal data address", 3: "illegal data value", 4: "server device failure",
        5: "acknowledge", 6: "server device busy", 7: "negative acknowledge", 8: "memory parity error",
        10: "gateway path unavailable", 11: "gateway target device failed to respond",
    ]
}
