import BridgeCore
import Foundation
@testable import BridgeHardware

/// The kernel's gpio-sim chip that Tools/gpio-vm/run creates inside the VM (configfs), driven as a contact would:
/// `sim_gpioN/pull` is the far side of a line, `sim_gpioN/value` what the line is. Found through configfs, so it
/// is found again when the chip comes back under another number.
struct GPIOSim {
    struct Unavailable: Error, CustomStringConvertible {
        var description: String
    }

    let configfs: String
    let bank: String

    /// Fails, saying how to run it, outside the VM.
    init(label: String = "pinctrl-bcm2711") throws {
        guard let configfs = ProcessInfo.processInfo.environment["CHEKT_GPIO_SIM_CONFIGFS"] else {
            throw Unavailable(description: "this test needs the kernel's gpio-sim: it runs inside the VM of Tools/gpio-vm/check "
                              + "(CHEKT_GPIO_SIM_CONFIGFS is not set); Tools/test runs the host's tests only")
        }
        self.configfs = configfs
        let banks = (try? FileManager.default.contentsOfDirectory(atPath: configfs)) ?? []
        guard let bank = banks.sorted().first(where: { (try? Self.read(configfs + "/" + $0 + "/label")) == label }) else {
            throw Unavailable(description: "no gpio-sim bank labelled \(label) under \(configfs) (has \(banks))")
        }
        self.bank = configfs + "/" + bank
    }

    /// The profile the GPIO behaviours use: a Pi's header, found by label with the Pi 5's first.
    static func profile() -> BoardProfile {
        BoardProfile(
            name: "gpio-sim-test",
            gpioChips: [.init(id: "header", labels: ["pinctrl-rp1", "pinctrl-bcm2711"])],
            inputs: [
                .init(id: "in1", source: .gpio(.init(chip: "header", line: .name("GPIO5"))), activeLow: true),
                .init(id: "in2", source: .gpio(.init(chip: "header", line: .name("GPIO6"))), activeLow: true, bias: .pullUp),
            ],
            outputs: [
                .init(id: "out1", sink: .gpio(.init(chip: "header", line: .name("GPIO26"))), activeLow: true),
                .init(id: "out2", sink: .gpio(.init(chip: "header", line: .offset(20))), drive: .openDrain),
            ])
    }

    var isLive: Bool { (try? Self.read(configfs + "/live")) == "1" }

    /// The chip's sysfs folder, e.g. /sys/devices/platform/gpio-sim.0/gpiochip1.
    func chipFolder() throws -> String {
        "/sys/devices/platform/\(try Self.read(configfs + "/dev_name"))/\(try Self.read(bank + "/chip_name"))"
    }

    /// `/dev/gpiochipN` of the chip.
    func devicePath() throws -> String { "/dev/" + (try Self.read(bank + "/chip_name")) }

    func offset(_ line: String) -> Int { Int(line.dropFirst(4))! }

    func pull(_ line: String, up: Bool) throws {
        try Self.write(try chipFolder() + "/sim_gpio\(offset(line))/pull", up ? "pull-up" : "pull-down")
    }

    func value(_ line: String) throws -> Int {
        guard let v = Int(try Self.read(try chipFolder() + "/sim_gpio\(offset(line))/value")) else {
            throw Unavailable(description: "unreadable value of \(line)")
        }
        return v
    }

    /// Makes the chip go away (its device unregistered, as a HAT's chip whose driver unbinds) or come back.
    func setLive(_ live: Bool) throws {
        try Self.write(configfs + "/live", live ? "1" : "0")
    }

    static func read(_ path: String) throws -> String {
        try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func write(_ path: String, _ text: String) throws {
        guard let handle = FileHandle(forWritingAtPath: path) else { throw Unavailable(description: "cannot open \(path) for writing") }
        defer { try? handle.close() }
        try handle.write(contentsOf: Data(text.utf8))
    }
}
