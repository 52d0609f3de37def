import BridgeCore
import Foundation
import Testing
@testable import BridgeHardware

/// One suite of behaviours every backend keeps, run against each: the simulated board, and libmodbus talking to
/// pymodbus over TCP and over RTU (a socat PTY pair). (libgpiod on the kernel's gpio-sim joins when it lands.)
@Suite(.serialized) struct BackendContractTests {
    enum Backend: String, CaseIterable, CustomTestStringConvertible {
        case simulated, modbusTCP, modbusRTU
        var testDescription: String { rawValue }
    }

    /// A backend under test, with its far side: the device whose input changes and whose output is checked.
    final class Rig {
        let board: any Board
        let recorder: ModbusBoardTests.Recorder
        private let simulated: SimulatedBoard<ContinuousClock>?
        private let peer: ModbusPeer?

        init(_ backend: Backend) throws {
            let transport: BoardProfile.ModbusBus.Transport
            switch backend {
            case .simulated:
                peer = nil
                transport = .tcp(host: "127.0.0.1", port: 1)
            case .modbusTCP:
                let p = try ModbusPeer(.tcp)
                peer = p
                transport = .tcp(host: "127.0.0.1", port: p.port)
            case .modbusRTU:
                let p = try ModbusPeer(.rtu)
                peer = p
                transport = .rtu(device: p.device, baud: 19_200, parity: .none, dataBits: 8, stopBits: 1)
            }
            let profile = ModbusBoardTests.profile(transport)
            if backend == .simulated {
                let b = SimulatedBoard(profile: profile, clock: ContinuousClock())
                simulated = b
                board = b
            } else {
                simulated = nil
                board = ModbusBoard(profile: profile)
            }
            recorder = ModbusBoardTests.Recorder(board.events)
        }

        /// The input `io.in1` (discrete input 0) as the device sees it.
        func setInput(_ active: Bool) throws {
            if let simulated { try simulated.setInput("io.in1", active: active) } else { try peer?.set("di", 0, active ? 1 : 0) }
        }

        /// The output `io.out1` (coil 0) as the device has it.
        func output() throws -> Bool? {
            if let simulated { return simulated.outputLevel("io.out1") }
            return try peer.map { try $0.get("co", 0) == 1 }
        }

        /// The device stops answering, or answers again.
        func setOnline(_ online: Bool) throws {
            if let simulated { try simulated.setDevice("io", online: online) } else { try peer?.command(online ? "unmute 1" : "mute 1") }
        }
    }

    @Test(arguments: Backend.allCases)
    func readAnInputSeeItChangeAndSetAnOutput(_ backend: Backend) async throws {
        let rig = try Rig(backend)
        defer { rig.board.close() }
        try rig.setInput(true)
        let levels = try rig.board.open(initialOutputs: ["io.out1": true])
        #expect(levels["io.in1"] == .some(true), "\(levels)")
        #expect(try await eventually { try rig.output() == true }, "the initial level")
        let mark = rig.recorder.events.count
        try rig.setInput(false)
        #expect(await rig.recorder.wait(after: mark) { $0 == .input(id: "io.in1", active: false) } != nil)
        try rig.board.setOutput("io.out1", active: false)
        #expect(try await eventually { try rig.output() == false })
        #expect(throws: HardwareError.self) { try rig.board.setOutput("nope", active: true) }
    }

    @Test(arguments: Backend.allCases)
    func aDeviceGoesOfflineAndComesBackWithItsInputs(_ backend: Backend) async throws {
        let rig = try Rig(backend)
        defer { rig.board.close() }
        _ = try rig.board.open(initialOutputs: [:])
        #expect(await rig.recorder.wait { $0 == .device(id: "io", outcome: .ok) } != nil)
        try rig.setOnline(false)
        let mark = rig.recorder.events.count
        // offline_after is 3: the third failure in a row makes it offline, and then its outputs cannot be set.
        #expect(await rig.recorder.wait(after: mark) { _ in
            rig.recorder.events.dropFirst(mark).filter { if case .device(_, .failed) = $0 { return true }; return false }.count >= 3
        } != nil)
        #expect(throws: HardwareError.self) { try rig.board.setOutput("io.out1", active: true) }
        try rig.setInput(true)
        let back = rig.recorder.events.count
        try rig.setOnline(true)
        #expect(await rig.recorder.wait(after: back) { $0 == .device(id: "io", outcome: .ok) } != nil)
        #expect(await rig.recorder.wait(after: back) { $0 == .input(id: "io.in1", active: true) } != nil, "its inputs are read afresh")
    }
}
