// chekt-bridge-bench: prints the figures of docs/benchmarks.md. Build in release mode:
//   swift run -c release chekt-bridge-bench [journal|latency|coldstart|idle|drain|command|idle-platform|idle-platform-tls|growth|modbus|gpio|all]
//   swift run -c release chekt-bridge-bench flood[-chatter|-commands|-clients|-backlog] [--quick]   (Tools/faults/flood)
//   Tools/gpio-vm/run -- .build/release/chekt-bridge-bench flood-chatter --gpio [--quick]   (the chatter on gpio-sim)
//   swift run -c release chekt-bridge-bench debounce-held-loop   (a fixed defect's reproduction, also run by flood)
import BridgeSystem
import BridgeAgent
import BridgeCore
import BridgeHardware
import BridgeStore
import Glibc
import Synchronization

func say(_ s: String) { Posix.writeAll(1, Array((s + "\n").utf8)) }

func monoNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let i = min(sorted.count - 1, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1)
    return sorted[max(0, i)]
}

func fmt(_ v: Double, _ digits: Int = 2) -> String {
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let r = (v * p).rounded() / p
    return String(r)
}

func tempDir(_ tag: String) -> String {
    var template = Array("/tmp/chekt-bench-\(tag)-XXXXXX".utf8CString)
    return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
}

let repoRoot: String = {
    // The bench runs from the package folder (swift run); fall back to walking up from the binary.
    // getcwd(nil, 0) mallocs the path (LeakSanitizer reported it: Tools/sanitize/run --floods).
    let cwd: UnsafeMutablePointer<CChar> = getcwd(nil, 0)
    defer { free(cwd) }
    var dir = String(cString: cwd)
    while !dir.isEmpty && access(dir + "/Package.swift", F_OK) != 0 {
        dir = String(dir[..<(dir.lastIndex(of: "/") ?? dir.startIndex)])
    }
    return dir
}()
let binDir: String = {
    let me = CommandLine.arguments[0]
    var path = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &path, 4095)
    let exe = n > 0 ? String(decoding: path[..<n].lazy.map(UInt8.init(bitPattern:)), as: UTF8.self) : me
    return String(exe[..<exe.lastIndex(of: "/")!])
}()
let demoConfig = repoRoot + "/examples/demo/config.json"

// MARK: journal

func benchJournal() throws {
    say("journal (ext4 here; an SD card is slower)")
    let draft = EventDraft(type: "zone.faulted", occurredAt: 1_800_000_000_000,
                           data: ["zone": "front_door", "partition": "main", "input": "in1"])
    do {
        let dir = tempDir("fsync")
        let journal = try Journal(directory: dir, maxBytes: 1 << 30)
        let n = 2000
        let t0 = monoNanos()
        for _ in 0..<n { _ = try journal.append([draft]) }
        let s = Double(monoNanos() - t0) / 1e9
        say("  one append + fdatasync per event, 1 writer:   \(Int(Double(n) / s)) events/s")
        journal.close()
    }
    for writers in [16, 64] {
        let dir = tempDir("group")
        let journal = try Journal(directory: dir, maxBytes: 1 << 30)
        let perWriter = 200_000 / writers
        let done = Mutex(0)
        let failures = Mutex(0)
        let t0 = monoNanos()
        let condition = Condition()
        for _ in 0..<writers {
            Posix.spawnThread(name: "writer") {
                for _ in 0..<perWriter {
                    do { _ = try journal.append([draft]) } catch { failures.withLock { $0 += 1 } }
                }
                condition.lock()
                done.withLock { $0 += 1 }
                condition.broadcast()
                condition.unlock()
            }
        }
        condition.lock()
        while done.withLock({ $0 }) < writers { condition.wait(timeoutMs: 100) }
        condition.unlock()
        let s = Double(monoNanos() - t0) / 1e9
        let total = perWriter * writers
        say("  group commit, \(writers) writers, one event per append: \(Int(Double(total) / s)) events/s (\(total) events, \(failures.withLock { $0 }) failures)")
        journal.close()
    }
    do {
        let dir = tempDir("batch")
        let journal = try Journal(directory: dir, maxBytes: 1 << 30)
        let batch = [EventDraft](repeating: draft, count: 64)
        let rounds = 2000
        let t0 = monoNanos()
        for _ in 0..<rounds { _ = try journal.append(batch) }
        let s = Double(monoNanos() - t0) / 1e9
        say("  batches of 64 per append (one runtime step), 1 writer: \(Int(Double(rounds * 64) / s)) events/s")
        journal.close()
    }
    try benchFullJournal()
}

/// A journal filled to its 64 MB bound: opening it (the recovery scan), reading it all, compacting it. Checks what
/// it measured (every event there, alarms kept), so a wrong figure is a failure, never a slow one.
func benchFullJournal() throws {
    struct Wrong: Error, CustomStringConvertible { var description: String }
    let dir = tempDir("full")
    let bound = 64 * 1_048_576
    var journal = try Journal(directory: dir, maxBytes: bound, compaction: .manual)
    var count = 0
    var t0 = monoNanos()
    while journal.stats.bytesOnDisk <= bound {
        _ = try journal.append((0..<1000).map { i in
            i % 50 == 0
                ? EventDraft(.alarmCreated, occurredAt: 1_800_000_000_000,
                             data: ["alarm_id": .string("alm_\(count + i)"), "partition": "main", "zone": "front_door", "kind": "burglary"])
                : EventDraft(i % 2 == 1 ? .zoneFaulted : .zoneRestored, occurredAt: 1_800_000_000_000,
                             data: ["zone": .string("z\(i / 2 % 8)"), "partition": "main", "input": .string("in_z\(i / 2 % 8)")])
        })
        count += 1000
    }
    say("  filled \(journal.stats.bytesOnDisk / 1_048_576) MB (\(count) events, 1000 per append) in \(fmt(Double(monoNanos() - t0) / 1e9, 1)) s")
    journal.close()
    t0 = monoNanos()
    journal = try Journal(directory: dir, maxBytes: bound, compaction: .manual)
    guard journal.recovery.records == count else { throw Wrong(description: "recovery found \(journal.recovery.records) of \(count) events") }
    say("  open + recovery scan of the full journal: \(fmt(Double(monoNanos() - t0) / 1e9)) s")
    t0 = monoNanos()
    var read = 0
    var alarms = 0
    var after: Int64 = 0
    while true {
        let page = try journal.events(after: after, limit: 100)
        guard let last = page.last else { break }
        read += page.count
        after = last.seq
    }
    guard read == count else { throw Wrong(description: "read \(read) of \(count) events") }
    say("  read all in pages of 100: \(Int(Double(read) / (Double(monoNanos() - t0) / 1e9))) events/s")
    t0 = monoNanos()
    guard let summary = try journal.compact(), summary.bytesAfter <= bound / 4 * 3, summary.zonePairs > 0 else {
        throw Wrong(description: "compaction freed too little or dropped no zone pairs")
    }
    say("  compaction \(summary.bytesBefore / 1024) KiB -> \(summary.bytesAfter / 1024) KiB, \(summary.zonePairs) zone pairs dropped: \(fmt(Double(monoNanos() - t0) / 1e9)) s")
    after = 0
    while true {
        let page = try journal.events(after: after, limit: 1000)
        guard let last = page.last else { break }
        alarms += page.filter { $0.type == "alarm.created" }.count
        after = last.seq
    }
    guard alarms == count / 50 else { throw Wrong(description: "\(alarms) alarms after compaction, \(count / 50) recorded") }
    journal.close()
}

// MARK: latency (in process: the real runtime, simulated board, real journal)

func benchLatency(samples: Int) async throws {
    let site = try ConfigLoader.loadSite(path: demoConfig)
    let board = SimulatedBoard(profile: site.board, clock: ContinuousClock())
    let (runtime, journal) = try startInProcess(site: site, board: board, simulation: board, tag: "latency")
    let input = "in1"
    let debounce = Double(site.board.input(input)?.debounceMs ?? 50)
    var latencies: [Double] = []
    var handled: [Double] = []
    var level = false
    for _ in 0..<samples {
        level.toggle()
        let before = journal.lastSeq
        var seen = runtime.feed.current
        let t0 = monoNanos()
        try board.setInput(input, active: level)
        seen = runtime.feed.wait(after: seen, timeoutMs: 1000)
        handled.append(Double(monoNanos() - t0) / 1e6)
        while journal.lastSeq == before { seen = runtime.feed.wait(after: seen, timeoutMs: 1000) }
        latencies.append(Double(monoNanos() - t0) / 1e6)
        usleep(20_000)
    }
    runtime.post(.signal(SIGTERM))
    latencies.sort()
    handled.sort()
    say("  (the runtime loop took the input change after p50 \(fmt(percentile(handled, 50))) ms, p99 \(fmt(percentile(handled, 99))) ms)")
    say("latency: simulated input change -> zone event fsync'd in the journal (\(samples) samples, debounce \(Int(debounce)) ms)")
    say("  p50 \(fmt(percentile(latencies, 50))) ms, p99 \(fmt(percentile(latencies, 99))) ms, max \(fmt(latencies.last ?? 0)) ms; p99 beyond debounce: \(fmt(percentile(latencies, 99) - debounce)) ms (target <= 2 ms)")
}

/// The agent's runtime and journal in this process on `board`, the demo config, a fresh state folder; returns once it
/// runs and its inputs have settled. Logging is off (set at the start): the bench prints its own figures.
func startInProcess(site: Site, board: any Board, simulation: (any SimulationControl)?, tag: String) throws -> (Runtime<ContinuousClock>, Journal) {
    let stateDir = tempDir(tag)
    let journal = try Journal(directory: stateDir + "/journal", maxBytes: 64 << 20)
    let runtime = Runtime(site: site, board: board, simulation: simulation, journal: journal,
                          snapshot: SnapshotFile(path: stateDir + "/state.snapshot"), restored: nil, clock: ContinuousClock(),
                          options: .init(simulated: simulation != nil, configPath: demoConfig, stateDir: stateDir))
    let ready = Mutex(false)
    Task { _ = await runtime.run(onReady: { ready.withLock { $0 = true } }) }
    while !ready.withLock({ $0 }) { usleep(1000) }
    usleep(300_000)  // start-up settling
    return (runtime, journal)
}

// MARK: processes

struct Child {
    var pid: pid_t
    var stderrFD: Int32
}

func spawnAgent(stateDir: String, socket: String, config: String = demoConfig) -> Child {
    spawn([binDir + "/chekt-bridge", "run", "--config", config, "--simulate", "--state-dir", stateDir, "--socket", socket])
}

/// Starts `args` with its `output` (2: stderr, 1: stdout) into a pipe, which `Child.stderrFD` reads.
func spawn(_ args: [String], output: Int32 = 2) -> Child {
    var fds: [Int32] = [0, 0]
    pipe(&fds)
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_adddup2(&actions, fds[1], output)
    posix_spawn_file_actions_addclose(&actions, fds[0])
    var cargs = args.map { strdup($0) } + [nil]
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, args[0], &actions, nil, &cargs, environ)
    precondition(rc == 0, "cannot start \(args[0]): \(Posix.describe(rc)) (build it first: swift build -c release)")
    posix_spawn_file_actions_destroy(&actions)
    close(fds[1])
    for p in cargs { free(p) }
    return Child(pid: pid, stderrFD: fds[0])
}

/// The first line the child writes to its pipe (a server saying where it listens).
func firstLine(of child: Child) -> String {
    var line: [UInt8] = []
    var byte: UInt8 = 0
    while read(child.stderrFD, &byte, 1) == 1, byte != 10 { line.append(byte) }
    return String(decoding: line, as: UTF8.self)
}

/// Keeps reading the child's stderr (and dropping it), so it never blocks on a full pipe.
func discardOutput(of child: Child) {
    let fd = child.stderrFD
    Posix.spawnThread(name: "drain") { var b = [UInt8](repeating: 0, count: 65536); while read(fd, &b, b.count) > 0 {} }
}

func stop(_ child: Child) {
    kill(child.pid, SIGTERM)
    var status: Int32 = 0
    waitpid(child.pid, &status, 0)
    close(child.stderrFD)
}

/// Reads the child's stderr until a line contains `marker`; the time it arrived.
func waitForLine(_ fd: Int32, containing marker: String) -> UInt64? {
    var buffer: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = read(fd, &chunk, chunk.count)
        if n <= 0 { return nil }
        buffer += chunk[0..<n]
        if String(decoding: buffer, as: UTF8.self).contains(marker) { return monoNanos() }
    }
}

func benchColdStart(runs: Int) {
    var times: [Double] = []
    for i in 0..<runs {
        let dir = tempDir("cold\(i)")
        let t0 = monoNanos()
        let child = spawnAgent(stateDir: dir, socket: dir + "/control.sock")
        guard let t1 = waitForLine(child.stderrFD, containing: "bridge.started") else { say("  run \(i): no bridge.started"); stop(child); continue }
        times.append(Double(t1 - t0) / 1e6)
        stop(child)
    }
    times.sort()
    say("cold start: exec -> bridge.started fsync'd and logged (\(runs) runs, fresh state folder each)")
    say("  p50 \(fmt(percentile(times, 50))) ms, max \(fmt(times.last ?? 0)) ms (target <= 100 ms)")
}

func readProc(_ path: String) -> String {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true { let n = read(fd, &chunk, chunk.count); if n <= 0 { break }; out += chunk[0..<n] }
    return String(decoding: out, as: UTF8.self)
}

func cpuTicks(_ pid: pid_t) -> Int {
    let stat = readProc("/proc/\(pid)/stat")
    guard let close = stat.lastIndex(of: ")") else { return 0 }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    // After the command name: state is field 3; utime and stime are fields 14 and 15.
    return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
}

/// A `/proc/PID/status` figure in kB: `VmRSS` (resident) or `RssAnon` (the private, anonymous part).
func statusKB(_ pid: pid_t, _ field: String = "VmRSS") -> Int {
    for line in readProc("/proc/\(pid)/status").split(separator: "\n") where line.hasPrefix(field + ":") {
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
    return 0
}

/// How the idle agent is linked: not at all (local mode), or to the reference platform over HTTP or HTTPS.
enum IdleLink { case none, http, https }

func benchIdle(seconds: Int, link: IdleLink = .none) {
    let dir = tempDir("idle")
    var helpers: [Child] = []
    var config = demoConfig
    if link != .none {
        let (p, port) = startPlatform(dir: dir)
        helpers.append(p)
        if link == .https {
            let (socat, tlsPort) = startTLSTerminator(dir: dir, platformPort: port)
            helpers.append(socat)
            config = writePlatformConfig(dir: dir, port: tlsPort, tls: dir + "/tls-cert.pem")
        } else {
            config = writePlatformConfig(dir: dir, port: port)
        }
    }
    defer { for helper in helpers.reversed() { stop(helper) } }
    let child = spawnAgent(stateDir: dir, socket: dir + "/control.sock", config: config)
    _ = waitForLine(child.stderrFD, containing: "bridge.started")
    discardOutput(of: child)
    sleep(1)
    let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
    let c0 = cpuTicks(child.pid)
    let t0 = monoNanos()
    sleep(UInt32(seconds))
    let c1 = cpuTicks(child.pid)
    let wall = Double(monoNanos() - t0) / 1e9
    let rss = statusKB(child.pid)
    let anonymous = statusKB(child.pid, "RssAnon")
    stop(child)
    let cpu = Double(c1 - c0) / hz / wall * 100
    if link == .https {
        say("idle with the platform link over HTTPS (socat TLS terminator, self-signed CA in ca_file), \(seconds) s")
        say("  RSS \(fmt(Double(rss) / 1024, 1)) MB (compare with the HTTP figure above), CPU \(fmt(cpu, 3)) %")
    } else if link == .http {
        say("idle with the platform link: long-poll held open against the reference platform, \(seconds) s")
        say("  RSS \(fmt(Double(rss) / 1024, 1)) MB (target <= 14 MB), CPU \(fmt(cpu, 3)) % (target <= 0.1 %)")
    } else {
        say("idle: run --simulate with the demo config, \(seconds) s")
        say("  RSS \(fmt(Double(rss) / 1024, 1)) MB (target <= 12 MB), CPU \(fmt(cpu, 3)) % (target <= 0.1 %)")
    }
    say("  of the RSS, private (anonymous): \(fmt(Double(anonymous) / 1024, 1)) MB; the rest is pages of the binary and libraries")
}

// The agents this process hosts log nothing: the bench prints its own figures. Set once, before any thread starts:
// an in-process agent of one bench runs on into the next, and its threads read this (ThreadSanitizer reported each
// bench's own `Log.enabled = false` racing with the runtime loop of the one before; Tools/sanitize/run).
Log.enabled = false
let what = CommandLine.arguments.dropFirst().first { !$0.hasPrefix("--") } ?? "all"
let quick = CommandLine.arguments.contains("--quick")
say("chekt-bridge-bench \(AgentVersion.string) on \(readProc("/proc/cpuinfo").split(separator: "\n").first { $0.hasPrefix("model name") }?.split(separator: ":").last.map { $0.trimmingPrefix(" ") } ?? "?"), \(sysconf(Int32(_SC_NPROCESSORS_ONLN))) cores")
do {
    if what == "journal" || what == "all" { try benchJournal() }
    if what == "latency" || what == "all" { try await benchLatency(samples: 300) }
    if what == "coldstart" || what == "all" { benchColdStart(runs: 20) }
    if what == "idle" || what == "all" { benchIdle(seconds: 30) }
    if what == "drain" || what == "all" { try benchDrain(events: 100_000) }
    if what == "command" || what == "all" { try benchCommand(samples: 200) }
    if what == "idle-platform" || what == "all" { benchIdle(seconds: 60, link: .http) }
    if what == "idle-platform-tls" || what == "all" { benchIdle(seconds: 60, link: .https) }
    if what == "growth" || what == "all" { try benchGrowth(commands: 2000, inputChanges: 1000) }
    if what == "modbus" || what == "all" { try benchModbus() }
    if what == "gpio" { try await benchGPIOLatency(samples: 200) }  // not in "all": it needs the gpio-sim VM
    // The floods of docs/reliability.md: not in "all" either. Each checks what it floods and fails on a violation.
    var violations: [String] = []
    if what == "flood" || what == "flood-chatter" {
        violations += try benchFloodChatter(quick: quick, gpio: CommandLine.arguments.contains("--gpio"))  // --gpio: in the gpio-sim VM
    }
    if what == "flood" || what == "flood-commands" { violations += try benchFloodCommands(quick: quick) }
    if what == "flood" || what == "flood-clients" { violations += try benchFloodClients(quick: quick) }
    if what == "flood" || what == "flood-backlog" { violations += try benchFloodBacklog(quick: quick) }
    // A defect's reproduction, kept as a check (docs/reliability.md): a pulse shorter than the debounce must not reach
    // its zone while the loop is held and a request arrives.
    if what == "flood" || what == "debounce-held-loop" { violations += try benchHeldLoopPulse(trials: 5) }
    if !violations.isEmpty {
        say("\(what): \(violations.count) violation(s):")
        for violation in violations { say("  " + violation) }
        exit(1)
    }
} catch {
    say("bench failed: \(error)")
    exit(1)
}
