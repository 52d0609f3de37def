import BridgeCore
import Foundation
import Testing
@testable import BridgeHardware

/// One suite of behaviours every backend keeps, run against each: the simulated board (with a Modbus profile and
/// with a GPIO profile), libmodbus talking to pymodbus over TCP and over RTU (a socat PTY pair), and libgpiod on the
/// kernel's GPIO character device (gpio-sim, in a VM: `KernelGPIOTests`, run by Tools/gpio-vm/check).
@Suite(.serialized) struct BackendContractTests {
    enum Backend: String, CaseIterable, CustomTestStringConvertible {
        case simulated, simulatedGPIO, modbusTCP, modbusRTU, gpioKernel
        var testDescription: String { rawValue }
        /// Those this machine runs; `gpioKernel` needs the VM.
        static let host: [Backend] = [.simulated, .simulatedGPIO, .modbusTCP, .modbusRTU]
    }

    /// A backend under test, with its far side: the device whose input changes and whose output is checked.
    final class Rig {
        let board: any Board
        let recorder: ModbusBoardTests.Recorder
        /// The input, output and supervised device the behaviours use.
        let input, output, device: String
        /// Failed transactions in a row that make the device offline (Modbus `offline_after`; one for a GPIO chip).
        let failuresToOffline: Int
        private let simulated: SimulatedBoard<ContinuousClock>?
        private let peer: ModbusPeer?
        private let sim: GPIOSim?
        /// A level set while the simulated chip is gone, applied once it is back.
        private var pendingInput: Bool?

        init(_ backend: Backend) throws {
            peer = backend == .modbusTCP ? try ModbusPeer(.tcp) : backend == .modbusRTU ? try ModbusPeer(.rtu) : nil
            sim = backend == .gpioKernel ? try GPIOSim() : nil
            let profile: BoardProfile
            switch backend {
            case .simulated: profile = ModbusBoardTests.profile(.tcp(host: "127.0.0.1", port: 1))
            case .modbusTCP: profile = ModbusBoardTests.profile(.tcp(host: "127.0.0.1", port: peer!.port))
            case .modbusRTU: profile = ModbusBoardTests.profile(.rtu(device: peer!.device, baud: 19_200, parity: .none, dataBits: 8, stopBits: 1))
            case .simulatedGPIO, .gpioKernel: profile = GPIOSim.profile()
            }
            let isGPIO = backend == .simulatedGPIO || backend == .gpioKernel
            (input, output, device) = isGPIO ? ("in1", "out1", "header") : ("io.in1", "io.out1", "io")
            failuresToOffline = isGPIO ? 1 : 3
            switch backend {
            case .simulated, .simulatedGPIO:
                let b = SimulatedBoard(profile: profile, clock: ContinuousClock())
                simulated = b
                board = b
            case .modbusTCP, .modbusRTU:
                simulated = nil
                board = ModbusBoard(profile: profile)
            case .gpioKernel:
                simulated = nil
                board = GPIOBoard(profile: profile)
            }
            recorder = ModbusBoardTests.Recorder(board.events)
        }

        /// The input as the device sees it (for GPIO: the contact pulls the active-low line down).
        func setInput(_ active: Bool) throws {
            if let simulated { return try simulated.setInput(input, active: active) }
            if let peer { return try peer.set("di", 0, active ? 1 : 0) }
            guard let sim else { return }
            guard sim.isLive else { pendingInput = active; return }
            try sim.pull("GPIO5", up: !active)
        }

        /// The output as the device has it.
        func outputLevel() throws -> Bool? {
            if let simulated { return simulated.outputLevel(output) }
            if let peer { return try peer.get("co", 0) == 1 }
            return try sim.map { try $0.value("GPIO26") == 0 }
        }

        /// The device stops answering, or answers again.
        func setOnline(_ online: Bool) throws {
            if let simulated { return try simulated.setDevice(device, online: online) }
            if let peer { _ = try peer.command(online ? "unmute 1" : "mute 1"); return }
            guard let sim else { return }
            try sim.setLive(online)
            if online, let level = pendingInput { try sim.pull("GPIO5", up: !level); pendingInput = nil }
        }

        func failures(after mark: Int) -> Int {
            recorder.events.dropFirst(mark).filter { if case .device(device, .failed) = $0 { return true }; return false }.count
        }
    }

    @Test(arguments: Backend.host)
    func readAnInputSeeItChangeAndSetAnOutput(_ backend: Backend) async throws {
        try await Self.readAnInputSeeItChangeAndSetAnOutput(Rig(backend))
    }

    @Test(arguments: Backend.host)
    func aDeviceGoesOfflineAndComesBackWithItsInputs(_ backend: Backend) async throws {
        try await Self.aDeviceGoesOfflineAndComesBackWithItsInputs(Rig(backend))
    }

    static func readAnInputSeeItChangeAndSetAnOutput(_ rig: Rig) async throws {
        defer { rig.board.close() }
        try rig.setInput(true)
        let levels = try rig.board.open(initialOutputs: [rig.output: true])
        #expect(levels[rig.input] == .some(true), "\(levels)")
        #expect(try await eventually { try rig.outputLevel() == true }, "the initial level")
        let mark = rig.recorder.events.count
        try rig.setInput(false)
        #expect(await rig.recorder.wait(after: mark) { $0.isInput(rig.input, active: false) } != nil)
        try rig.board.setOutput(rig.output, active: false)
        #expect(try await eventually { try rig.outputLevel() == false })
        #expect(throws: HardwareError.self) { try rig.board.setOutput("nope", active: true) }
    }

    static func aDeviceGoesOfflineAndComesBackWithItsInputs(_ rig: Rig) async throws {
        defer { rig.board.close() }
        _ = try rig.board.open(initialOutputs: [:])
        #expect(await rig.recorder.wait { $0 == .device(id: rig.device, outcome: .ok) } != nil)
        // The mark before the switch: the simulated board reports the failure at once, and the recorder may
        // have it before a mark taken afterwards (seen on Debian 13's Swift 6.0.3: failures(after:) stayed 0).
        let mark = rig.recorder.events.count
        try rig.setOnline(false)
        #expect(await rig.recorder.wait(after: mark) { _ in rig.failures(after: mark) >= rig.failuresToOffline } != nil)
        #expect(throws: HardwareError.self) { try rig.board.setOutput(rig.output, active: true) }
        try rig.setInput(true)
        let back = rig.recorder.events.count
        try rig.setOnline(true)
        #expect(await rig.recorder.wait(after: back) { $0 == .device(id: rig.device, outcome: .ok) } != nil)
        #expect(await rig.recorder.wait(after: back) { $0.isInput(rig.input, active: true) } != nil, "its inputs are read afresh")
    }
}

extension HardwareEvent {
    /// An input event for `id` at `active`, whatever its timestamp.
    func isInput(_ id: String, active: Bool) -> Bool {
        if case .input(id, active, _) = self { return true }
        return false
    }
}
