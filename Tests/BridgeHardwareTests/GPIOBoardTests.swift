import BridgeCore
import Foundation
import Testing
import TestSupport
@testable import BridgeHardware

/// The libgpiod backend where no GPIO chip is to be had: what a bridge whose chip is missing, unreadable or not a
/// chip at all does. (Against the kernel's GPIO character device: KernelGPIOTests, in the gpio-sim VM.)
@Suite struct GPIOBoardTests {
    static func profile(labels: [String] = ["chekt-test-absent"]) -> BoardProfile {
        BoardProfile(name: "gpio-test", gpioChips: [.init(id: "header", labels: labels)],
                     inputs: [.init(id: "in1", source: .gpio(.init(chip: "header", line: .name("GPIO5"))), activeLow: true, bias: .pullUp)],
                     outputs: [.init(id: "out1", sink: .gpio(.init(chip: "header", line: .name("GPIO26"))), activeLow: true)])
    }

    func devices(_ files: [String] = []) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gpio-devices-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for f in files { _ = FileManager.default.createFile(atPath: dir + "/" + f, contents: Data("not a chip".utf8)) }
        return dir
    }

    @Test func aMissingChipIsAnOfflineDeviceNamingWhatWasLookedForAndOutputsCannotBeSet() async throws {
        let board = GPIOBoard(profile: Self.profile(labels: ["pinctrl-rp1", "pinctrl-bcm2711"]), devices: try devices())
        let recorder = ModbusBoardTests.Recorder(board.events)
        defer { board.close() }
        let levels = try board.open(initialOutputs: ["out1": true])
        #expect(levels.count == 1 && levels["in1"] == .some(Bool?.none), "unreadable until the chip is there: \(levels)")
        let failed = await recorder.wait { if case .device("header", .failed) = $0 { return true }; return false }
        guard case .device(_, .failed(let reason))? = failed else { Issue.record("no failed outcome: \(recorder.events)"); return }
        #expect(reason == "no GPIO chip labelled \"pinctrl-rp1\" or \"pinctrl-bcm2711\"", "\(reason)")
        let error = thrown(HardwareError.self) { try board.setOutput("out1", active: false) }
        #expect(error?.code == .io && error?.message.contains("not available") == true, "\(String(describing: error))")
        // Tried again every second: a second failed outcome comes.
        #expect(await recorder.wait(seconds: 4) { _ in
            recorder.events.filter { if case .device("header", .failed) = $0 { return true }; return false }.count >= 2
        } != nil)
    }

    @Test func aFileThatIsNotAChipIsNamedWithTheReason() async throws {
        let board = GPIOBoard(profile: Self.profile(), devices: try devices(["gpiochip0"]))
        defer { board.close() }
        let failure = try #require(GPIOChipFinder.openAll(devices: try devices(["gpiochip3"])).refused.first)
        #expect(failure.reason.hasSuffix("/gpiochip3: Inappropriate ioctl for device") && failure.reason.contains("cannot open"), "\(failure)")
        _ = try board.open(initialOutputs: [:])
        #expect(board.diagnostics()["header"]?["last_error"] == .string("no GPIO chip labelled \"chekt-test-absent\""))
    }

    @Test func closeReturnsAndTheStreamEnds() async throws {
        let board = GPIOBoard(profile: Self.profile(), devices: try devices())
        _ = try board.open(initialOutputs: [:])
        let started = Date()
        board.close()
        #expect(Date().timeIntervalSince(started) < 2, "the thread is woken from poll, not left to its timeout")
        var count = 0
        for await _ in board.events { count += 1 }
        #expect(count >= 1)
    }

    @Test func outputsOfAnotherBackendAreRefusedByName() throws {
        let board = GPIOBoard(profile: Self.profile(), devices: try devices())
        let error = thrown(HardwareError.self) { try board.setOutput("io.out1", active: true) }
        #expect(error?.code == .notFound)
    }
}
