import BridgeCore
import Testing
@testable import BridgeHardware

/// What a Modbus device's poll reads, and how the values become levels: numbers only, no bus.
@Suite struct ModbusPlanTests {
    func plan(inputs: [BoardProfile.ModbusInputPoint], outputs: [BoardProfile.ModbusOutputPoint] = [], activeLow: Bool = false) -> ModbusPlan {
        let inputIDs = inputs.indices.map { "in\($0)" }
        let outputIDs = outputs.indices.map { "out\($0)" }
        let profile = BoardProfile(
            name: "p",
            inputs: zip(inputIDs, inputs).map { .init(id: $0, source: .modbus(device: "d", point: $1), activeLow: activeLow) },
            outputs: zip(outputIDs, outputs).map { .init(id: $0, sink: .modbus(device: "d", point: $1)) },
            modbusBuses: [.init(id: "b", transport: .tcp(host: "h", port: 502))],
            modbusDevices: [.init(id: "d", bus: "b", unit: 1, inputIDs: inputIDs, outputIDs: outputIDs)])
        return ModbusPlan(device: profile.modbusDevices[0], profile: profile)
    }

    @Test func contiguousAddressesAreOneReadAndAGapStartsAnother() {
        let p = plan(inputs: [.discreteInput(address: 3), .discreteInput(address: 0), .discreteInput(address: 1), .discreteInput(address: 2),
                              .discreteInput(address: 7), .coil(address: 0)],
                     outputs: [.coil(address: 1), .holdingRegisterBit(address: 10, bit: 2)])
        #expect(p.reads == [.init(table: .discreteInputs, address: 0, count: 4), .init(table: .discreteInputs, address: 7, count: 1),
                            .init(table: .coils, address: 0, count: 2), .init(table: .holdingRegisters, address: 10, count: 1)])
        #expect(p.inputSlots.map(\.read) == [0, 0, 0, 0, 1, 2] && p.inputSlots.map(\.offset) == [3, 0, 1, 2, 0, 0])
        #expect(p.outputSlots == [.init(read: 2, offset: 1), .init(read: 3, offset: 0)])
    }

    @Test func noReadIsLongerThanTheProtocolAllows() {
        let registers = plan(inputs: (0..<300).map { .registerBit(.holding, address: $0, bit: 0) })
        #expect(registers.reads.map(\.count) == [125, 125, 50])
        let bits = plan(inputs: (0..<2001).map { .discreteInput(address: $0) })
        #expect(bits.reads.map(\.count) == [2000, 1])
    }

    @Test func bitsThresholdsAndActiveLow() {
        let p = plan(inputs: [.registerBit(.input, address: 5, bit: 3), .registerAbove(.holding, address: 9, threshold: 450),
                              .registerBelow(.holding, address: 10, threshold: 100), .discreteInput(address: 0)],
                     outputs: [.coil(address: 0), .holdingRegisterBit(address: 9, bit: 15)])
        // Reads: discrete inputs [0], coils [0], input registers [5], holding registers [9, 10].
        let values = [[1], [0], [0b1000], [0x8000 | 451, 99]]
        #expect(p.inputs.indices.map { p.inputLevel($0, in: values) } == [true, true, true, true])
        #expect(p.outputs.indices.map { p.outputLevel($0, in: values) } == [false, true])
        let low = plan(inputs: [.discreteInput(address: 0)], activeLow: true)
        #expect(low.inputLevel(0, in: [[1]]) == false && low.inputLevel(0, in: [[0]]) == true)
        #expect(p.inputLevel(1, in: [[1], [0], [0], [450, 100]]) == false, "above is strict")
        #expect(p.inputLevel(2, in: [[1], [0], [0], [450, 100]]) == false, "below is strict")
    }
}
