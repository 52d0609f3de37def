import BridgeCore

/// What one Modbus device's poll reads and how its values become board inputs and output read-backs.
///
/// Pure (no libmodbus): built once from the profile, tested with numbers. Points of one table whose
/// addresses are contiguous are read in one transaction, never across a gap (an address the device does
/// not have would make it answer "illegal data address" for the whole read), and no read is longer than
/// the protocol allows (2000 bits, 125 registers: Modbus Application Protocol v1.1b3, 6.1-6.4).
public struct ModbusPlan: Sendable, Equatable {
    /// The four Modbus data tables.
    public enum Table: String, Sendable, Hashable, CaseIterable {
        case discreteInputs = "discrete inputs", coils, inputRegisters = "input registers", holdingRegisters = "holding registers"

        public var isBits: Bool { self == .discreteInputs || self == .coils }
        /// The most one read may ask for.
        public var maximumCount: Int { isBits ? 2000 : 125 }
    }

    /// One read transaction: `count` items of `table` from `address`.
    public struct Read: Sendable, Equatable {
        public var table: Table
        public var address: Int
        public var count: Int
    }

    /// Where an input's level comes from in a poll's values.
    public struct InputRule: Sendable, Equatable {
        public var input: String
        public var table: Table
        public var address: Int
        public var test: Test
        public var activeLow: Bool

        public enum Test: Sendable, Equatable {
            /// A bit of a bit table (discrete input or coil): set is active.
            case bit
            /// Bit `n` (0 = least significant) of a register.
            case registerBit(Int)
            case above(Int)
            case below(Int)
        }
    }

    /// An output and where it is written (and read back).
    public struct OutputRule: Sendable, Equatable {
        public var output: String
        public var point: BoardProfile.ModbusOutputPoint
        public var activeLow: Bool

        /// The table and address the output is read back from.
        public var readBack: (table: Table, address: Int) {
            switch point {
            case .coil(let a): return (.coils, a)
            case .holdingRegisterBit(let a, _): return (.holdingRegisters, a)
            }
        }
    }

    /// Where a point's value is in a poll's values: the index of its read, and its offset in that read.
    public struct Slot: Sendable, Equatable {
        public var read: Int
        public var offset: Int
    }

    public var device: String
    public var reads: [Read]
    public var inputs: [InputRule]
    public var outputs: [OutputRule]
    /// For each input, in `inputs`' order, where its value is.
    public var inputSlots: [Slot]
    /// For each output, in `outputs`' order, where it is read back.
    public var outputSlots: [Slot]

    /// The plan for `device` of `profile` (a device the profile names; its points are validated by ConfigLoader).
    public init(device: BoardProfile.ModbusDevice, profile: BoardProfile) {
        self.device = device.id
        var addresses: [Table: Set<Int>] = [:]
        var inputs: [InputRule] = []
        for id in device.inputIDs {
            guard let input = profile.input(id), case .modbus(_, let point) = input.source else { continue }
            let rule: InputRule
            switch point {
            case .discreteInput(let a): rule = InputRule(input: id, table: .discreteInputs, address: a, test: .bit, activeLow: input.activeLow)
            case .coil(let a): rule = InputRule(input: id, table: .coils, address: a, test: .bit, activeLow: input.activeLow)
            case .registerBit(let kind, let a, let bit):
                rule = InputRule(input: id, table: Self.table(kind), address: a, test: .registerBit(bit), activeLow: input.activeLow)
            case .registerAbove(let kind, let a, let threshold):
                rule = InputRule(input: id, table: Self.table(kind), address: a, test: .above(threshold), activeLow: input.activeLow)
            case .registerBelow(let kind, let a, let threshold):
                rule = InputRule(input: id, table: Self.table(kind), address: a, test: .below(threshold), activeLow: input.activeLow)
            }
            inputs.append(rule)
            addresses[rule.table, default: []].insert(rule.address)
        }
        var outputs: [OutputRule] = []
        for id in device.outputIDs {
            guard let output = profile.output(id), case .modbus(_, let point) = output.sink else { continue }
            let rule = OutputRule(output: id, point: point, activeLow: output.activeLow)
            outputs.append(rule)
            addresses[rule.readBack.table, default: []].insert(rule.readBack.address)
        }
        self.inputs = inputs
        self.outputs = outputs
        let reads = Table.allCases.flatMap { table in Self.runs(of: addresses[table] ?? [], table: table) }
        self.reads = reads
        func slot(_ table: Table, _ address: Int) -> Slot {
            // Every point's address is in one of the runs made from the points' addresses.
            let r = reads.firstIndex { $0.table == table && address >= $0.address && address < $0.address + $0.count } ?? 0
            return Slot(read: r, offset: address - reads[r].address)
        }
        inputSlots = inputs.map { slot($0.table, $0.address) }
        outputSlots = outputs.map { slot($0.readBack.table, $0.readBack.address) }
    }

    static func table(_ kind: BoardProfile.RegisterKind) -> Table { kind == .input ? .inputRegisters : .holdingRegisters }

    /// Contiguous runs of `addresses`, each at most `table.maximumCount` long, in address order.
    static func runs(of addresses: Set<Int>, table: Table) -> [Read] {
        var reads: [Read] = []
        for address in addresses.sorted() {
            if var last = reads.last, last.address + last.count == address, last.count < table.maximumCount {
                last.count += 1
                reads[reads.count - 1] = last
            } else {
                reads.append(Read(table: table, address: address, count: 1))
            }
        }
        return reads
    }

    /// Input `i`'s logical level from one poll's values (one array per read, in `reads`' order).
    public func inputLevel(_ i: Int, in values: [[Int]]) -> Bool {
        let rule = inputs[i], slot = inputSlots[i]
        let value = values[slot.read][slot.offset]
        let raw: Bool
        switch rule.test {
        case .bit: raw = value != 0
        case .registerBit(let bit): raw = (value >> bit) & 1 == 1
        case .above(let threshold): raw = value > threshold
        case .below(let threshold): raw = value < threshold
        }
        return raw != rule.activeLow
    }

    /// Output `j`'s logical level as the device reports it, from one poll's values.
    public func outputLevel(_ j: Int, in values: [[Int]]) -> Bool {
        let rule = outputs[j], slot = outputSlots[j]
        let value = values[slot.read][slot.offset]
        let raw: Bool
        switch rule.point {
        case .coil: raw = value != 0
        case .holdingRegisterBit(_, let bit): raw = (value >> bit) & 1 == 1
        }
        return raw != rule.activeLow
    }
}
