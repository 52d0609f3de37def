import Foundation
import Glibc
import Testing

/// `chekt-bridge run` without `--simulate` on the Linux kernel's GPIO character device: the gpio-sim chip of
/// Tools/gpio-vm/run, labelled like a Pi 4's header (`pinctrl-bcm2711`, lines `GPIO0`..`GPIO27`), driven with the
/// shipped profile `boards/rpi-relay-3ch.json` unchanged. A contact is a write to `sim_gpioN/pull`; a relay is what
/// `sim_gpioN/value` reads (every output of the profile is active low: 0 is "relay on").
/// Runs inside the VM only (Tools/gpio-vm/check); elsewhere every test fails, naming what it needs.
@Suite(.serialized) struct KernelGPIORunTests {
    /// The lines of the shipped profile.
    enum Line: Int { case in1 = 5, in2 = 6, in3 = 13, in4 = 19, out1 = 26, out2 = 20, out3 = 21 }

    /// The standard site on the shipped profile; the siren (out2, latched) comes back after a restart as it was
    /// (`power_on: restore`).
    static func agent(_ sandbox: Sandbox) throws -> Agent {
        var siren = Fixture.siren
        siren["power_on"] = "restore"
        let config = Fixture.config(board: try Repo.board(), stateDir: sandbox.stateDir, relays: [Fixture.doorStrike, siren, Fixture.gate])
        let agent = try Agent(sandbox, config: config)
        agent.simulate = false
        return agent
    }

    /// The gpio-sim chip and an agent on it, started (its inputs settled).
    static func started() throws -> (KernelGPIOSim, Agent) {
        let sim = try KernelGPIOSim()
        let agent = try Self.agent(try Sandbox())
        do { try agent.start() } catch { agent.stop(); throw error }
        return (sim, agent)
    }

    /// Reads the given lines as fast as it can until stopped: the values each was seen at.
    final class Sampler: @unchecked Sendable {
        private let lock = NSLock()
        private var seen: [Int: Set<Int>] = [:]
        private var stopped = false
        private var rounds = 0
        private let done = DispatchSemaphore(value: 0)

        init(_ sim: KernelGPIOSim, _ lines: [Line]) {
            Thread { [self] in
                while !lock.withLock({ stopped }) {
                    for line in lines {
                        if let v = try? sim.value(line.rawValue) { _ = lock.withLock { seen[line.rawValue, default: []].insert(v) } }
                    }
                    lock.withLock { rounds += 1 }
                }
                done.signal()
            }.start()
        }

        func stop() -> (values: [Int: Set<Int>], rounds: Int) {
            lock.withLock { stopped = true }
            done.wait()
            return lock.withLock { (seen, rounds) }
        }
    }

    @Test func contactsOnRealLinesGiveZoneEventsAndAnAlarmAndTheSirenRelayShowsOnItsLine() throws {
        let (sim, agent) = try Self.started()
        defer { agent.stop() }
        let status = try agent.status()
        #expect(status.entry("devices", "header")?["online"] == true, "\(status)")
        #expect(status.entry("inputs", "in4")?["active"] == false, "pulled up by the agent's bias: a closed contact is inactive")

        try agent.ok("partition", "arm", "main", "--mode", "away")
        _ = try agent.waitForEvent("partition.armed", timeout: 10)
        let before = try agent.lastSeq
        try sim.pull(Line.in4.rawValue, up: false)  // the back window opens: its contact pulls the line down
        let faulted = try agent.waitForEvent("zone.faulted", after: before) { $0.data["zone"] == "back_window" }
        _ = try agent.waitForEvent("alarm.created", after: before)
        _ = try agent.waitForEvent("relay.activated", after: faulted.seq) { $0.data["relay"] == "siren" }
        #expect(try sim.value(Line.out2.rawValue) == 0, "the siren relay is on")
        try agent.ok("partition", "disarm", "main")
        _ = try agent.waitFor("the siren to stop") { try sim.value(Line.out2.rawValue) == 1 ? true : nil }
        try sim.pull(Line.in4.rawValue, up: true)
        _ = try agent.waitForEvent("zone.restored", after: faulted.seq) { $0.data["zone"] == "back_window" }
    }

    @Test func relayCommandsShowOnTheLines() throws {
        let (sim, agent) = try Self.started()
        defer { agent.stop() }
        try agent.ok("relay", "on", "siren")
        #expect(try sim.value(Line.out2.rawValue) == 0)
        try agent.ok("relay", "off", "siren")
        #expect(try sim.value(Line.out2.rawValue) == 1)
        let sampler = Sampler(sim, [.out3])
        try agent.barrier(ms: 300)  // pulses gate (out3) and waits for its release
        let seen = sampler.stop()
        #expect(seen.values[Line.out3.rawValue] == [0, 1], "the gate's line went low and back: \(seen)")
        #expect(try sim.value(Line.out3.rawValue) == 1)
    }

    @Test func outputsStartAtTheirPowerOnLevelAndALatchedRelayComesBackAfterKill9WithoutAClick() throws {
        let sim = try KernelGPIOSim()
        for line in [Line.out1, .out2, .out3] { try sim.pull(line.rawValue, up: true) }  // relays off before the agent
        let sandbox = try Sandbox()
        let agent = try Self.agent(sandbox)
        defer { agent.stop() }
        var sampler = Sampler(sim, [.out1, .out2, .out3])
        try agent.start()
        var seen = sampler.stop()
        #expect(seen.rounds > 10 && seen.values.values.allSatisfy { $0 == [1] }, "a relay switched at start-up: \(seen)")

        try agent.ok("relay", "on", "siren")  // latched, power_on restore
        #expect(try sim.value(Line.out2.rawValue) == 0)
        // A Pi's pin keeps its level when the process holding it dies; gpio-sim falls back to the pull: make the
        // pull say what a Pi's pin would.
        try sim.pull(Line.out2.rawValue, up: false)
        try agent.kill9()
        #expect(try sim.value(Line.out2.rawValue) == 0)

        sampler = Sampler(sim, [.out2])
        try agent.start()
        seen = sampler.stop()
        #expect(seen.values[Line.out2.rawValue] == [0], "the latched siren relay clicked off and on during the restart: \(seen)")
        #expect(try agent.status().entry("relays", "siren")?["on"] == true, agent.note)
        // And it is held by the agent again: switching it off shows on the line whatever the pull.
        try agent.ok("relay", "off", "siren")
        #expect(try sim.value(Line.out2.rawValue) == 1)
    }

    @Test func theChipGoesAwayAndComesBackWithItsRelayAtTheLevelTheAgentHolds() throws {
        let (sim, agent) = try Self.started()
        defer { agent.stop() }
        try agent.ok("relay", "on", "siren")
        let before = try agent.lastSeq
        try sim.setLive(false)
        let offline = try agent.waitForEvent("device.offline", after: before) { $0.data["device"] == "header" }
        #expect(offline.data["reason"]?.string?.contains("pinctrl-bcm2711") == true, "\(offline.data)")
        try sim.setLive(true)
        _ = try agent.waitForEvent("device.online", after: offline.seq, timeout: 10) { $0.data["device"] == "header" }
        #expect(try agent.waitFor("the siren line driven again") { try sim.value(Line.out2.rawValue) == 0 ? true : nil })
        #expect(try sim.value(Line.out1.rawValue) == 1, "the others are off")
    }

    @Test func doctorChecksTheChipAndEveryLineNamingTheProgramThatHoldsOne() throws {
        let sim = try KernelGPIOSim()
        let sandbox = try Sandbox()
        let agent = try Self.agent(sandbox)
        let config = agent.config
        // A gpioset (libgpiod's tool, not ours) holds GPIO13: in3's line.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/gpioset")
        holder.arguments = ["--mode=signal", try sim.chipName(), "13=1"]
        try holder.run()
        defer { if holder.isRunning { holder.terminate() }; holder.waitUntilExit() }
        let busy = try agent.waitFor("gpioset to hold GPIO13") { () -> ToolResult? in
            let r = try Tool.run(["doctor", "--config", config, "--socket", sandbox.socket])
            return r.stdout.contains("gpio input in3") && r.stdout.contains("\"gpioset\"") ? r : nil
        }
        let line = busy.stdout.split(separator: "\n").first { $0.contains("gpio input in3") }.map(String.init) ?? ""
        let chip = "/dev/" + (try sim.chipName())
        #expect(line.hasPrefix("FAIL") && line.contains("GPIO13 (offset 13) of \(chip) is in use by \"gpioset\""), "\(busy)")
        #expect(busy.stdout.contains("gpio chip header: \(chip) label pinctrl-bcm2711, 28 lines"), "\(busy)")
        #expect(busy.stdout.split(separator: "\n").filter { $0.hasPrefix("OK") && $0.contains("gpio input in1: GPIO5 (offset 5)") && $0.hasSuffix("is free") }.count == 1, "\(busy)")
        holder.terminate()
        holder.waitUntilExit()

        defer { agent.stop() }
        try agent.start()
        let held = try Tool.run(["doctor", "--config", config, "--socket", sandbox.socket])
        #expect(held.stdout.contains("gpio output out2: GPIO20 (offset 20) of \(chip) is held by the agent (consumer chekt-bridge)"), "\(held)")
    }

    @Test func inputsWatchAndRelayTestWorkOnRealLines() throws {
        let (sim, agent) = try Self.started()
        defer { agent.stop() }
        let sandbox = agent.sandbox
        let out = sandbox.root + "/watch.out"
        let watch = try RunningTool(["inputs", "--watch", "--socket", sandbox.socket], stdoutPath: out, stderrPath: sandbox.root + "/watch.err")
        defer { watch.stopIfRunning() }
        func text() -> String { (try? String(contentsOfFile: out, encoding: .utf8)) ?? "" }
        _ = try agent.waitFor("the first table") { text().contains("in1") ? true : nil }
        try sim.pull(Line.in1.rawValue, up: false)
        _ = try agent.waitFor("in1 active in the watch") { () -> Bool? in
            text().split(separator: "\n").contains { $0.contains("in1") && $0.contains("active") && !$0.contains("inactive") } ? true : nil
        }
        try sim.pull(Line.in1.rawValue, up: true)

        let answers = try sandbox.write("answers.txt", "y\n")
        let sampler = Sampler(sim, [.out3])
        let test = try Tool.run(["relay", "test", "gate", "--ms", "200", "--socket", sandbox.socket], cwd: sandbox.root, stdin: answers)
        let seen = sampler.stop()
        #expect(test.status == 0, "\(test)")
        #expect(seen.values[Line.out3.rawValue] == [0, 1], "the gate's relay was pulsed on its line: \(seen)")
    }
}

/// The gpio-sim chip inside the VM, found through configfs (Tools/gpio-vm/run creates it), as a technician's
/// contacts and meter would see it.
struct KernelGPIOSim {
    let configfs: String
    let bank: String

    init(label: String = "pinctrl-bcm2711") throws {
        guard let configfs = ProcessInfo.processInfo.environment["CHEKT_GPIO_SIM_CONFIGFS"] else {
            throw E2EFailure("this test needs the kernel's gpio-sim: it runs inside the VM of Tools/gpio-vm/check "
                             + "(CHEKT_GPIO_SIM_CONFIGFS is not set); Tools/test runs the host's tests only")
        }
        self.configfs = configfs
        let banks = (try? FileManager.default.contentsOfDirectory(atPath: configfs)) ?? []
        guard let bank = banks.sorted().first(where: { (try? Self.read(configfs + "/" + $0 + "/label")) == label }) else {
            throw E2EFailure("no gpio-sim bank labelled \(label) under \(configfs) (has \(banks))")
        }
        self.bank = configfs + "/" + bank
    }

    func chipName() throws -> String { try Self.read(bank + "/chip_name") }
    func folder() throws -> String { "/sys/devices/platform/\(try Self.read(configfs + "/dev_name"))/\(try chipName())" }

    func pull(_ offset: Int, up: Bool) throws { try Self.write(try folder() + "/sim_gpio\(offset)/pull", up ? "pull-up" : "pull-down") }

    func value(_ offset: Int) throws -> Int {
        guard let v = Int(try Self.read(try folder() + "/sim_gpio\(offset)/value")) else { throw E2EFailure("unreadable value of line \(offset)") }
        return v
    }

    func setLive(_ live: Bool) throws { try Self.write(configfs + "/live", live ? "1" : "0") }

    static func read(_ path: String) throws -> String {
        try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func write(_ path: String, _ text: String) throws {
        guard let handle = FileHandle(forWritingAtPath: path) else { throw E2EFailure("cannot open \(path) for writing") }
        defer { try? handle.close() }
        try handle.write(contentsOf: Data(text.utf8))
    }
}
