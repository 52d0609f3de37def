/// A board decoded as far as possible, with the JSON path of every input and output
/// (Modbus points are flattened into `inputs`/`outputs` but reported where they were written).
struct BoardDraft {
    var profile: BoardProfile
    var inputPaths: [String]
    var outputPaths: [String]
}

extension ConfigLoader {
    /// The keys each board object may have, in documentation order (the order "did you mean" prefers).
    enum BoardKeys {
        static let top = ["name", "description", "gpio_chips", "inputs", "outputs", "modbus_buses", "modbus_devices"]
        static let chip = ["id", "labels"]
        static let gpioInput = ["id", "gpio", "active_low", "bias", "debounce_ms"]
        static let gpioOutput = ["id", "gpio", "active_low", "drive"]
        static let gpio = ["chip", "line"]
        static let bus = ["id", "rtu", "tcp", "timeout_ms"]
        static let rtu = ["device", "baud", "parity", "data_bits", "stop_bits"]
        static let tcp = ["host", "port"]
        static let device = ["id", "bus", "unit", "poll_ms", "offline_after", "inputs", "outputs"]
        static let inputPoints = ["discrete_input", "coil", "input_register", "holding_register"]
        static let registerReads = ["bit", "above", "below"]
        static let modbusInput = ["id"] + inputPoints + registerReads + ["active_low", "debounce_ms"]
        static let modbusOutput = ["id", "coil", "holding_register", "bit", "active_low"]
    }

    static let bauds = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200]
    static let debounceRange = 0...60_000
    static let addressRange = 0...65_535

    // MARK: Decoding

    static func decodeBoard(_ root: JSONValue, decoder d: inout ConfigDecoder) -> BoardDraft? {
        // A site config given where a board belongs would otherwise be a screenful of unknown keys.
        if let fields = root.objectValue, fields["bridge"] != nil, fields["name"] == nil {
            d.report("", "this is a site config, not a board profile (it has \"bridge\" and no \"name\"); "
                     + "check it with `chekt-bridge config validate`")
            return nil
        }
        guard let top = d.object(root, at: "", keys: BoardKeys.top) else { return nil }
        var draft = BoardDraft(profile: BoardProfile(name: d.string(top, "name", required: true) ?? ""),
                               inputPaths: [], outputPaths: [])
        draft.profile.description = d.string(top, "description", allowEmpty: true)

        for (value, path) in d.array(top, "gpio_chips") {
            draft.profile.gpioChips.append(decodeChip(value, at: path, decoder: &d))
        }
        for (value, path) in d.array(top, "inputs") {
            draft.profile.inputs.append(decodeGPIOInput(value, at: path, decoder: &d))
            draft.inputPaths.append(path)
        }
        for (value, path) in d.array(top, "outputs") {
            draft.profile.outputs.append(decodeGPIOOutput(value, at: path, decoder: &d))
            draft.outputPaths.append(path)
        }
        for (value, path) in d.array(top, "modbus_buses") {
            draft.profile.modbusBuses.append(decodeBus(value, at: path, decoder: &d))
        }
        for (value, path) in d.array(top, "modbus_devices") {
            decodeDevice(value, at: path, into: &draft, decoder: &d)
        }
        return draft
    }

    private static func decodeChip(_ value: JSONValue, at path: String, decoder d: inout ConfigDecoder) -> BoardProfile.GPIOChip {
        guard let o = d.object(value, at: path, keys: BoardKeys.chip) else { return .init(id: "", labels: []) }
        let id = d.id(o) ?? ""
        var labels: [String] = []
        let elements = d.array(o, "labels", required: true)
        if o.has("labels"), elements.isEmpty, o.fields["labels"]?.arrayValue != nil {
            d.report(o.path("labels"), "expected at least one label (the chip's label as the kernel gives it, e.g. \"pinctrl-bcm2711\")")
        }
        for (label, labelPath) in elements {
            guard case .string(let s) = label, !s.isEmpty else {
                d.report(labelPath, label.stringValue == nil ? "expected a string, found \(label.kindName)" : "expected a non-empty string")
                continue
            }
            labels.append(s)
        }
        return .init(id: id, labels: labels)
    }

    private static func decodeGPIOInput(_ value: JSONValue, at path: String, decoder d: inout ConfigDecoder) -> BoardProfile.BoardInput {
        let placeholder = BoardProfile.BoardInput(id: "", source: .gpio(.init(chip: "", line: .name(""))))
        guard let o = d.object(value, at: path, keys: BoardKeys.gpioInput) else { return placeholder }
        let id = d.id(o) ?? ""
        let line = decodeGPIOLine(o, decoder: &d)
        return BoardProfile.BoardInput(id: id, source: .gpio(line),
                                       activeLow: d.bool(o, "active_low") ?? false,
                                       bias: d.choice(o, "bias", BoardProfile.Bias.self) ?? .asIs,
                                       debounceMs: d.int(o, "debounce_ms", in: debounceRange) ?? 50)
    }

    private static func decodeGPIOOutput(_ value: JSONValue, at path: String, decoder d: inout ConfigDecoder) -> BoardProfile.BoardOutput {
        let placeholder = BoardProfile.BoardOutput(id: "", sink: .gpio(.init(chip: "", line: .name(""))))
        guard let o = d.object(value, at: path, keys: BoardKeys.gpioOutput) else { return placeholder }
        let id = d.id(o) ?? ""
        let line = decodeGPIOLine(o, decoder: &d)
        return BoardProfile.BoardOutput(id: id, sink: .gpio(line), activeLow: d.bool(o, "active_low") ?? false,
                                        drive: d.choice(o, "drive", BoardProfile.Drive.self) ?? .pushPull)
    }

    /// `"gpio": {"chip", "line"}`; a line is a name (`"GPIO5"`) or an offset (`5`).
    private static func decodeGPIOLine(_ owner: ConfigDecoder.Object, decoder d: inout ConfigDecoder) -> BoardProfile.GPIOLine {
        guard let o = d.object(owner, "gpio", keys: BoardKeys.gpio, required: true) else {
            return .init(chip: "", line: .name(""))
        }
        let chip = d.string(o, "chip", required: true) ?? ""
        var line = BoardProfile.LineRef.name("")
        switch o.fields["line"] {
        case nil:
            d.report(o.path, "missing required key \"line\"")
        case .string(let name)?:
            if name.isEmpty {
                d.report(o.path("line"), "expected a line name such as \"GPIO5\", found an empty string")
            } else if name.allSatisfy({ $0.isASCII && $0.isNumber }) {
                // Nobody names a line "5"; this is an offset typed in quotes, and as a name it would never be found.
                d.report(o.path("line"), "line \(ConfigText.quoted(name)) is a string: write \(name) without quotes for "
                         + "offset \(name), or the line's name (such as \"GPIO\(name)\")")
            } else {
                line = .name(name)
            }
        case .int?, .double?:
            if let offset = d.int(o, "line", in: 0...65_535) { line = .offset(offset) }
        case let other?:
            d.report(o.path("line"), "expected a line name (a string such as \"GPIO5\") or an offset (an integer), found \(other.kindName)")
        }
        return .init(chip: chip, line: line)
    }

    private static func decodeBus(_ value: JSONValue, at path: String, decoder d: inout ConfigDecoder) -> BoardProfile.ModbusBus {
        let placeholder = BoardProfile.ModbusBus(id: "", transport: .tcp(host: "", port: 0))
        guard let o = d.object(value, at: path, keys: BoardKeys.bus) else { return placeholder }
        let id = d.id(o) ?? ""
        let timeout = d.int(o, "timeout_ms", in: 10...10_000) ?? 200
        var transport = placeholder.transport
        switch (o.has("rtu"), o.has("tcp")) {
        case (true, true):
            d.report(o.path, "give exactly one of \"rtu\" or \"tcp\", found both")
        case (false, false):
            d.report(o.path, "missing required key \"rtu\" or \"tcp\" (a serial RS-485 line or a Modbus TCP peer)")
        default:
            break
        }
        if let rtu = d.object(o, "rtu", keys: BoardKeys.rtu) {
            var device = d.string(rtu, "device", required: true) ?? ""
            if !device.isEmpty && !device.hasPrefix("/") {
                d.report(rtu.path("device"), "expected an absolute device path such as \"/dev/ttyUSB0\", found \(ConfigText.quoted(device))")
                device = ""
            }
            let baud = d.int(rtu, "baud", oneOf: bauds, required: true) ?? 9600
            let parity = d.choice(rtu, "parity", BoardProfile.ModbusBus.Parity.self, required: true) ?? .none
            let dataBits = d.int(rtu, "data_bits", oneOf: [7, 8], required: true) ?? 8
            let stopBits = d.int(rtu, "stop_bits", oneOf: [1, 2], required: true) ?? 1
            if !o.has("tcp") { transport = .rtu(device: device, baud: baud, parity: parity, dataBits: dataBits, stopBits: stopBits) }
        }
        if let tcp = d.object(o, "tcp", keys: BoardKeys.tcp) {
            let host = d.string(tcp, "host", required: true) ?? ""
            let port = d.int(tcp, "port", in: 1...65_535, required: true) ?? 0
            if !o.has("rtu") { transport = .tcp(host: host, port: port) }
        }
        return BoardProfile.ModbusBus(id: id, transport: transport, timeoutMs: timeout)
    }

    private static func decodeDevice(_ value: JSONValue, at path: String, into draft: inout BoardDraft, decoder d: inout ConfigDecoder) {
        guard let o = d.object(value, at: path, keys: BoardKeys.device) else {
            draft.profile.modbusDevices.append(.init(id: "", bus: "", unit: 0))
            return
        }
        var device = BoardProfile.ModbusDevice(id: d.id(o) ?? "", bus: d.string(o, "bus", required: true) ?? "",
                                               unit: d.int(o, "unit", in: 1...247, required: true) ?? 0,
                                               pollMs: d.int(o, "poll_ms", in: 20...600_000) ?? 250,
                                               offlineAfter: d.int(o, "offline_after", in: 1...100) ?? 3)
        for (value, path) in d.array(o, "inputs") {
            let input = decodeModbusInput(value, at: path, device: device.id, decoder: &d)
            draft.profile.inputs.append(input)
            draft.inputPaths.append(path)
            device.inputIDs.append(input.id)
        }
        for (value, path) in d.array(o, "outputs") {
            let output = decodeModbusOutput(value, at: path, device: device.id, decoder: &d)
            draft.profile.outputs.append(output)
            draft.outputPaths.append(path)
            device.outputIDs.append(output.id)
        }
        draft.profile.modbusDevices.append(device)
    }

    private static func decodeModbusInput(_ value: JSONValue, at path: String, device: String,
                                          decoder d: inout ConfigDecoder) -> BoardProfile.BoardInput {
        let unknownPoint = BoardProfile.ModbusInputPoint.discreteInput(address: -1)
        let placeholder = BoardProfile.BoardInput(id: "", source: .modbus(device: device, point: unknownPoint))
        guard let o = d.object(value, at: path, keys: BoardKeys.modbusInput) else { return placeholder }
        let id = d.id(o) ?? ""

        let kinds = BoardKeys.inputPoints.filter(o.has)
        if kinds.isEmpty {
            d.report(o.path, "missing the point to read: one of \(ConfigText.quotedList(BoardKeys.inputPoints))")
        } else if kinds.count > 1 {
            d.report(o.path, "give exactly one of \(ConfigText.quotedList(BoardKeys.inputPoints)), found \(ConfigText.quotedList(kinds))")
        }
        var addresses: [String: Int] = [:]
        for kind in kinds { addresses[kind] = d.int(o, kind, in: addressRange) }

        var point = unknownPoint
        if kinds.count == 1, let kind = kinds.first {
            let address = addresses[kind]
            if let register = BoardProfile.RegisterKind(rawValue: kind) {
                let reads = BoardKeys.registerReads.filter(o.has)
                if reads.isEmpty {
                    d.report(o.path, "missing \"bit\", \"above\" or \"below\": a register input is one bit of it, "
                             + "or the register compared with a threshold")
                } else if reads.count > 1 {
                    d.report(o.path, "give exactly one of \"bit\", \"above\", \"below\", found \(ConfigText.quotedList(reads))")
                }
                let bit = d.int(o, "bit", in: 0...15)
                let above = d.int(o, "above", in: addressRange)
                let below = d.int(o, "below", in: addressRange)
                if reads.count == 1, let address {
                    if let bit { point = .registerBit(register, address: address, bit: bit) }
                    if let above { point = .registerAbove(register, address: address, threshold: above) }
                    if let below { point = .registerBelow(register, address: address, threshold: below) }
                }
            } else {
                for read in BoardKeys.registerReads where o.has(read) {
                    d.report(o.path(read), "\(ConfigText.quoted(read)) applies only to \"input_register\" and \"holding_register\"")
                }
                if let address { point = kind == "coil" ? .coil(address: address) : .discreteInput(address: address) }
            }
        }
        return BoardProfile.BoardInput(id: id, source: .modbus(device: device, point: point),
                                       activeLow: d.bool(o, "active_low") ?? false,
                                       debounceMs: d.int(o, "debounce_ms", in: debounceRange) ?? 50)
    }

    private static func decodeModbusOutput(_ value: JSONValue, at path: String, device: String,
                                           decoder d: inout ConfigDecoder) -> BoardProfile.BoardOutput {
        let unknownPoint = BoardProfile.ModbusOutputPoint.coil(address: -1)
        let placeholder = BoardProfile.BoardOutput(id: "", sink: .modbus(device: device, point: unknownPoint))
        guard let o = d.object(value, at: path, keys: BoardKeys.modbusOutput) else { return placeholder }
        let id = d.id(o) ?? ""
        let coil = d.int(o, "coil", in: addressRange)
        let register = d.int(o, "holding_register", in: addressRange)
        var point = unknownPoint
        switch (o.has("coil"), o.has("holding_register")) {
        case (true, true):
            d.report(o.path, "give exactly one of \"coil\" or \"holding_register\", found both")
        case (false, false):
            d.report(o.path, "missing the point to write: \"coil\" or \"holding_register\" with \"bit\"")
        case (true, false):
            if o.has("bit") { d.report(o.path("bit"), "\"bit\" applies only with \"holding_register\"") }
            if let coil { point = .coil(address: coil) }
        case (false, true):
            // A relay on a register is one bit of it; writing the whole register would switch its neighbours.
            let bit = d.int(o, "bit", in: 0...15)
            if !o.has("bit") { d.report(o.path, "missing required key \"bit\" (required with \"holding_register\")") }
            if let register, let bit { point = .holdingRegisterBit(address: register, bit: bit) }
        }
        return BoardProfile.BoardOutput(id: id, sink: .modbus(device: device, point: point),
                                        activeLow: d.bool(o, "active_low") ?? false)
    }

    // MARK: Cross-checks within the board

    /// Unique ids, existing chip and bus references, and no line, serial port, unit or output point used twice.
    static func checkBoard(_ draft: BoardDraft, decoder d: inout ConfigDecoder) {
        let board = draft.profile

        // GPIO chips and Modbus devices are both supervised "devices" (device.online/offline): one namespace.
        var deviceOwners: [String: String] = [:]
        for (i, chip) in board.gpioChips.enumerated() where !chip.id.isEmpty {
            checkUnique(chip.id, at: "gpio_chips[\(i)]", owners: &deviceOwners, decoder: &d)
        }
        for (i, device) in board.modbusDevices.enumerated() where !device.id.isEmpty {
            let path = "modbus_devices[\(i)]"
            if let first = deviceOwners[device.id], first.hasPrefix("gpio_chips") {
                d.report("\(path).id", "id \(ConfigText.quoted(device.id)) is already used by \(first) "
                         + "(GPIO chips and Modbus devices share one set of ids)")
            } else {
                checkUnique(device.id, at: path, owners: &deviceOwners, decoder: &d)
            }
        }
        var busOwners: [String: String] = [:]
        for (i, bus) in board.modbusBuses.enumerated() where !bus.id.isEmpty {
            checkUnique(bus.id, at: "modbus_buses[\(i)]", owners: &busOwners, decoder: &d)
        }
        var inputOwners: [String: String] = [:]
        for (input, path) in zip(board.inputs, draft.inputPaths) where !input.id.isEmpty {
            checkUnique(input.id, at: path, owners: &inputOwners, decoder: &d)
        }
        var outputOwners: [String: String] = [:]
        for (output, path) in zip(board.outputs, draft.outputPaths) where !output.id.isEmpty {
            checkUnique(output.id, at: path, owners: &outputOwners, decoder: &d)
        }

        // References.
        let chipIDs = board.gpioChips.map(\.id).filter { !$0.isEmpty }
        var lineUsers: [LineKey: String] = [:]
        let lines: [(line: BoardProfile.GPIOLine, user: String, path: String)] =
            zip(board.inputs, draft.inputPaths).compactMap { input, path in
                guard case .gpio(let line) = input.source else { return nil }
                return (line, "input \(ConfigText.quoted(input.id)) (\(path))", path)
            } + zip(board.outputs, draft.outputPaths).compactMap { output, path in
                guard case .gpio(let line) = output.sink else { return nil }
                return (line, "output \(ConfigText.quoted(output.id)) (\(path))", path)
            }
        for (line, user, path) in lines where !line.chip.isEmpty {
            guard chipIDs.contains(line.chip) else {
                d.report("\(path).gpio.chip", noSuch("GPIO chip", line.chip, has: chipIDs))
                continue
            }
            if case .name("") = line.line { continue }
            let key = LineKey(chip: line.chip, line: line.line)
            if let first = lineUsers[key] {
                d.report("\(path).gpio.line", "line \(line.line) of chip \(ConfigText.quoted(line.chip)) is already used by \(first)")
            } else {
                lineUsers[key] = user
            }
        }

        let busIDs = board.modbusBuses.map(\.id).filter { !$0.isEmpty }
        var unitUsers: [String: String] = [:]
        for (i, device) in board.modbusDevices.enumerated() where !device.bus.isEmpty {
            guard busIDs.contains(device.bus) else {
                d.report("modbus_devices[\(i)].bus", noSuch("Modbus bus", device.bus, has: busIDs))
                continue
            }
            // Two devices answering to one unit address on one bus would be one device polled twice.
            guard device.unit > 0 else { continue }
            let key = "\(device.bus)#\(device.unit)"
            if let first = unitUsers[key] {
                d.report("modbus_devices[\(i)].unit", "unit \(device.unit) on bus \(ConfigText.quoted(device.bus)) is already used by \(first)")
            } else {
                unitUsers[key] = "device \(ConfigText.quoted(device.id)) (modbus_devices[\(i)])"
            }
        }

        // Two buses on one serial port would fight over it: one owner per port.
        var portUsers: [String: String] = [:]
        for (i, bus) in board.modbusBuses.enumerated() {
            guard case .rtu(let port, _, _, _, _) = bus.transport, !port.isEmpty else { continue }
            if let first = portUsers[port] {
                d.report("modbus_buses[\(i)].rtu.device", "serial device \(ConfigText.quoted(port)) is already used by \(first)")
            } else {
                portUsers[port] = "bus \(ConfigText.quoted(bus.id)) (modbus_buses[\(i)])"
            }
        }

        var pointUsers: [String: String] = [:]
        for (output, path) in zip(board.outputs, draft.outputPaths) {
            guard case .modbus(let device, let point) = output.sink, !device.isEmpty else { continue }
            let description: String
            switch point {
            case .coil(let address) where address >= 0: description = "coil \(address)"
            case .holdingRegisterBit(let address, let bit): description = "holding_register \(address) bit \(bit)"
            default: continue
            }
            let key = "\(device)#\(description)"
            if let first = pointUsers[key] {
                d.report(path, "\(description) of device \(ConfigText.quoted(device)) is already used by \(first)")
            } else {
                pointUsers[key] = "output \(ConfigText.quoted(output.id)) (\(path))"
            }
        }
    }

    private struct LineKey: Hashable {
        var chip: String
        var line: BoardProfile.LineRef
    }

    /// Records `id` as owned by the element at `path`, or reports it as a repeat of the first owner.
    static func checkUnique(_ id: String, at path: String, owners: inout [String: String], decoder d: inout ConfigDecoder) {
        if let first = owners[id] {
            d.report("\(path).id", "id \(ConfigText.quoted(id)) is already used by \(first)")
        } else {
            owners[id] = path
        }
    }

    /// `no GPIO chip "hdr" (has header)`; with `board`, `no input "in9" on board rpi-relay-3ch (has in1..in4)`.
    static func noSuch(_ kind: String, _ id: String, has ids: [String], board: String? = nil) -> String {
        let on = board.map { " on board \(ConfigText.printable($0))" } ?? ""
        let has = ids.isEmpty ? "has none" : "has \(ConfigText.idList(ids))"
        return "no \(kind) \(ConfigText.quoted(id))\(on) (\(has))"
    }
}
