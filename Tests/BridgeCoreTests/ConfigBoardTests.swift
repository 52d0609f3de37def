import Testing
import BridgeCore

/// Board profiles: strict decoding and the board's own cross-checks (`ConfigLoader.parseBoard`).
@Suite struct ConfigBoardTests {
    /// The issues `parseBoard` reports for `text`, as printed; `[]` when it decodes.
    private func issues(_ text: String) -> [String] {
        do {
            _ = try ConfigLoader.parseBoard(Array(text.utf8), file: "b.json")
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }

    private func board(_ text: String) throws -> BoardProfile {
        try ConfigLoader.parseBoard(Array(text.utf8), file: "b.json")
    }

    /// A valid board with one chip, two inputs and one output, to which tests add one mistake.
    private func gpioBoard(input: String = #""active_low": true"#, extra: String = "") -> String {
        """
        {"name": "t", "gpio_chips": [{"id": "header", "labels": ["pinctrl-bcm2711"]}],
         "inputs": [{"id": "in1", "gpio": {"chip": "header", "line": "GPIO5"}, \(input)},
                    {"id": "in2", "gpio": {"chip": "header", "line": 6}}],
         "outputs": [{"id": "out1", "gpio": {"chip": "header", "line": "GPIO26"}}]\(extra)}
        """
    }

    private func modbusBoard(inputs: String = #"{"id": "m.in1", "discrete_input": 0}"#,
                             outputs: String = #"{"id": "m.out1", "coil": 0}"#,
                             bus: String = #""rtu": {"device": "/dev/ttyUSB0", "baud": 9600, "parity": "none", "data_bits": 8, "stop_bits": 1}"#,
                             devices: String = "") -> String {
        """
        {"name": "m", "modbus_buses": [{"id": "rs485", \(bus)}],
         "modbus_devices": [{"id": "m", "bus": "rs485", "unit": 1, "inputs": [\(inputs)], "outputs": [\(outputs)]}\(devices)]}
        """
    }

    // MARK: Decoding what is right

    @Test func decodesGPIOBoardWithDefaults() throws {
        let b = try board(gpioBoard())
        #expect(b.name == "t")
        #expect(b.description == nil)
        #expect(b.gpioChips == [.init(id: "header", labels: ["pinctrl-bcm2711"])])
        #expect(b.inputs == [
            .init(id: "in1", source: .gpio(.init(chip: "header", line: .name("GPIO5"))), activeLow: true, bias: .asIs, debounceMs: 50),
            .init(id: "in2", source: .gpio(.init(chip: "header", line: .offset(6))), activeLow: false, bias: .asIs, debounceMs: 50),
        ])
        #expect(b.outputs == [.init(id: "out1", sink: .gpio(.init(chip: "header", line: .name("GPIO26"))), activeLow: false)])
        #expect(b.modbusBuses.isEmpty && b.modbusDevices.isEmpty)
    }

    @Test func decodesModbusPointsAndFlattensThemIntoInputsAndOutputs() throws {
        let b = try board(modbusBoard(
            inputs: #"""
                {"id": "m.in1", "discrete_input": 0}, {"id": "m.c", "coil": 9, "active_low": true, "debounce_ms": 0},
                {"id": "m.bit", "input_register": 4, "bit": 15}, {"id": "m.hot", "holding_register": 3, "above": 450},
                {"id": "m.cold", "input_register": 5, "below": 20}
                """#,
            outputs: #"{"id": "m.out1", "coil": 0}, {"id": "m.r", "holding_register": 10, "bit": 3, "active_low": true}"#))
        #expect(b.modbusBuses == [.init(id: "rs485", transport: .rtu(device: "/dev/ttyUSB0", baud: 9600, parity: .none,
                                                                      dataBits: 8, stopBits: 1), timeoutMs: 200)])
        #expect(b.modbusDevices == [.init(id: "m", bus: "rs485", unit: 1, pollMs: 250, offlineAfter: 3,
                                          inputIDs: ["m.in1", "m.c", "m.bit", "m.hot", "m.cold"], outputIDs: ["m.out1", "m.r"])])
        #expect(b.inputs.map(\.source) == [
            .modbus(device: "m", point: .discreteInput(address: 0)),
            .modbus(device: "m", point: .coil(address: 9)),
            .modbus(device: "m", point: .registerBit(.input, address: 4, bit: 15)),
            .modbus(device: "m", point: .registerAbove(.holding, address: 3, threshold: 450)),
            .modbus(device: "m", point: .registerBelow(.input, address: 5, threshold: 20)),
        ])
        #expect(b.inputs[1].activeLow && b.inputs[1].debounceMs == 0)
        #expect(b.outputs == [
            .init(id: "m.out1", sink: .modbus(device: "m", point: .coil(address: 0))),
            .init(id: "m.r", sink: .modbus(device: "m", point: .holdingRegisterBit(address: 10, bit: 3)), activeLow: true),
        ])
    }

    @Test func decodesTCPBus() throws {
        let b = try board(modbusBoard(bus: #""tcp": {"host": "10.0.0.5", "port": 502}, "timeout_ms": 1000"#))
        #expect(b.modbusBuses == [.init(id: "rs485", transport: .tcp(host: "10.0.0.5", port: 502), timeoutMs: 1000)])
    }

    @Test func acceptsAnIntegerWrittenWithAZeroFraction() throws {
        #expect(try board(gpioBoard(input: #""debounce_ms": 30.0"#)).inputs[0].debounceMs == 30)
    }

    // MARK: Decoding what is wrong

    @Test func malformedJSONIsOneIssueWithLineAndColumn() {
        #expect(issues("{\"name\": \"t\",\n \"inputs\": [}") == [
            #"b.json: not valid JSON: line 2, column 13: expected a value, found "}""#,
        ])
    }

    @Test func emptyFileIsOneIssue() {
        #expect(issues(" \n") == ["b.json: file is empty; expected a JSON object"])
    }

    @Test func topLevelMustBeAnObject() {
        #expect(issues("[]") == ["b.json: expected a JSON object ({...}) at the top of the file, found an array"])
    }

    @Test func unknownKeyIsReportedWithTheLikelyKey() {
        #expect(issues(gpioBoard(input: #""debounse_ms": 20"#)) == [
            #"b.json: inputs[0]: unknown key "debounse_ms"; did you mean "debounce_ms"?"#,
        ])
        #expect(issues(gpioBoard(extra: #", "colour": "red""#)) == [#"b.json: unknown key "colour""#])
    }

    @Test func repeatedKeyIsReported() {
        #expect(issues(gpioBoard(input: #""debounce_ms": 20, "debounce_ms": 5000"#)) == [
            #"b.json: inputs[0]: key "debounce_ms" appears twice (line 2); keep one"#,
        ])
    }

    @Test func missingRequiredKeysAreReported() {
        #expect(issues(#"{"inputs": [{"gpio": {"line": 5}}]}"#) == [
            #"b.json: missing required key "name""#,
            #"b.json: inputs[0]: missing required key "id""#,
            #"b.json: inputs[0].gpio: missing required key "chip""#,
        ])
        #expect(issues(#"{"name": "t", "inputs": [{"id": "in1"}]}"#) == [#"b.json: inputs[0]: missing required key "gpio""#])
    }

    @Test func wrongTypesAreReported() {
        #expect(issues(gpioBoard(input: #""debounce_ms": "50""#)) == [
            "b.json: inputs[0].debounce_ms: expected an integer, found a string",
        ])
        #expect(issues(gpioBoard(input: #""debounce_ms": 2.5"#)) == ["b.json: inputs[0].debounce_ms: expected an integer, found 2.5"])
        #expect(issues(gpioBoard(input: #""active_low": "yes""#)) == [
            "b.json: inputs[0].active_low: expected true or false, found a string",
        ])
        #expect(issues(gpioBoard(input: #""active_low": null"#)) == ["b.json: inputs[0].active_low: expected true or false, found null"])
        #expect(issues(#"{"name": 7, "inputs": {}}"#) == [
            "b.json: name: expected a string, found a number",
            "b.json: inputs: expected an array ([...]), found an object",
        ])
        #expect(issues(#"{"name": "t", "outputs": ["out1"]}"#) == ["b.json: outputs[0]: expected an object, found a string"])
    }

    @Test func outOfRangeValuesAreReported() {
        #expect(issues(gpioBoard(input: #""debounce_ms": 70000"#)) == [
            "b.json: inputs[0].debounce_ms: debounce_ms 70000 is out of range 0...60000",
        ])
        #expect(issues(gpioBoard(input: #""debounce_ms": -1"#)) == [
            "b.json: inputs[0].debounce_ms: debounce_ms -1 is out of range 0...60000",
        ])
        #expect(issues(modbusBoard(devices: #", {"id": "n", "bus": "rs485", "unit": 248, "poll_ms": 10, "offline_after": 0}"#)) == [
            "b.json: modbus_devices[1].unit: unit 248 is out of range 1...247",
            "b.json: modbus_devices[1].poll_ms: poll_ms 10 is out of range 20...600000",
            "b.json: modbus_devices[1].offline_after: offline_after 0 is out of range 1...100",
        ])
        #expect(issues(modbusBoard(bus: #""tcp": {"host": "h", "port": 0}, "timeout_ms": 5"#)) == [
            "b.json: modbus_buses[0].timeout_ms: timeout_ms 5 is out of range 10...10000",
            "b.json: modbus_buses[0].tcp.port: port 0 is out of range 1...65535",
        ])
    }

    @Test func badEnumValuesListTheChoices() {
        #expect(issues(gpioBoard(input: #""bias": "pull-up""#)) == [
            #"b.json: inputs[0].bias: expected one of "as_is", "disabled", "pull_up", "pull_down", found "pull-up"; did you mean "pull_up"?"#,
        ])
        #expect(issues(gpioBoard(input: #""bias": "float""#)) == [
            #"b.json: inputs[0].bias: expected one of "as_is", "disabled", "pull_up", "pull_down", found "float""#,
        ])
        let bus = #""rtu": {"device": "/dev/ttyUSB0", "baud": 9601, "parity": "mark", "data_bits": 6, "stop_bits": 3}"#
        #expect(issues(modbusBoard(bus: bus)) == [
            "b.json: modbus_buses[0].rtu.baud: expected one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, found 9601",
            #"b.json: modbus_buses[0].rtu.parity: expected one of "none", "even", "odd", found "mark""#,
            "b.json: modbus_buses[0].rtu.data_bits: expected one of 7, 8, found 6",
            "b.json: modbus_buses[0].rtu.stop_bits: expected one of 1, 2, found 3",
        ])
    }

    @Test func chipLabelsMustBeANonEmptyListOfNames() {
        #expect(issues(#"{"name": "t", "gpio_chips": [{"id": "a", "labels": []}, {"id": "b", "labels": ["x", 3, ""]}, {"id": "c"}]}"#) == [
            #"b.json: gpio_chips[0].labels: expected at least one label (the chip's label as the kernel gives it, e.g. "pinctrl-bcm2711")"#,
            "b.json: gpio_chips[1].labels[1]: expected a string, found a number",
            "b.json: gpio_chips[1].labels[2]: expected a non-empty string",
            #"b.json: gpio_chips[2]: missing required key "labels""#,
        ])
    }

    @Test func lineIsANameOrANonNegativeOffset() {
        #expect(issues(gpioBoard(extra: #", "modbus_buses": []"#).edited(#""line": 6"#, #""line": "6""#)) == [
            #"b.json: inputs[1].gpio.line: line "6" is a string: write 6 without quotes for offset 6, or the line's name (such as "GPIO6")"#,
        ])
        #expect(issues(gpioBoard().edited(#""line": 6"#, #""line": -6"#)) == [
            "b.json: inputs[1].gpio.line: line -6 is out of range 0...65535",
        ])
        #expect(issues(gpioBoard().edited(#""line": 6"#, #""line": true"#)) == [
            #"b.json: inputs[1].gpio.line: expected a line name (a string such as "GPIO5") or an offset (an integer), found a boolean"#,
        ])
    }

    @Test func idsMayNotContainWhitespace() {
        #expect(issues(gpioBoard().edited(#""id": "in2""#, #""id": "in 2""#)) == [
            #"b.json: inputs[1].id: id "in 2" contains whitespace or a control character; ids are typed on the command line"#,
        ])
    }

    @Test func controlCharactersInQuotedTextAreEscaped() {
        // The file writes the escape; the message must show it escaped too, never the raw byte.
        #expect(issues(gpioBoard().edited(#""id": "in2""#, #""id": "door\u0001""#)) == [
            #"b.json: inputs[1].id: id "door\u{1}" contains whitespace or a control character; ids are typed on the command line"#,
        ])
        #expect(issues(gpioBoard().edited(#""active_low": true"#, #""active_low": true, "b\u001b[31m": 1"#)).first?
            .hasPrefix(#"b.json: inputs[0]: unknown key "b\u{1B}[31m""#) == true)
    }

    @Test func busNeedsExactlyOneOfRTUOrTCP() {
        #expect(issues(modbusBoard(bus: #""timeout_ms": 100"#)) == [
            #"b.json: modbus_buses[0]: missing required key "rtu" or "tcp" (a serial RS-485 line or a Modbus TCP peer)"#,
        ])
        let both = #""rtu": {"device": "/dev/ttyUSB0", "baud": 9600, "parity": "none", "data_bits": 8, "stop_bits": 1}, "tcp": {"host": "h", "port": 502}"#
        #expect(issues(modbusBoard(bus: both)) == [#"b.json: modbus_buses[0]: give exactly one of "rtu" or "tcp", found both"#])
        #expect(issues(modbusBoard(bus: #""rtu": {"device": "ttyUSB0"}"#)) == [
            #"b.json: modbus_buses[0].rtu.device: expected an absolute device path such as "/dev/ttyUSB0", found "ttyUSB0""#,
            #"b.json: modbus_buses[0].rtu: missing required key "baud""#,
            #"b.json: modbus_buses[0].rtu: missing required key "parity""#,
            #"b.json: modbus_buses[0].rtu: missing required key "data_bits""#,
            #"b.json: modbus_buses[0].rtu: missing required key "stop_bits""#,
        ])
        #expect(issues(modbusBoard(bus: #""tcp": {"host": ""}"#)) == [
            #"b.json: modbus_buses[0].tcp.host: expected a non-empty string"#,
            #"b.json: modbus_buses[0].tcp: missing required key "port""#,
        ])
    }

    @Test func modbusInputNeedsExactlyOnePointAndARegisterReading() {
        #expect(issues(modbusBoard(inputs: #"{"id": "a"}"#)) == [
            #"b.json: modbus_devices[0].inputs[0]: missing the point to read: one of "discrete_input", "coil", "input_register", "holding_register""#,
        ])
        #expect(issues(modbusBoard(inputs: #"{"id": "a", "coil": 1, "discrete_input": 1}"#)) == [
            #"b.json: modbus_devices[0].inputs[0]: give exactly one of "discrete_input", "coil", "input_register", "holding_register", found "discrete_input", "coil""#,
        ])
        #expect(issues(modbusBoard(inputs: #"{"id": "a", "holding_register": 3}"#)) == [
            #"b.json: modbus_devices[0].inputs[0]: missing "bit", "above" or "below": a register input is one bit of it, or the register compared with a threshold"#,
        ])
        #expect(issues(modbusBoard(inputs: #"{"id": "a", "holding_register": 3, "bit": 16, "above": 1}"#)) == [
            #"b.json: modbus_devices[0].inputs[0]: give exactly one of "bit", "above", "below", found "bit", "above""#,
            "b.json: modbus_devices[0].inputs[0].bit: bit 16 is out of range 0...15",
        ])
        #expect(issues(modbusBoard(inputs: #"{"id": "a", "discrete_input": 70000, "bit": 1}"#)) == [
            "b.json: modbus_devices[0].inputs[0].discrete_input: discrete_input 70000 is out of range 0...65535",
            #"b.json: modbus_devices[0].inputs[0].bit: "bit" applies only to "input_register" and "holding_register""#,
        ])
        #expect(issues(modbusBoard(inputs: #"{"id": "a", "coil": 1, "bias": "pull_up"}"#)) == [
            #"b.json: modbus_devices[0].inputs[0]: unknown key "bias""#,
        ])
    }

    @Test func modbusOutputIsACoilOrARegisterBit() {
        #expect(issues(modbusBoard(outputs: #"{"id": "a", "holding_register": 2}"#)) == [
            #"b.json: modbus_devices[0].outputs[0]: missing required key "bit" (required with "holding_register")"#,
        ])
        #expect(issues(modbusBoard(outputs: #"{"id": "a", "coil": 2, "bit": 1}"#)) == [
            #"b.json: modbus_devices[0].outputs[0].bit: "bit" applies only with "holding_register""#,
        ])
        #expect(issues(modbusBoard(outputs: #"{"id": "a", "coil": 2, "holding_register": 2, "bit": 1}"#)) == [
            #"b.json: modbus_devices[0].outputs[0]: give exactly one of "coil" or "holding_register", found both"#,
        ])
        #expect(issues(modbusBoard(outputs: #"{"id": "a"}"#)) == [
            #"b.json: modbus_devices[0].outputs[0]: missing the point to write: "coil" or "holding_register" with "bit""#,
        ])
    }

    // MARK: Cross-checks within the board

    @Test func inputIDsAreUniqueAcrossGPIOAndModbus() {
        let text = """
            {"name": "x", "gpio_chips": [{"id": "header", "labels": ["l"]}],
             "inputs": [{"id": "in1", "gpio": {"chip": "header", "line": 5}}, {"id": "in1", "gpio": {"chip": "header", "line": 6}}],
             "modbus_buses": [{"id": "b", "tcp": {"host": "h", "port": 502}}],
             "modbus_devices": [{"id": "m", "bus": "b", "unit": 1, "inputs": [{"id": "in1", "coil": 0}]}]}
            """
        #expect(issues(text) == [
            #"b.json: inputs[1].id: id "in1" is already used by inputs[0]"#,
            #"b.json: modbus_devices[0].inputs[0].id: id "in1" is already used by inputs[0]"#,
        ])
    }

    @Test func outputAndBusIDsAreUnique() {
        #expect(issues(gpioBoard(extra: #", "modbus_buses": [{"id": "b", "tcp": {"host": "h", "port": 1}}, {"id": "b", "tcp": {"host": "h", "port": 2}}]"#)
                    .edited(#""outputs": [{"id": "out1", "gpio": {"chip": "header", "line": "GPIO26"}}]"#,
                                          #""outputs": [{"id": "o", "gpio": {"chip": "header", "line": 26}}, {"id": "o", "gpio": {"chip": "header", "line": 27}}]"#)) == [
            #"b.json: modbus_buses[1].id: id "b" is already used by modbus_buses[0]"#,
            #"b.json: outputs[1].id: id "o" is already used by outputs[0]"#,
        ])
    }

    @Test func chipsAndModbusDevicesShareOneSetOfIDs() {
        let text = """
            {"name": "x", "gpio_chips": [{"id": "io", "labels": ["l"]}],
             "modbus_buses": [{"id": "b", "tcp": {"host": "h", "port": 502}}],
             "modbus_devices": [{"id": "io", "bus": "b", "unit": 1}, {"id": "io", "bus": "b", "unit": 2}]}
            """
        #expect(issues(text) == [
            #"b.json: modbus_devices[0].id: id "io" is already used by gpio_chips[0] (GPIO chips and Modbus devices share one set of ids)"#,
            #"b.json: modbus_devices[1].id: id "io" is already used by gpio_chips[0] (GPIO chips and Modbus devices share one set of ids)"#,
        ])
    }

    @Test func chipAndBusReferencesMustExist() {
        #expect(issues(gpioBoard().edited(#"{"chip": "header", "line": 6}"#, #"{"chip": "hdr", "line": 6}"#)) == [
            #"b.json: inputs[1].gpio.chip: no GPIO chip "hdr" (has header)"#,
        ])
        #expect(issues(#"{"name": "x", "outputs": [{"id": "o", "gpio": {"chip": "c", "line": 1}}]}"#) == [
            #"b.json: outputs[0].gpio.chip: no GPIO chip "c" (has none)"#,
        ])
        #expect(issues(modbusBoard().edited(#""bus": "rs485""#, #""bus": "rs458""#)) == [
            #"b.json: modbus_devices[0].bus: no Modbus bus "rs458" (has rs485)"#,
        ])
    }

    @Test func aLineIsUsedOnceByInputsAndOutputs() {
        let text = gpioBoard().edited(#""line": "GPIO26""#, #""line": "GPIO5""#)
            .edited(#"{"id": "in2", "gpio": {"chip": "header", "line": 6}}"#,
                                  #"{"id": "in2", "gpio": {"chip": "header", "line": 6}}, {"id": "in3", "gpio": {"chip": "header", "line": 6}}"#)
        #expect(issues(text) == [
            #"b.json: inputs[2].gpio.line: line 6 of chip "header" is already used by input "in2" (inputs[1])"#,
            #"b.json: outputs[0].gpio.line: line GPIO5 of chip "header" is already used by input "in1" (inputs[0])"#,
        ])
    }

    @Test func aModbusOutputPointIsWrittenByOneOutputOnly() {
        let outputs = #"""
            {"id": "a", "coil": 0}, {"id": "b", "coil": 0}, {"id": "c", "holding_register": 4, "bit": 1},
            {"id": "d", "holding_register": 4, "bit": 2}, {"id": "e", "holding_register": 4, "bit": 1}
            """#
        #expect(issues(modbusBoard(outputs: outputs)) == [
            #"b.json: modbus_devices[0].outputs[1]: coil 0 of device "m" is already used by output "a" (modbus_devices[0].outputs[0])"#,
            #"b.json: modbus_devices[0].outputs[4]: holding_register 4 bit 1 of device "m" is already used by output "c" (modbus_devices[0].outputs[2])"#,
        ])
        // Reading one point from two inputs is harmless.
        #expect(issues(modbusBoard(inputs: #"{"id": "a", "coil": 0}, {"id": "b", "coil": 0}"#)) == [])
    }

    @Test func aUnitAndASerialPortHaveOneOwner() {
        let text = """
            {"name": "x", "modbus_buses": [
               {"id": "a", "rtu": {"device": "/dev/ttyUSB0", "baud": 9600, "parity": "none", "data_bits": 8, "stop_bits": 1}},
               {"id": "b", "rtu": {"device": "/dev/ttyUSB0", "baud": 19200, "parity": "even", "data_bits": 8, "stop_bits": 1}}],
             "modbus_devices": [{"id": "m1", "bus": "a", "unit": 1}, {"id": "m2", "bus": "a", "unit": 1}, {"id": "m3", "bus": "b", "unit": 1}]}
            """
        #expect(issues(text) == [
            #"b.json: modbus_devices[1].unit: unit 1 on bus "a" is already used by device "m1" (modbus_devices[0])"#,
            #"b.json: modbus_buses[1].rtu.device: serial device "/dev/ttyUSB0" is already used by bus "a" (modbus_buses[0])"#,
        ])
    }

    @Test func everyProblemIsReportedAtOnce() {
        let text = """
            {"name": "",
             "gpio_chips": [{"id": "header", "labels": ["l"]}],
             "inputs": [{"id": "in1", "gpio": {"chip": "header", "line": "GPIO5"}, "debounse_ms": 10, "bias": "up"},
                        {"id": "in1", "gpio": {"chip": "hdr", "line": "GPIO6"}, "debounce_ms": 70000}],
             "outputs": [{"id": "out1", "gpio": {"chip": "header", "line": "GPIO5"}, "active_low": 1}]}
            """
        #expect(issues(text) == [
            "b.json: name: expected a non-empty string",
            #"b.json: inputs[0]: unknown key "debounse_ms"; did you mean "debounce_ms"?"#,
            #"b.json: inputs[0].bias: expected one of "as_is", "disabled", "pull_up", "pull_down", found "up""#,
            "b.json: inputs[1].debounce_ms: debounce_ms 70000 is out of range 0...60000",
            "b.json: outputs[0].active_low: expected true or false, found a number",
            #"b.json: inputs[1].id: id "in1" is already used by inputs[0]"#,
            #"b.json: inputs[1].gpio.chip: no GPIO chip "hdr" (has header)"#,
            #"b.json: outputs[0].gpio.line: line GPIO5 of chip "header" is already used by input "in1" (inputs[0])"#,
        ])
    }

    @Test func loadBoardNamesTheFileInIssues() {
        do {
            _ = try ConfigLoader.loadBoard(path: "/nonexistent/chekt-bridge/board.json")
            Issue.record("a missing file loaded")
        } catch {
            #expect(error.description == "/nonexistent/chekt-bridge/board.json: cannot read: No such file or directory")
        }
    }
}

fileprivate extension String {
    /// Test shorthand: the text with every `target` replaced, failing loudly when `target` is absent.
    func edited(_ target: String, _ replacement: String, sourceLocation: SourceLocation = #_sourceLocation) -> String {
        let parts = self.split(separator: target, omittingEmptySubsequences: false)
        #expect(parts.count > 1, "test text does not contain \(target)", sourceLocation: sourceLocation)
        return parts.joined(separator: replacement)
    }
}
