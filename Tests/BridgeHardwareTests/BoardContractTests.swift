import BridgeCore
import Testing
@testable import BridgeHardware

/// The contract every board backend keeps, run against each backend this machine can offer.
/// (The simulated board here; BackendContractTests runs the behaviours every backend shares against each.)
@Suite struct BoardContractTests {
    static let profile = BoardProfile(
        name: "contract",
        gpioChips: [.init(id: "header", labels: ["pinctrl-bcm2711"])],
        inputs: [
            .init(id: "in1", source: .gpio(.init(chip: "header", line: .name("GPIO5"))), activeLow: true, bias: .pullUp),
            .init(id: "in2", source: .gpio(.init(chip: "header", line: .offset(6)))),
            .init(id: "io.in1", source: .modbus(device: "io", point: .discreteInput(address: 0))),
        ],
        outputs: [
            .init(id: "out1", sink: .gpio(.init(chip: "header", line: .name("GPIO26"))), activeLow: true),
            .init(id: "io.out1", sink: .modbus(device: "io", point: .coil(address: 0))),
        ],
        modbusBuses: [.init(id: "tcp", transport: .tcp(host: "127.0.0.1", port: 5020))],
        modbusDevices: [.init(id: "io", bus: "tcp", unit: 1, pollMs: 100, offlineAfter: 3, inputIDs: ["io.in1"], outputIDs: ["io.out1"])]
    )

    /// Collects hardware events as they arrive (the one recorder of these suites).
    typealias Recorder = ModbusBoardTests.Recorder

    @Test func outputsComeUpAtTheirInitialLevelAndInputsAreRead() throws {
        let board = SimulatedBoard(profile: Self.profile, clock: ManualClock())
        let levels = try board.open(initialOutputs: ["out1": true, "io.out1": false])
        #expect(board.outputLevel("out1") == true)
        #expect(board.outputLevel("io.out1") == false)
        #expect(Set(levels.keys) == ["in1", "in2", "io.in1"])
        #expect(levels["in1"] == .some(false))
        board.close()
    }

    @Test func openingTwiceIsRefused() throws {
        let board = SimulatedBoard(profile: Self.profile, clock: ManualClock())
        _ = try board.open(initialOutputs: [:])
        #expect(throws: HardwareError.self) { _ = try board.open(initialOutputs: [:]) }
        board.close()
    }

    @Test func unknownOutputIsNamed() throws {
        let board = SimulatedBoard(profile: Self.profile, clock: ManualClock())
        _ = try board.open(initialOutputs: [:])
        do {
            try board.setOutput("out9", active: true)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .notFound)
            #expect(error.description.contains("out9"))
        }
        board.close()
    }

    @Test func inputChangesAreReportedOnceEach() async throws {
        let board = SimulatedBoard(profile: Self.profile, clock: ManualClock())
        let recorder = Recorder(board.events)
        _ = try board.open(initialOutputs: [:])
        try board.setInput("in1", active: true)
        try board.setInput("in1", active: true)  // no change: nothing reported
        try board.setInput("in1", active: false)
        let events = await recorder.waitFor(4)
        #expect(events.filter { if case .input = $0 { return true }; return false }
            == [.input(id: "in1", active: true), .input(id: "in1", active: false)])
        board.close()
    }

    @Test func modbusDevicesArePolledOnTheClockAndFailWhenOffline() async throws {
        let clock = ManualClock()
        let board = SimulatedBoard(profile: Self.profile, clock: clock)
        let recorder = Recorder(board.events)
        _ = try board.open(initialOutputs: [:])
        // First poll at once, then every 100 ms of the manual clock.
        _ = await recorder.waitFor(2)
        try board.setDevice("io", online: false)
        for _ in 0..<3 {
            while clock.sleeperCount == 0 { await Task.yield() }
            clock.advance(by: .milliseconds(100))
        }
        let events = await recorder.waitFor(5)
        let io = events.compactMap { e -> DeviceOutcome? in
            if case .device("io", let o) = e { return o }; return nil
        }
        #expect(io.first == .ok)
        #expect(io.dropFirst().allSatisfy { $0 == .failed(reason: "timeout") })
        #expect(io.count >= 3)
        #expect(throws: HardwareError.self) { try board.setOutput("io.out1", active: true) }
        board.close()
    }

    @Test func aDeviceBackOnlineReportsItsInputsAfresh() async throws {
        let clock = ManualClock()
        let board = SimulatedBoard(profile: Self.profile, clock: clock)
        let recorder = Recorder(board.events)
        _ = try board.open(initialOutputs: [:])
        try board.setDevice("header", online: false)
        try board.setInput("in2", active: true)   // not reported while the chip is gone
        try board.setDevice("header", online: true)
        let events = await recorder.waitFor(6)
        let tail = events.filter { if case .device("io", _) = $0 { return false }; return true }
        #expect(tail == [
            .device(id: "header", outcome: .ok),
            .device(id: "header", outcome: .failed(reason: "gpio chip not found")),
            .device(id: "header", outcome: .ok),
            .input(id: "in1", active: false),
            .input(id: "in2", active: true),
        ])
        board.close()
    }

    @Test func unknownSimulatedTargetsListWhatExists() throws {
        let board = SimulatedBoard(profile: Self.profile, clock: ManualClock())
        do { try board.setInput("in9", active: true); Issue.record("expected an error") } catch {
            #expect(error.message.contains("in1, in2, io.in1"))
        }
        do { try board.setDevice("nope", online: false); Issue.record("expected an error") } catch {
            #expect(error.message.contains("header, io"))
        }
    }
}
