// Benchmarks of the libmodbus backend (docs/benchmarks.md, "Modbus") against a C libmodbus TCP server on
// 127.0.0.1: Tools/modbus-bench/modbus_bench.c, compiled here with cc at every run (not pymodbus, whose own
// speed would be part of the figure). The backend is driven through its public API, ModbusBoard, as the
// agent drives it.
import BridgeCore
import BridgeHardware
import BridgeSystem
import Glibc
import Synchronization

/// Runs `args` to its end; its exit status and what it printed (stdout and stderr together).
func runToEnd(_ args: [String]) -> (status: Int32, output: String) {
    var fds: [Int32] = [0, 0]
    pipe(&fds)
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
    posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
    posix_spawn_file_actions_addclose(&actions, fds[0])
    var cargs = args.map { strdup($0) } + [nil]
    defer { for p in cargs { free(p) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, args[0], &actions, nil, &cargs, environ)
    posix_spawn_file_actions_destroy(&actions)
    close(fds[1])
    guard rc == 0 else { close(fds[0]); return (127, "cannot start \(args[0]): \(Posix.describe(rc))") }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true { let n = read(fds[0], &chunk, chunk.count); if n <= 0 { break }; out += chunk[0..<n] }
    close(fds[0])
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    return ((status >> 8) & 0xFF, String(decoding: out, as: UTF8.self))
}

/// Compiles Tools/modbus-bench/modbus_bench.c into `dir`; exits the bench when it cannot.
func buildModbusBench(dir: String) -> String {
    let source = repoRoot + "/Tools/modbus-bench/modbus_bench.c"
    let binary = dir + "/modbus-bench"
    let cc = ["/usr/bin/cc", "-O2", "-Wall", "-I/usr/include/modbus", "-o", binary, source, "-lmodbus"]
    let r = runToEnd(cc)
    guard r.status == 0 else {
        say("cannot compile \(source) (needs cc, which the Swift toolchain needs too, and libmodbus-dev, which Tools/setup installs):\n\(cc.joined(separator: " "))\n\(r.output)")
        exit(1)
    }
    return binary
}

/// Starts the C server on a free port; requests to the `dead` units are never answered.
func startModbusServer(_ binary: String, dead: [Int] = []) -> (Child, Int) {
    let server = spawn([binary, "server", "0"] + dead.map(String.init), output: 1)
    let text = firstLine(of: server)
    guard text.hasPrefix("READY "), let port = Int(text.dropFirst(6)) else {
        say("the C Modbus server did not start: \(text)")
        exit(1)
    }
    return (server, port)
}

/// What one back-to-back run gave: transactions per second and CPU per transaction (µs) of the client side.
struct LoopFigures {
    var rate: Double
    var cpuUs: Double
}

/// The C loop: `modbus_read_bits` of 8 coils from unit 1, back to back for `seconds`.
func cLoop(_ binary: String, port: Int, seconds: Double) -> LoopFigures {
    let r = runToEnd([binary, "client", String(port), String(seconds)])
    let words = r.output.split(whereSeparator: { $0 == " " || $0 == "\n" })
    guard r.status == 0, words.count == 3, let n = Double(words[0]), let s = Double(words[1]), let cpu = Double(words[2]), s > 0, n > 0 else {
        say("the C client loop failed: \(r.output)")
        exit(1)
    }
    return LoopFigures(rate: n / s, cpuUs: cpu / n * 1e6)
}

/// CPU time this process has used, in ns (every thread).
func processCPUNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// The ids of this process's threads (`/proc/self/task`).
func threadIDs() -> Set<String> {
    guard let dir = opendir("/proc/self/task") else { return [] }
    defer { closedir(dir) }
    var ids: Set<String> = []
    while let entry = readdir(dir) {
        let tid = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if tid.first?.isNumber == true { ids.insert(tid) }
    }
    return ids
}

/// CPU time of one of this process's threads (the first field of its `schedstat`), in ns.
func threadCPUNs(_ tid: String) -> UInt64 {
    readProc("/proc/self/task/\(tid)/schedstat").split(separator: " ").first.flatMap { UInt64($0) } ?? 0
}

/// A Modbus-only profile: `units` devices on one TCP bus to 127.0.0.1:`port`, device `dU` being unit U with
/// 8 inputs, and `coilOutputs` outputs each (coils 0..7, read back at every poll).
func modbusBenchProfile(port: Int, units: ClosedRange<Int>, pollMs: Int, timeoutMs: Int, inputsOnCoils: Bool,
                        coilOutputs: Bool) -> BoardProfile {
    var inputs: [BoardProfile.BoardInput] = []
    var outputs: [BoardProfile.BoardOutput] = []
    var devices: [BoardProfile.ModbusDevice] = []
    for unit in units {
        let d = "d\(unit)"
        let ins = (0..<8).map { "\(d).in\($0 + 1)" }
        let outs = coilOutputs ? (0..<8).map { "\(d).out\($0 + 1)" } : []
        for (i, id) in ins.enumerated() {
            inputs.append(.init(id: id, source: .modbus(device: d, point: inputsOnCoils ? .coil(address: i) : .discreteInput(address: i))))
        }
        for (i, id) in outs.enumerated() { outputs.append(.init(id: id, sink: .modbus(device: d, point: .coil(address: i)))) }
        devices.append(.init(id: d, bus: "bench", unit: unit, pollMs: pollMs, offlineAfter: 3, inputIDs: ins, outputIDs: outs))
    }
    return BoardProfile(name: "modbus-bench", inputs: inputs, outputs: outputs,
                        modbusBuses: [.init(id: "bench", transport: .tcp(host: "127.0.0.1", port: port), timeoutMs: timeoutMs)],
                        modbusDevices: devices)
}

func transactions(_ board: ModbusBoard) -> Int {
    board.diagnostics().values.reduce(0) { $0 + Int($1["transactions"]?.intValue ?? 0) }
}

/// The backend polling one device back to back: every poll one `modbus_read_bits` of 8 coils (its 8 inputs),
/// the same request as the C loop. Transactions counted by the backend (`diagnostics()`); CPU per transaction
/// of the whole process (bus thread, the task reading events, the sleeping main thread) and of the bus thread.
/// `followEvents`: a task reads the board's events as the agent's runtime does (a `.device(ok)` per poll);
/// otherwise they are left in the stream's buffer, which measures the bus thread's own cost.
func backendLoop(port: Int, seconds: Double, followEvents: Bool) throws -> (LoopFigures, busThreadCPUUs: Double) {
    // poll_ms 0, set here: the config's floor of 20 ms would hold one device at 50 polls/s, a figure of the
    // clock, not of the backend.
    let board = ModbusBoard(profile: modbusBenchProfile(port: port, units: 1...1, pollMs: 0, timeoutMs: 200,
                                                        inputsOnCoils: true, coilOutputs: false))
    // The bus thread is the one open() starts (also named modbus-bench). The task reading events starts after.
    let threadsBefore = threadIDs()
    _ = try board.open(initialOutputs: [:])
    let busThread = threadIDs().subtracting(threadsBefore)
    guard busThread.count == 1, let bus = busThread.first else {
        say("cannot tell the bus thread: open() started \(busThread.count) threads")
        exit(1)
    }
    let events = board.events
    let follower = followEvents ? Task.detached { for await _ in events {} } : nil
    usleep(100_000)
    let tx0 = transactions(board), t0 = monoNanos(), cpu0 = processCPUNs(), bus0 = threadCPUNs(bus)
    usleep(UInt32(seconds * 1_000_000))
    let tx1 = transactions(board), t1 = monoNanos(), cpu1 = processCPUNs(), bus1 = threadCPUNs(bus)
    board.close()
    _ = follower
    let failed = board.diagnostics().values.reduce(0) { $0 + Int($1["timeouts"]?.intValue ?? 0) + Int($1["other_errors"]?.intValue ?? 0) }
    if failed > 0 { say("  (\(failed) failed transactions)") }
    let n = Double(max(tx1 - tx0, 1))
    return (LoopFigures(rate: n / (Double(t1 - t0) / 1e9), cpuUs: Double(cpu1 - cpu0) / 1000 / n), Double(bus1 - bus0) / 1000 / n)
}

/// 16 io8-like modules (8 discrete inputs, 8 coils: two reads a poll) on one bus; unit 16 answered or not.
/// How often each of the 15 others is polled: its transactions (the backend's own count) over the window, two a
/// poll. (The backend reports an answering device's `ok` at most once a second, so its events do not count polls.)
func sixteenDevices(binary: String, pollMs: Int, timeoutMs: Int, deadUnit16: Bool, seconds: Double) throws
    -> (median: Double, slowest: Double, deadFailures: Double)
{
    let (server, port) = startModbusServer(binary, dead: deadUnit16 ? [16] : [])
    defer { stop(server) }
    let board = ModbusBoard(profile: modbusBenchProfile(port: port, units: 1...16, pollMs: pollMs, timeoutMs: timeoutMs,
                                                        inputsOnCoils: false, coilOutputs: true))
    let events = board.events
    let follower = Task.detached { for await _ in events {} }  // as the runtime reads them
    _ = try board.open(initialOutputs: [:])
    usleep(UInt32(max(2 * pollMs, 2 * timeoutMs) * 1000))  // past the first cycle
    func counts() -> [String: (tx: Int64, timeouts: Int64)] {
        board.diagnostics().mapValues { ($0["transactions"]?.intValue ?? 0, $0["timeouts"]?.intValue ?? 0) }
    }
    let before = counts(), t0 = monoNanos()
    usleep(UInt32(seconds * 1_000_000))
    let after = counts(), t1 = monoNanos()
    board.close()
    _ = follower
    let window = Double(t1 - t0) / 1e9
    let rates = (1...15).map { unit -> Double in
        let d = "d\(unit)"
        return Double((after[d]?.tx ?? 0) - (before[d]?.tx ?? 0)) / 2 / window
    }.sorted()
    let deadFailures = Double((after["d16"]?.timeouts ?? 0) - (before["d16"]?.timeouts ?? 0)) / window
    return (percentile(rates, 50), rates.first ?? .nan, deadFailures)
}

func benchModbus(seconds: Double = 2, rounds: Int = 5) throws {
    let dir = tempDir("modbus")
    let binary = buildModbusBench(dir: dir)
    defer { unlink(binary); rmdir(dir) }
    say("modbus: the libmodbus backend against a C libmodbus TCP server on 127.0.0.1 (Tools/modbus-bench/modbus_bench.c), libmodbus \(ModbusLibrary.version)")
    say("  modbus_read_bits of 8 coils from unit 1, back to back, \(fmt(seconds, 1)) s each, \(rounds) rounds in turn; tx/s and the client side's CPU per transaction:")
    var c: [LoopFigures] = [], followed: [LoopFigures] = [], alone: [LoopFigures] = [], busFollowed: [Double] = [], busAlone: [Double] = []
    for round in 1...rounds {
        let (server, port) = startModbusServer(binary)
        c.append(cLoop(binary, port: port, seconds: seconds))
        let (f, fb) = try backendLoop(port: port, seconds: seconds, followEvents: true)
        let (a, ab) = try backendLoop(port: port, seconds: seconds, followEvents: false)
        stop(server)
        followed.append(f); busFollowed.append(fb); alone.append(a); busAlone.append(ab)
        say("    round \(round): C loop \(Int(c[round - 1].rate)) (\(fmt(c[round - 1].cpuUs, 1)) µs); "
            + "agent backend \(Int(f.rate)) (\(fmt(f.rate / c[round - 1].rate * 100, 1)) %; \(fmt(f.cpuUs, 1)) µs, bus thread \(fmt(fb, 1)) µs); "
            + "events unread \(Int(a.rate)) (\(fmt(a.rate / c[round - 1].rate * 100, 1)) %; \(fmt(a.cpuUs, 1)) µs)")
    }
    func median(_ v: [Double]) -> Double { percentile(v.sorted(), 50) }
    let ratio = median(zip(followed, c).map { $0.rate / $1.rate }), aloneRatio = median(zip(alone, c).map { $0.rate / $1.rate })
    say("  C loop: \(Int(median(c.map(\.rate)))) tx/s, \(fmt(median(c.map(\.cpuUs)), 1)) µs CPU per transaction (medians)")
    say("  agent backend (ModbusBoard, one device, poll_ms 0; its events read by a task, as the runtime does): \(Int(median(followed.map(\.rate)))) tx/s, "
        + "\(fmt(ratio * 100, 1)) % of the C loop (median of the rounds' ratios; target >= 90 %); "
        + "\(fmt(median(followed.map(\.cpuUs)), 1)) µs CPU per transaction, of which the bus thread \(fmt(median(busFollowed), 1)) µs")
    say("  the same with its events left unread (the bus thread's own cost): \(Int(median(alone.map(\.rate)))) tx/s, \(fmt(aloneRatio * 100, 1)) % of the C loop; "
        + "\(fmt(median(alone.map(\.cpuUs)), 1)) µs CPU per transaction, of which the bus thread \(fmt(median(busAlone), 1)) µs")

    say("  16 devices on one bus (8 discrete inputs + 8 coils each: two reads a poll), unit 16 answered or not; the 15 others:")
    for (pollMs, timeoutMs) in [(250, 200), (50, 200)] {
        for dead in [false, true] {
            let r = try sixteenDevices(binary: binary, pollMs: pollMs, timeoutMs: timeoutMs, deadUnit16: dead, seconds: 5)
            let period = 1000 / max(r.slowest, 0.001)
            say("    poll_ms \(pollMs), timeout_ms \(timeoutMs), unit 16 \(dead ? "dead" : "answering"): each polled \(fmt(r.median, 2))/s "
                + "(the slowest \(fmt(r.slowest, 2))/s: every \(fmt(period, 1)) ms)"
                + (dead ? "; design: a cycle is at most poll_ms or the others' reads plus one timeout_ms; unit 16 timed out \(fmt(r.deadFailures, 2)) times/s" : ""))
        }
    }
}
