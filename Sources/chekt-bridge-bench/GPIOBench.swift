import BridgeAgent
import BridgeCore
import BridgeHardware
import BridgeStore
import BridgeSystem
import Glibc

// MARK: gpio (inside the gpio-sim VM of Tools/gpio-vm/run: the real runtime and journal, libgpiod on the kernel)

/// A GPIO edge made by writing `sim_gpio5/pull` of the kernel's gpio-sim chip, to the zone event fsync'd in the
/// journal: the kernel's edge, the libgpiod backend's thread, the runtime loop, the debounce and the group commit.
/// Emulated (qemu TCG), so a figure, not a target.
func benchGPIOLatency(samples: Int) async throws {
    let pull = try gpioSimLine(5) + "/pull"
    guard access(pull, W_OK) == 0 else { throw BenchFailure("gpio: \(pull) is not writable") }

    let site = try ConfigLoader.loadSite(path: demoConfig)
    let (runtime, journal) = try startInProcess(site: site, board: RealBoard.make(profile: site.board), simulation: nil, tag: "gpio")
    let debounce = Double(site.board.input("in1")?.debounceMs ?? 50)
    var latencies: [Double] = []
    var contactClosed = false
    for _ in 0..<samples {
        contactClosed.toggle()
        let before = journal.lastSeq
        var seen = runtime.feed.current
        let t0 = monoNanos()
        let fd = open(pull, O_WRONLY)
        let text = Array((contactClosed ? "pull-down" : "pull-up").utf8)
        _ = write(fd, text, text.count)
        close(fd)
        while journal.lastSeq == before { seen = runtime.feed.wait(after: seen, timeoutMs: 1000) }
        latencies.append(Double(monoNanos() - t0) / 1e6)
        usleep(20_000)
    }
    runtime.post(.signal(SIGTERM))
    latencies.sort()
    say("gpio: edge on the kernel's gpio-sim line (sim_gpio5/pull written) -> zone event fsync'd in the journal "
        + "(\(samples) samples, debounce \(Int(debounce)) ms, libgpiod \(GPIODLibrary.version), emulated)")
    say("  p50 \(fmt(percentile(latencies, 50))) ms, p99 \(fmt(percentile(latencies, 99))) ms, max \(fmt(latencies.last ?? 0)) ms; "
        + "p99 beyond debounce: \(fmt(percentile(latencies, 99) - debounce)) ms")
}

/// The sysfs folder of line `offset` of the gpio-sim chip labelled like a Pi 4's (Tools/gpio-vm/run): its `pull`
/// makes edges.
func gpioSimLine(_ offset: Int) throws -> String {
    guard let configfs = getenv("CHEKT_GPIO_SIM_CONFIGFS").map({ String(cString: $0) }) else {
        throw BenchFailure("gpio: needs the kernel's gpio-sim; run it in the VM: Tools/gpio-vm/run -- .build/release/chekt-bridge-bench gpio")
    }
    func read(_ path: String) -> String { String(readProc(path).prefix { $0 != "\n" }) }
    var bank = ""
    for b in ["bank0", "bank1", "bank2"] where read(configfs + "/\(b)/label") == "pinctrl-bcm2711" { bank = b }
    return "/sys/devices/platform/\(read(configfs + "/dev_name"))/\(read(configfs + "/\(bank)/chip_name"))/sim_gpio\(offset)"
}

struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
