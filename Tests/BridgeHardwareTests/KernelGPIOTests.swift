import BridgeCore
import BridgeSystem
import CGPIODAdapter
import Foundation
import Testing
@testable import BridgeHardware

/// The libgpiod backend against the Linux kernel's GPIO character device, served by the gpio-sim module inside a
/// VM (Tools/gpio-vm/check runs this suite there, built against libgpiod 1.6 and against 2.x). Outside the VM every
/// test fails, naming what it needs: Tools/test skips this suite by name on the host.
@Suite(.serialized) struct KernelGPIOTests {
    typealias Rig = BackendContractTests.Rig

    // MARK: The backend contract

    @Test func contractReadAnInputSeeItChangeAndSetAnOutput() async throws {
        try await BackendContractTests.readAnInputSeeItChangeAndSetAnOutput(Rig(.gpioKernel))
    }

    @Test func contractTheChipGoesAwayAndComesBackWithItsInputs() async throws {
        try await BackendContractTests.aDeviceGoesOfflineAndComesBackWithItsInputs(Rig(.gpioKernel))
    }

    // MARK: What only real lines show

    /// The gpio-sim chip with the contacts on `lines` open (pulled up), and a board opened on it, its events recorded.
    static func opened(pullingUp lines: [String]) throws -> (GPIOSim, GPIOBoard, ModbusBoardTests.Recorder) {
        let sim = try GPIOSim()
        for line in lines { try sim.pull(line, up: true) }
        let board = GPIOBoard(profile: GPIOSim.profile())
        let recorder = ModbusBoardTests.Recorder(board.events)
        do { _ = try board.open(initialOutputs: [:]) } catch { board.close(); throw error }
        return (sim, board, recorder)
    }

    @Test func theChipIsFoundByLabelWhateverNumberTheKernelGaveIt() throws {
        let sim = try GPIOSim()
        let board = GPIOBoard(profile: GPIOSim.profile())
        defer { board.close() }
        _ = try board.open(initialOutputs: [:])
        let d = try #require(board.diagnostics()["header"])
        #expect(d["path"] == .string(try sim.devicePath()) && d["label"] == .string("pinctrl-bcm2711"), "\(d)")
        #expect(d["libgpiod"] == .string(GPIODLibrary.version))
    }

    @Test func outputsAreRequestedAtTheirLevelWithNoTransition() throws {
        let sim = try GPIOSim()
        // The relay (active low) is off while the line is high; the line's pull holds it high before the agent.
        try sim.pull("GPIO26", up: true)
        #expect(try sim.value("GPIO26") == 1)
        let board = GPIOBoard(profile: GPIOSim.profile())
        defer { board.close() }
        // A sampler reads the line as fast as it can for the whole of the request: a low reading is a click.
        final class Counts: @unchecked Sendable {
            let lock = NSLock(); var lows = 0, samples = 0, stop = false
            /// Signalled once `samples` reaches `target` (set when the request is done).
            var target = Int.max
            let reached = DispatchSemaphore(value: 0)
        }
        let counts = Counts()
        let done = DispatchSemaphore(value: 0)
        Thread {
            while !counts.lock.withLock({ counts.stop }) {
                let low = (try? sim.value("GPIO26")) == 0
                let reached = counts.lock.withLock { counts.samples += 1; if low { counts.lows += 1 }; return counts.samples == counts.target }
                if reached { counts.reached.signal() }
            }
            done.signal()
        }.start()
        _ = try board.open(initialOutputs: ["out1": false, "out2": false])
        // Go on sampling the line after the request, 50 more readings, before stopping.
        counts.lock.withLock { counts.target = counts.samples + 50 }
        #expect(counts.reached.wait(timeout: .now() + 10) == .success, "the sampler stopped sampling")
        counts.lock.withLock { counts.stop = true }
        done.wait()
        #expect(counts.lows == 0, "the relay clicked at start-up (\(counts.samples) samples)")
        #expect(counts.samples > 10)
        #expect(try sim.value("GPIO26") == 1, "held high (relay off), requested as an output")
        #expect(try sim.value("GPIO20") == 0, "the open-drain output pulls low")
        // Now the relay switches on: the line goes low.
        try board.setOutput("out1", active: true)
        #expect(try sim.value("GPIO26") == 0)
    }

    @Test func anOutputThatStartsOnIsLowFromTheRequest() throws {
        let sim = try GPIOSim()
        try sim.pull("GPIO26", up: true)
        let board = GPIOBoard(profile: GPIOSim.profile())
        defer { board.close() }
        _ = try board.open(initialOutputs: ["out1": true])
        #expect(try sim.value("GPIO26") == 0)
    }

    @Test func theProfilesBiasIsApplied() throws {
        let sim = try GPIOSim()
        try sim.pull("GPIO6", up: false)
        let board = GPIOBoard(profile: GPIOSim.profile())
        defer { board.close() }
        let levels = try board.open(initialOutputs: [:])
        #expect(try sim.value("GPIO6") == 1, "pull_up asked of the kernel")
        #expect(levels["in2"] == .some(false), "an open contact on an active-low input is inactive: \(levels)")
    }

    @Test func edgesCarryTheKernelsTimestamp() async throws {
        let sim = try GPIOSim()
        try sim.pull("GPIO5", up: true)
        let board = GPIOBoard(profile: GPIOSim.profile())
        let recorder = ModbusBoardTests.Recorder(board.events)
        defer { board.close() }
        _ = try board.open(initialOutputs: [:])
        let before = Posix.monotonicNanos()
        try sim.pull("GPIO5", up: false)
        let after = Posix.monotonicNanos()
        let event = await recorder.wait { $0.isInput("in1", active: true) }
        guard case .input(_, _, let ns?)? = event else { Issue.record("no timestamped edge: \(recorder.events)"); return }
        #expect(ns >= before && ns <= after, "edge at \(ns), written between \(before) and \(after)")
    }

    @Test func edgesLostBehindAStalledReaderAreRecoveredByReadingTheLine() async throws {
        let (sim, board, recorder) = try Self.opened(pullingUp: ["GPIO5"])
        defer { board.close() }
        let link = try #require(board.link("header"))
        // 2,101 changes while nothing reads: more than the kernel queues (16 per line with the v1 API; with v2
        // one queue for the request, 1,024 as the backend asks). The line ends pulled down: the input is active.
        try link.withReadingPaused { edgesQueued in
            for i in 0..<2_101 { try sim.pull("GPIO5", up: i % 2 == 1) }
            #expect(edgesQueued(5_000), "the kernel queued no edge")
        }
        #expect(try sim.value("GPIO5") == 0)
        #expect(await recorder.wait { _ in
            recorder.lastLevel(of: "in1") == true && link.statistics().resyncs > 0
        } != nil, "the last level reported is the line's: \(recorder.events.suffix(3)), resyncs \(link.statistics().resyncs)")
    }

    @Test func aChangeOnAQuietLineIsNotLostWhenAnotherLineFloodsTheQueue() async throws {
        let (sim, board, recorder) = try Self.opened(pullingUp: ["GPIO5", "GPIO6"])
        defer { board.close() }
        let link = try #require(board.link("header"))
        // in1's one edge is the oldest in the queue; in2 then chatters 2,100 times, more than any kernel queue
        // (v2: one queue of at most 1,024 for the request, which drops its oldest; v1: 16 per line), and ends
        // where it began. The lost edge must still come out as in1's level.
        try link.withReadingPaused { edgesQueued in
            try sim.pull("GPIO5", up: false)
            for i in 0..<2_100 { try sim.pull("GPIO6", up: i % 2 == 1) }
            #expect(edgesQueued(5_000), "the kernel queued no edge")
        }
        #expect(await recorder.wait { _ in
            recorder.lastLevel(of: "in1") == true
        } != nil, "in1's change was lost: \(recorder.events.suffix(4))")
        // Once the queue is drained, in2 is where it began: inactive.
        #expect(await recorder.wait { _ in
            (recorder.lastLevel(of: "in2") ?? false) == false
        } != nil, "\(recorder.events.suffix(4))")
        #expect(link.statistics().resyncs > 0)
    }

    @Test func twoProfileLinesOnOneChipLineAreRefusedNamingBoth() async throws {
        _ = try GPIOSim()
        var profile = GPIOSim.profile()
        profile.inputs[1].source = .gpio(.init(chip: "header", line: .offset(5)))  // in1 is GPIO5, by name
        let board = GPIOBoard(profile: profile)
        let recorder = ModbusBoardTests.Recorder(board.events)
        defer { board.close() }
        let levels = try board.open(initialOutputs: [:])
        #expect(levels["in1"] == .some(Bool?.none) && levels["in2"] == .some(Bool?.none), "\(levels)")
        let failed = await recorder.wait { if case .device("header", .failed) = $0 { return true }; return false }
        guard case .device(_, .failed(let reason))? = failed else { Issue.record("\(recorder.events)"); return }
        #expect(reason.hasPrefix("GPIO5 (in1) and 5 (in2) are the same line (offset 5) of /dev/gpiochip"), "\(reason)")
        let findings = GPIOProbe.check(profile)
        #expect(findings.contains { $0.level == .fail && $0.what == "gpio chip header" && $0.detail.contains("are the same line") }, "\(findings)")
    }

    @Test func aBusyLineIsReportedWithTheConsumerHoldingIt() async throws {
        let sim = try GPIOSim()
        let chip = try GPIODChip(path: try sim.devicePath())
        let held = try chip.request(consumer: "other-tool", lines: [.init(offset: 26, output: true, active_low: false, bias: CHEKT_GPIO_BIAS_AS_IS, drive: CHEKT_GPIO_DRIVE_PUSH_PULL, initial: true)], names: ["GPIO26"])
        let board = GPIOBoard(profile: GPIOSim.profile())
        let recorder = ModbusBoardTests.Recorder(board.events)
        let levels = try board.open(initialOutputs: [:])
        #expect(levels["in1"] == .some(Bool?.none), "nothing is requested while one line is busy: \(levels)")
        let failed = await recorder.wait { if case .device("header", .failed) = $0 { return true }; return false }
        guard case .device(_, .failed(let reason))? = failed else { Issue.record("\(recorder.events)"); board.close(); return }
        #expect(reason.contains("GPIO26") && reason.contains("in use by \"other-tool\""), "\(reason)")
        // Freed: the agent takes the chip at its next try.
        held.release()
        chip.close()
        #expect(await recorder.wait(seconds: 5) { $0 == .device(id: "header", outcome: .ok) } != nil)
        board.close()
    }

    @Test func aLineTheChipDoesNotHaveIsNamedWithTheLinesItHas() async throws {
        _ = try GPIOSim()
        var profile = GPIOSim.profile()
        profile.outputs[0].sink = .gpio(.init(chip: "header", line: .name("GPIO99")))
        let board = GPIOBoard(profile: profile)
        let recorder = ModbusBoardTests.Recorder(board.events)
        defer { board.close() }
        _ = try board.open(initialOutputs: [:])
        let failed = await recorder.wait { if case .device("header", .failed) = $0 { return true }; return false }
        guard case .device(_, .failed(let reason))? = failed else { Issue.record("\(recorder.events)"); return }
        #expect(reason.hasPrefix("no line named \"GPIO99\" on /dev/gpiochip") && reason.hasSuffix("(pinctrl-bcm2711)"), "\(reason)")
    }

    @Test func closingReleasesEveryLine() throws {
        let sim = try GPIOSim()
        let board = GPIOBoard(profile: GPIOSim.profile())
        _ = try board.open(initialOutputs: [:])
        let chip = try GPIODChip(path: try sim.devicePath())
        #expect(chip.info(offset: 5)?.used == true && chip.info(offset: 5)?.consumer == "chekt-bridge")
        board.close()
        for offset in [5, 6, 20, 26] { #expect(chip.info(offset: offset)?.used == false, "line \(offset) released") }
    }
}

extension ModbusBoardTests.Recorder {
    /// The level of the last input event recorded for `id`; nil before any.
    func lastLevel(of id: String) -> Bool? {
        for case .input(id, let active, _) in events.reversed() { return active }
        return nil
    }
}
