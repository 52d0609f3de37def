import BridgeCore
import BridgeSystem
import Foundation
import Testing
@testable import BridgeHardware

/// The libmodbus backend against pymodbus, a Modbus server we did not write, over TCP on 127.0.0.1 and RTU over a
/// socat PTY pair. Real I/O, so these wait for outcomes (with a deadline), never for a fixed time.
@Suite(.serialized) struct ModbusBoardTests {
    static func profile(_ transport: BoardProfile.ModbusBus.Transport, offlineAfter: Int = 3) -> BoardProfile {
        BoardProfile(
            name: "modbus-test",
            inputs: [
                .init(id: "io.in1", source: .modbus(device: "io", point: .discreteInput(address: 0))),
                .init(id: "io.in2", source: .modbus(device: "io", point: .discreteInput(address: 1)), activeLow: true),
                .init(id: "io.hot", source: .modbus(device: "io", point: .registerAbove(.holding, address: 10, threshold: 450))),
                .init(id: "io.bit", source: .modbus(device: "io", point: .registerBit(.input, address: 5, bit: 3))),
            ],
            outputs: [
                .init(id: "io.out1", sink: .modbus(device: "io", point: .coil(address: 0))),
                .init(id: "io.out2", sink: .modbus(device: "io", point: .holdingRegisterBit(address: 20, bit: 2))),
            ],
            modbusBuses: [.init(id: "bus", transport: transport, timeoutMs: 100)],
            modbusDevices: [.init(id: "io", bus: "bus", unit: 1, pollMs: 40, offlineAfter: offlineAfter,
                                  inputIDs: ["io.in1", "io.in2", "io.hot", "io.bit"], outputIDs: ["io.out1", "io.out2"])])
    }

    /// Collects a board's events; a waiter wakes when the next one is recorded (or at its deadline), never polls.
    final class Recorder: @unchecked Sendable {
        private let lock = NSLock()
        private var list: [HardwareEvent] = []
        private var sleepers: [UInt64: CheckedContinuation<Void, Never>] = [:]
        private var nextSleeper: UInt64 = 0
        /// The stream is read on a thread of its own, not on the concurrency pool: the suite's other tests block
        /// pool threads (synchronous waits on processes), and a recorder queued behind them would see nothing.
        private let executor = ThreadExecutor(name: "recorder")
        init(_ stream: AsyncStream<HardwareEvent>) {
            Task(executorPreference: executor) { [self] in for await e in stream { record(e) } }
        }
        var events: [HardwareEvent] { lock.withLock { list } }

        private func record(_ event: HardwareEvent) {
            let woken = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
                list.append(event)
                defer { sleepers = [:] }
                return Array(sleepers.values)
            }
            for sleeper in woken { sleeper.resume() }
        }

        /// Waits up to `seconds` for an event matching `match` after the first `after` events. `match` runs on the
        /// waiting task, outside the lock (it may read `events`). Async, so that waiting never holds a pool thread.
        func wait(after: Int = 0, seconds: Double = 5, _ match: (HardwareEvent) -> Bool) async -> HardwareEvent? {
            let deadline = DispatchTime.now() + seconds
            while true {
                let seen = events
                if let e = seen.dropFirst(after).first(where: match) { return e }
                if DispatchTime.now() >= deadline { return nil }
                await next(after: seen.count, until: deadline)
            }
        }

        /// The events once there are at least `count` (or what there is after `seconds`).
        func waitFor(_ count: Int, seconds: Double = 5) async -> [HardwareEvent] {
            _ = await wait(after: max(0, count - 1), seconds: seconds) { _ in true }
            return events
        }

        /// Returns once more than `count` events are recorded, or at `deadline`.
        private func next(after count: Int, until deadline: DispatchTime) async {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let id = lock.withLock { () -> UInt64? in
                    guard list.count == count else { return nil }
                    nextSleeper += 1
                    sleepers[nextSleeper] = c
                    return nextSleeper
                }
                guard let id else { return c.resume() }  // recorded meanwhile
                DispatchQueue.global().asyncAfter(deadline: deadline) { [self] in
                    lock.withLock { sleepers.removeValue(forKey: id) }?.resume()
                }
            }
        }
    }


    func failed(_ e: HardwareEvent) -> String? {
        if case .device("io", .failed(let reason)) = e { return reason }
        return nil
    }

    @Test func readsInputsDrivesOutputsAndDrivesAgainWhatTheDeviceLost() async throws {
        let peer = try ModbusPeer(.tcp)
        try peer.set("di", 1, 1)          // io.in2 is active low: raw 1 is inactive
        try peer.set("hr", 10, 451)       // above 450: active
        try peer.set("ir", 5, 0b1000)     // bit 3: active
        let board = ModbusBoard(profile: Self.profile(.tcp(host: "127.0.0.1", port: peer.port)))
        let recorder = Recorder(board.events)
        let levels = try board.open(initialOutputs: ["io.out1": true, "io.out2": true])
        #expect(levels == ["io.in1": false, "io.in2": false, "io.hot": true, "io.bit": true])
        #expect(await recorder.wait { $0 == .device(id: "io", outcome: .ok) } != nil)
        // The outputs' initial levels are written at first contact.
        #expect(try await eventually { try peer.get("co", 0) == 1 && peer.get("hr", 20) == 0b100 })

        // An input change is reported once.
        let mark = recorder.events.count
        try peer.set("di", 0, 1)
        #expect(await recorder.wait(after: mark) { $0 == .input(id: "io.in1", active: true) } != nil)
        try peer.set("hr", 10, 450)
        #expect(await recorder.wait(after: mark) { $0 == .input(id: "io.hot", active: false) } != nil)

        // A written output; a register bit leaves the register's other bits alone.
        try peer.set("hr", 20, 0b1_0100)
        try board.setOutput("io.out2", active: false)
        #expect(try await eventually { try peer.get("hr", 20) == 0b1_0000 })
        try board.setOutput("io.out1", active: false)
        #expect(try await eventually { try peer.get("co", 0) == 0 })

        // The device "reboots" with its coil on: the agent holds it off and drives it again.
        try peer.set("co", 0, 1)
        #expect(try await eventually { try peer.get("co", 0) == 0 })
        #expect(board.diagnostics()["io"]?["output_mismatches"]?.intValue ?? 0 >= 1)
        board.close()
        #expect(await recorder.wait(seconds: 0) { _ in false } == nil)
    }

    @Test func aSilentDeviceGoesOfflineWithItsReasonAndComesBackWithItsOutputs() async throws {
        let peer = try ModbusPeer(.tcp)
        let board = ModbusBoard(profile: Self.profile(.tcp(host: "127.0.0.1", port: peer.port)))
        let recorder = Recorder(board.events)
        _ = try board.open(initialOutputs: ["io.out1": true])
        #expect(try await eventually { try peer.get("co", 0) == 1 })
        try peer.command("mute 1")
        let mark = recorder.events.count
        // offline_after 3: three failed polls, each a timeout.
        for n in 1...3 {
            #expect(await recorder.wait(after: mark) { _ in recorder.events.dropFirst(mark).compactMap(failed).count >= n } != nil)
        }
        #expect(Set(recorder.events.dropFirst(mark).compactMap(failed)) == ["timeout"])
        #expect(throws: HardwareError.self) { try board.setOutput("io.out1", active: false) }
        try peer.set("co", 0, 1)  // it keeps its coil as it was
        try peer.command("unmute 1")
        #expect(await recorder.wait(after: mark) { $0 == .device(id: "io", outcome: .ok) } != nil)
        // Back: driven to the level asked for while it was away (off).
        #expect(try await eventually { try peer.get("co", 0) == 0 })
        let stats = board.diagnostics()["io"] ?? [:]
        #expect((stats["timeouts"]?.intValue ?? 0) >= 3, "\(stats)")
        board.close()
    }

    @Test func anExceptionAndAStoppedServerAreNamed() async throws {
        let peer = try ModbusPeer(.tcp)
        let board = ModbusBoard(profile: Self.profile(.tcp(host: "127.0.0.1", port: peer.port), offlineAfter: 1))
        let recorder = Recorder(board.events)
        _ = try board.open(initialOutputs: [:])
        try peer.command("exception 1 1")
        #expect(await recorder.wait { failed($0) == "exception 2 (illegal data address)" } != nil, "\(recorder.events)")
        try peer.command("exception 1 0")
        let mark = recorder.events.count
        #expect(await recorder.wait(after: mark) { $0 == .device(id: "io", outcome: .ok) } != nil)
        peer.stop()
        let reason = await recorder.wait(after: mark) { failed($0) != nil }.flatMap(failed)
        #expect(reason != nil && reason != "timeout", "a stopped server is a link failure, named: \(String(describing: reason))")
        board.close()
    }

    @Test func rtuOverAPTYPair() async throws {
        let peer = try ModbusPeer(.rtu)
        try peer.set("di", 0, 1)
        let board = ModbusBoard(profile: Self.profile(.rtu(device: peer.device, baud: 19_200, parity: .none, dataBits: 8, stopBits: 1)))
        let recorder = Recorder(board.events)
        let levels = try board.open(initialOutputs: ["io.out1": true])
        #expect(levels["io.in1"] == .some(true), "\(levels)")
        #expect(try await eventually { try peer.get("co", 0) == 1 })
        let mark = recorder.events.count
        try peer.set("di", 0, 0)
        #expect(await recorder.wait(after: mark) { $0 == .input(id: "io.in1", active: false) } != nil)
        board.close()
    }
}
