/// What the hardware is: chips, lines, buses and Modbus devices (config.md, "Board profile").
///
/// Built only by `ConfigLoader`, which decodes strictly and validates; every
/// value here is already checked (ranges, references, unique ids).
public struct BoardProfile: Sendable, Equatable {
    public var name: String
    public var description: String?
    public var gpioChips: [GPIOChip]
    public var inputs: [BoardInput]
    public var outputs: [BoardOutput]
    public var modbusBuses: [ModbusBus]
    public var modbusDevices: [ModbusDevice]

    public init(name: String, description: String? = nil, gpioChips: [GPIOChip] = [], inputs: [BoardInput] = [],
                outputs: [BoardOutput] = [], modbusBuses: [ModbusBus] = [], modbusDevices: [ModbusDevice] = []) {
        self.name = name; self.description = description; self.gpioChips = gpioChips; self.inputs = inputs
        self.outputs = outputs; self.modbusBuses = modbusBuses; self.modbusDevices = modbusDevices
    }

    /// A GPIO chip, found at run time by the first of its labels the kernel offers.
    public struct GPIOChip: Sendable, Equatable {
        public var id: String
        public var labels: [String]
        public init(id: String, labels: [String]) { self.id = id; self.labels = labels }
    }

    /// A line on a chip: by name (`"GPIO5"`) or by offset (`5`).
    public enum LineRef: Sendable, Hashable, CustomStringConvertible {
        case name(String)
        case offset(Int)
        public var description: String {
            switch self { case .name(let n): return n; case .offset(let o): return String(o) }
        }
    }

    public struct GPIOLine: Sendable, Equatable {
        public var chip: String
        public var line: LineRef
        public init(chip: String, line: LineRef) { self.chip = chip; self.line = line }
    }

    public enum Bias: String, Sendable, Equatable, CaseIterable {
        case asIs = "as_is", disabled, pullUp = "pull_up", pullDown = "pull_down"
    }

    /// One digital input. Everything above the board sees active/inactive only.
    public struct BoardInput: Sendable, Equatable {
        public var id: String
        public var source: InputSource
        public var activeLow: Bool          // default false
        public var bias: Bias               // default .asIs
        public var debounceMs: Int          // default 50, 0...60_000
        public init(id: String, source: InputSource, activeLow: Bool = false, bias: Bias = .asIs, debounceMs: Int = 50) {
            self.id = id; self.source = source; self.activeLow = activeLow; self.bias = bias; self.debounceMs = debounceMs
        }
    }

    public enum InputSource: Sendable, Equatable {
        case gpio(GPIOLine)
        /// A digital input of a Modbus device; `device` is the device id.
        case modbus(device: String, point: ModbusInputPoint)
    }

    public struct BoardOutput: Sendable, Equatable {
        public var id: String
        public var sink: OutputSink
        public var activeLow: Bool          // default false
        /// How a GPIO output drives its line (default push-pull); Modbus outputs have none.
        public var drive: Drive
        public init(id: String, sink: OutputSink, activeLow: Bool = false, drive: Drive = .pushPull) {
            self.id = id; self.sink = sink; self.activeLow = activeLow; self.drive = drive
        }
    }

    /// A GPIO output's driver: push-pull drives both levels; open-drain only pulls low and lets an external
    /// pull-up (or the relay board's own input) make the high level.
    public enum Drive: String, Sendable, Equatable, CaseIterable { case pushPull = "push_pull", openDrain = "open_drain" }

    public enum OutputSink: Sendable, Equatable {
        case gpio(GPIOLine)
        case modbus(device: String, point: ModbusOutputPoint)
    }

    public struct ModbusBus: Sendable, Equatable {
        public var id: String
        public var transport: Transport
        public var timeoutMs: Int           // default 200, 10...10_000
        public init(id: String, transport: Transport, timeoutMs: Int = 200) {
            self.id = id; self.transport = transport; self.timeoutMs = timeoutMs
        }

        public enum Transport: Sendable, Equatable {
            case rtu(device: String, baud: Int, parity: Parity, dataBits: Int, stopBits: Int)
            case tcp(host: String, port: Int)
        }
        public enum Parity: String, Sendable, Equatable, CaseIterable { case none, even, odd }
    }

    public struct ModbusDevice: Sendable, Equatable {
        public var id: String
        public var bus: String
        public var unit: Int                // 1...247
        public var pollMs: Int              // default 250, 20...600_000
        public var offlineAfter: Int        // default 3, 1...100
        /// The device's inputs; their ids are board input ids too (also listed in `BoardProfile.inputs`).
        public var inputIDs: [String]
        /// The device's outputs; their ids are board output ids too (also listed in `BoardProfile.outputs`).
        public var outputIDs: [String]
        public init(id: String, bus: String, unit: Int, pollMs: Int = 250, offlineAfter: Int = 3,
                    inputIDs: [String] = [], outputIDs: [String] = []) {
            self.id = id; self.bus = bus; self.unit = unit; self.pollMs = pollMs; self.offlineAfter = offlineAfter
            self.inputIDs = inputIDs; self.outputIDs = outputIDs
        }
    }

    /// How a Modbus input is read.
    public enum ModbusInputPoint: Sendable, Equatable {
        case discreteInput(address: Int)
        case coil(address: Int)
        /// A register's bit, `bit` 0...15.
        case registerBit(RegisterKind, address: Int, bit: Int)
        /// A register compared with a threshold: active when value > above / value < below.
        case registerAbove(RegisterKind, address: Int, threshold: Int)
        case registerBelow(RegisterKind, address: Int, threshold: Int)
    }

    public enum ModbusOutputPoint: Sendable, Equatable {
        case coil(address: Int)
        case holdingRegisterBit(address: Int, bit: Int)
    }

    public enum RegisterKind: String, Sendable, Equatable { case input = "input_register", holding = "holding_register" }
}

extension BoardProfile {
    public func input(_ id: String) -> BoardInput? { inputs.first { $0.id == id } }
    public func output(_ id: String) -> BoardOutput? { outputs.first { $0.id == id } }
    public func device(_ id: String) -> ModbusDevice? { modbusDevices.first { $0.id == id } }
    public func bus(_ id: String) -> ModbusBus? { modbusBuses.first { $0.id == id } }

    /// The supervised device an input depends on: its Modbus device, or its GPIO chip.
    public func deviceID(ofInput id: String) -> String? {
        switch input(id)?.source {
        case .gpio(let line): return line.chip
        case .modbus(let device, _): return device
        case nil: return nil
        }
    }
    public func deviceID(ofOutput id: String) -> String? {
        switch output(id)?.sink {
        case .gpio(let line): return line.chip
        case .modbus(let device, _): return device
        case nil: return nil
        }
    }
}
