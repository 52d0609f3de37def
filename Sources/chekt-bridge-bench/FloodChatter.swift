// flood-chatter: an input chattering at 1 kHz (docs/reliability.md, "Floods and starvation").
import BridgeAgent
import BridgeCore
import BridgeHardware
import BridgeStore
import BridgeSystem
import Glibc
import Synchronization

/// What a flood check found wrong: the bench prints every one and exits 1.
final class Violations: @unchecked Sendable {
    private let list = Mutex<[String]>([])
    func add(_ s: String) { list.withLock { $0.append(s) }; say("  VIOLATION: " + s) }
    func check(_ ok: Bool, _ s: @autoclosure () -> String) { if !ok { add(s()) } }
    var all: [String] { list.withLock { $0 } }
}

// MARK: processes and threads of this one

/// The ids of this process's threads named `name` (`/proc/self/task/*/comm`).
func threadIDs(named name: String) -> [Int32] {
    guard let dir = opendir("/proc/self/task") else { return [] }
    defer { closedir(dir) }
    var out: [Int32] = []
    while let entry = readdir(dir) {
        let text = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard let tid = Int32(text) else { continue }
        if readProc("/proc/self/task/\(tid)/comm").split(separator: "\n").first.map(String.init) == name { out.append(tid) }
    }
    return out
}

/// CPU time a thread of this process has run, in nanoseconds (`/proc/self/task/TID/schedstat`, first field).
func threadCPUNanos(_ tid: Int32) -> UInt64 {
    UInt64(readProc("/proc/self/task/\(tid)/schedstat").split(separator: " ").first ?? "0") ?? 0
}

/// CPU time of the calling thread, in nanoseconds.
func ownThreadCPUNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// user + system CPU of this whole process, in nanoseconds.
func processCPUNanos() -> UInt64 {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func ns(_ t: timeval) -> UInt64 { UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_usec) * 1000 }
    return ns(usage.ru_utime) + ns(usage.ru_stime)
}

/// Sleeps until `deadline` (`CLOCK_MONOTONIC` nanoseconds); returns at once when it has passed.
func sleepUntil(_ deadline: UInt64) {
    var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
    while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
}

/// Runs `body` on a thread of its own and waits for it: the injector must not be a task of the concurrency pool,
/// as a board's reader thread is not.
func onThread<T: Sendable>(_ name: String, _ body: @escaping @Sendable () -> T) -> T {
    let result = OneShot<T>()
    Posix.spawnThread(name: name) { result.fulfil(body()) }
    return result.wait()
}

/// Peak and last readings of a process's memory (`/proc/PID/status`), sampled on a thread of its own every 5 ms
/// until `stop()`; `extra` runs at every sample (the chatter's queue depth).
final class MemorySampler: @unchecked Sendable {
    let pid: pid_t
    private let state = Mutex<(rss: Int, anon: Int, peakRSS: Int, peakAnon: Int, running: Bool)>((0, 0, 0, 0, true))
    private let finished = OneShot<Bool>()

    init(pid: pid_t, extra: (@Sendable () -> Void)? = nil) {
        self.pid = pid
        Posix.spawnThread(name: "mem-sampler") { [self] in
            while state.withLock({ $0.running }) {
                let rss = statusKB(pid), anon = statusKB(pid, "RssAnon")
                if rss > 0 {
                    state.withLock { s in
                        s.rss = rss; s.anon = anon
                        s.peakRSS = max(s.peakRSS, rss); s.peakAnon = max(s.peakAnon, anon)
                    }
                }
                extra?()
                usleep(5000)
            }
            finished.fulfil(true)
        }
    }

    /// Stops sampling; (VmRSS, RssAnon) peaks in kB.
    @discardableResult
    func stop() -> (peakRSS: Int, peakAnon: Int) {
        state.withLock { $0.running = false }
        _ = finished.wait()
        return state.withLock { ($0.peakRSS, $0.peakAnon) }
    }
}

/// A board that stands for the GPIO backend: every edge carries its `CLOCK_MONOTONIC` time, as the kernel
/// stamps a GPIO edge event (GPIOChipLink passes `timestamp_ns` on), so the debounce runs from the edge and not
/// from when the loop got to it. The simulated board gives no time (its changes come from a person at a socket),
/// so a loop that falls behind would see a queued change as a level that held; a chip thread's edges do not.
final class StampedBoard: Board, @unchecked Sendable {
    let profile: BoardProfile
    let events: AsyncStream<HardwareEvent>
    private let continuation: AsyncStream<HardwareEvent>.Continuation

    init(profile: BoardProfile) {
        self.profile = profile
        (events, continuation) = AsyncStream.makeStream(of: HardwareEvent.self, bufferingPolicy: .unbounded)
    }

    func open(initialOutputs: [String: Bool]) throws(HardwareError) -> [String: Bool?] {
        for chip in profile.gpioChips { continuation.yield(.device(id: chip.id, outcome: .ok)) }
        var levels: [String: Bool?] = [:]
        for input in profile.inputs { levels[input.id] = false }
        return levels
    }

    func setOutput(_ id: String, active: Bool) throws(HardwareError) {}
    func close() { continuation.finish() }

    /// An edge now, as the chip thread reports one.
    func edge(_ id: String, active: Bool) {
        continuation.yield(.input(id: id, active: active, monotonicNs: Posix.monotonicNanos()))
    }
}

func mb(_ kb: Int) -> String { fmt(Double(kb) / 1024, 1) + " MB" }

/// A counter threads share.
final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    init(_ start: Int = 0) { value.store(start, ordering: .relaxed) }
    func add(_ n: Int = 1) { value.add(n, ordering: .relaxed) }
    func raise(to n: Int) { _ = value.max(n, ordering: .relaxed) }
    var load: Int { value.load(ordering: .relaxed) }
}

/// A value used from another thread although its type does not say it may be (a control client one thread owns).
final class Handed<T>: @unchecked Sendable {
    let value: T
    init(_ v: T) { value = v }
}

// MARK: flood-chatter

/// An input chattering far faster than its debounce, injected where a board's reader thread puts its edges: the
/// simulated board's event stream, from a thread of its own, into the real runtime loop and journal in this
/// process (as `latency`). The control socket's `sim.input` costs a connection, a thread, a parse and a log line
/// per change, so it measures the socket, not the input path; its rate is printed first, as the reason.
///
/// Phase 1: the input chatters continuously (a change every `halfPeriodNs`) for `seconds`; no zone event may be
/// recorded, then one settled change gives exactly one. Phase 2: `bursts` cycles of chatter then a settle, at a
/// new level (exactly one event) or at the same one (none). Figures: the loop thread's CPU, the queue between
/// the board and the loop (changes injected, not yet handled), memory, the loop's answer time while flooded.
///
/// `gpio`: in the gpio-sim VM (Tools/gpio-vm/run), the real libgpiod board, the edges made by writing the line's
/// `sim_gpio5/pull` (the kernel stamps and queues them, the chip thread reads them): the same checks end to end.
func benchFloodChatter(quick: Bool, gpio: Bool = false) throws -> [String] {
    let v = Violations()
    let seconds = quick ? 5 : 60
    let bursts = quick ? 6 : 20
    let halfPeriodNs: UInt64 = 500_000  // a 1 kHz square wave: 2,000 changes a second
    say("flood-chatter: input in1 (debounce 50 ms, zone front_door) chattering at 1 kHz (a change every 0.5 ms) for \(seconds) s, then \(bursts) bursts")

    let site = try ConfigLoader.loadSite(path: demoConfig)
    let board: any Board
    let edge: @Sendable (Bool) -> Void
    if gpio {
        let fd = open(try gpioSimLine(5) + "/pull", O_WRONLY)
        guard fd >= 0 else { throw BenchFailure("gpio: cannot open sim_gpio5/pull") }
        board = RealBoard.make(profile: site.board)
        // in1 is active low with a pull-up: the contact closing pulls it down.
        edge = { active in let text = Array((active ? "pull-down" : "pull-up").utf8); _ = pwrite(fd, text, text.count, 0) }
        say("  on the kernel's gpio-sim line GPIO5 (in1), libgpiod \(GPIODLibrary.version), emulated: edges made by writing sim_gpio5/pull")
    } else {
        socketRateProbe(requests: quick ? 300 : 2000)
        let stamped = StampedBoard(profile: site.board)
        board = stamped
        edge = { active in stamped.edge("in1", active: active) }
    }
    let (runtime, journal) = try startInProcess(site: site, board: board, simulation: nil, tag: "chatter")
    defer { runtime.post(.signal(SIGTERM)) }
    let debounceMs = UInt64(site.board.input("in1")?.debounceMs ?? 50)
    // A gap of the injector's own this long (its thread not run: on this VM, the hypervisor) is a level that held:
    // the agent is right to report it, as a fault and a restore at most. So each such stall allows two zone events
    // while chattering; without one, none is allowed. A count, whatever the machine's speed.
    let stallNs = (debounceMs - 5) * 1_000_000
    guard let loopThread = threadIDs(named: "runtime").first else { throw BenchFailure("no runtime thread found") }

    // The control socket, for a technician watching in phase 1b.
    let socketPath = tempDir("chatter-socket") + "/control.sock"
    let server = try ControlServer(path: socketPath, target: runtime)
    server.start()
    defer { server.remove() }

    @Sendable func loopAnswerMs() -> Double {
        let answer = OneShot<JSONObject>()
        let t0 = monoNanos()
        runtime.post(.control(.inputs, uid: nil, reply: { answer.fulfil($0) }))
        _ = answer.wait()
        return Double(monoNanos() - t0) / 1e6
    }
    /// After a chatter whose injector stalled, the debounced level may differ from where the chatter ended: that
    /// level's own debounce ends first, so its event counts with the chatter's.
    func settleAfterStalls(_ stalls: Int) {
        guard stalls > 0 else { return }
        usleep(UInt32(debounceMs * 3 * 1000))
        _ = loopAnswerMs()
    }
    func zoneEvents(after seq: Int64) throws -> [Event] {
        var out: [Event] = []
        var after = seq
        while true {
            let page = try journal.events(after: after, limit: 500)
            guard let last = page.last else { return out }
            out += page.filter { $0.type.hasPrefix("zone.") }
            after = last.seq
        }
    }
    /// Waits (for as long as it takes, up to a minute: a liveness bound, not a figure) for a zone event after `seq`.
    func awaitZoneEvent(after seq: Int64) throws -> Bool {
        var seen = runtime.feed.current
        let deadline = monoNanos() + 60_000_000_000
        while try zoneEvents(after: seq).isEmpty {
            if monoNanos() > deadline { return false }
            seen = runtime.feed.wait(after: seen, timeoutMs: 100)
        }
        return true
    }

    let realtime = Counter()
    // Where an injector's gap comes from: woken late (the scheduler, the hypervisor) or held in the stream's yield.
    let lateUs = Counter(), yieldUs = Counter()
    /// Chatters from `committed` for `durationNs`, ending on `committed`; returns (changes, longest gap in ns, gaps of
    /// `stallNs` or more).
    @Sendable func chatter(from committed: Bool, durationNs: UInt64, injected: Counter) -> (Int, UInt64, Int) {
        // A real-time priority where allowed (root): edges come from an interrupt, not from a thread that a busy
        // machine deschedules for 100 ms (which would be a level that held).
        var param = sched_param(sched_priority: 1)
        realtime.raise(to: pthread_setschedparam(pthread_self(), SCHED_FIFO, &param) == 0 ? 1 : 0)
        var level = committed
        var changes = 0
        var maxGap: UInt64 = 0
        var stalls = 0
        let start = monoNanos()
        var next = start
        var last = start
        while true {
            next += halfPeriodNs
            sleepUntil(next)
            let now = monoNanos()
            // Ends on the committed level: the settle that follows is the only change that holds.
            if now - start >= durationNs && level == committed { break }
            level.toggle()
            lateUs.raise(to: Int((now - next) / 1000))
            edge(level)
            yieldUs.raise(to: Int((monoNanos() - now) / 1000))
            injected.add()
            changes += 1
            maxGap = max(maxGap, now - last)
            if now - last >= stallNs { stalls += 1 }
            last = now
            if now > next + 20_000_000 { next = now }  // far behind (descheduled): no catch-up burst
        }
        return (changes, maxGap, stalls)
    }

    // Phase 1: a minute of chatter.
    var committed = false
    let injected = Counter()
    let maxBacklog = Counter()
    let feedStart = runtime.feed.current
    let seqBefore = journal.lastSeq
    let rssStart = statusKB(getpid()), anonStart = statusKB(getpid(), "RssAnon")
    let sampler = MemorySampler(pid: getpid()) {
        // Handled changes: each input message the loop takes moves the feed once (nothing else does during chatter).
        let handled = Int(runtime.feed.current &- feedStart)
        maxBacklog.raise(to: injected.load - handled)
    }
    let answers = Mutex<[Double]>([])
    let probing = Counter(1)
    Posix.spawnThread(name: "bench-probe") {
        while probing.load == 1 {
            let ms = loopAnswerMs()
            answers.withLock { $0.append(ms) }
            usleep(100_000)
        }
    }
    let loopCPU0 = threadCPUNanos(loopThread), process0 = processCPUNanos()
    let t0 = monoNanos()
    let (changes, maxGap, stalls, injectorCPU) = onThread("chatter") { () -> (Int, UInt64, Int, UInt64) in
        let c0 = ownThreadCPUNanos()
        let (n, gap, stalls) = chatter(from: false, durationNs: UInt64(seconds) * 1_000_000_000, injected: injected)
        return (n, gap, stalls, ownThreadCPUNanos() - c0)
    }
    let wall = Double(monoNanos() - t0) / 1e9
    let loopCPU = Double(threadCPUNanos(loopThread) - loopCPU0) / 1e9
    let processCPU = Double(processCPUNanos() - process0) / 1e9
    probing.add(-1)
    let drainStart = monoNanos()
    let barrierMs = loopAnswerMs()  // everything injected before it is handled once it answers
    let drainMs = Double(monoNanos() - drainStart) / 1e6
    let (peakRSS, peakAnon) = sampler.stop()
    let rssEnd = statusKB(getpid()), anonEnd = statusKB(getpid(), "RssAnon")
    settleAfterStalls(stalls)
    let during = try zoneEvents(after: seqBefore)
    v.check(during.count <= 2 * stalls, "phase 1: \(during.count) zone event(s) recorded while the input chattered "
            + "(the injector stalled \(stalls) times): \(during.map { "#\($0.seq) \($0.type)" })")
    if let last = during.last { committed = last.type == "zone.faulted" }
    // The settle: one change that holds.
    let settleSeq = journal.lastSeq
    committed.toggle()
    edge(committed)
    v.check(try awaitZoneEvent(after: settleSeq), "phase 1: the settled level gave no zone event within a minute")
    _ = loopAnswerMs()
    usleep(UInt32(debounceMs * 3 * 1000))
    let settled = try zoneEvents(after: settleSeq)
    v.check(settled.count == 1 && settled.first?.type == (committed ? "zone.faulted" : "zone.restored"),
            "phase 1: the settled level gave \(settled.map { "#\($0.seq) \($0.type)" }) instead of one \(committed ? "zone.faulted" : "zone.restored")")
    let sortedAnswers = answers.withLock { $0 }.sorted()

    say("  phase 1: \(changes) changes in \(fmt(wall, 1)) s (\(Int(Double(changes) / wall))/s, the injector "
        + (realtime.load == 1 ? "at real-time priority SCHED_FIFO 1" : "at normal priority: SCHED_FIFO refused") + "); "
        + "zone events while chattering: \(during.count); after the settle: \(settled.count) (\(settled.first?.type ?? "-"))")
    say("  the injector's longest gap \(fmt(Double(maxGap) / 1e6)) ms (woken up to \(fmt(Double(lateUs.load) / 1000)) ms late, held up to "
        + "\(fmt(Double(yieldUs.load) / 1000)) ms in the stream's yield); gaps of \(stallNs / 1_000_000) ms or more, each a level that held: \(stalls)")
    say("  CPU: the runtime loop thread \(fmt(loopCPU / wall * 100)) % of a core (\(fmt(loopCPU / Double(max(changes, 1)) * 1e6)) µs per change); "
        + "the injecting thread (a board's reader) \(fmt(Double(injectorCPU) / 1e9 / wall * 100)) %; the whole process \(fmt(processCPU / wall * 100)) %")
    if gpio {
        // The kernel queues edges per line and the chip thread reads them in batches; an overflow is read back as
        // the lines' levels (GPIOChipLink), so fewer changes reach the loop than were written.
        say("  changes the loop took: \(Int(runtime.feed.current &- feedStart)) of \(changes) written (edges merged or lost in the kernel's "
            + "queue are read back as the line's level); the loop answered \(fmt(drainMs)) ms after the chatter stopped")
    } else {
        say("  queue board -> loop: at most \(maxBacklog.load) changes waiting (sampled every 5 ms); drained \(fmt(drainMs)) ms after the chatter stopped "
            + "(the loop's answer: \(fmt(barrierMs)) ms)")
    }
    say("  the loop's answer to a request while flooded (every 100 ms, \(sortedAnswers.count) requests): p50 \(fmt(percentile(sortedAnswers, 50))) ms, max \(fmt(sortedAnswers.last ?? 0)) ms")
    say("  memory of the process: VmRSS \(mb(rssStart)) -> peak \(mb(peakRSS)) -> \(mb(rssEnd)); private (RssAnon) \(mb(anonStart)) -> peak \(mb(peakAnon)) -> \(mb(anonEnd))")

    // Phase 1b: the same with a technician watching: `inputs --watch` and `events --follow` on the control socket.
    let watchSeconds = quick ? 2 : 10
    let watchLines = Counter(), followLines = Counter()
    for (request, counter) in [(["op": "inputs", "watch": true] as JSONObject, watchLines), (["op": "events", "follow": true, "last": 0], followLines)] {
        guard let client = try? ControlClient(path: socketPath), client.send(request) else { throw BenchFailure("no control socket") }
        let handed = Handed(client)
        Posix.spawnThread(name: "bench-follow") { while handed.value.next() != nil { counter.add() } }
    }
    usleep(200_000)
    let watchSeq = journal.lastSeq, tables0 = watchLines.load
    let loopB0 = threadCPUNanos(loopThread), processB0 = processCPUNanos(), tB = monoNanos()
    let fromB = committed
    let (changesB, _, stallsB) = onThread("chatter") { chatter(from: fromB, durationNs: UInt64(watchSeconds) * 1_000_000_000, injected: injected) }
    let wallB = Double(monoNanos() - tB) / 1e9
    let loopB = Double(threadCPUNanos(loopThread) - loopB0) / 1e9, processB = Double(processCPUNanos() - processB0) / 1e9
    let tables = watchLines.load - tables0
    _ = loopAnswerMs()
    settleAfterStalls(stallsB)
    let duringB = try zoneEvents(after: watchSeq)
    v.check(duringB.count <= 2 * stallsB, "phase 1b: \(duringB.count) zone event(s) while chattering (the injector stalled \(stallsB) times)")
    if let last = duringB.last { committed = last.type == "zone.faulted" }
    say("  phase 1b, the same for \(watchSeconds) s with a technician watching (inputs --watch, events --follow): the loop thread \(fmt(loopB / wallB * 100)) % "
        + "(\(fmt(loopB / Double(max(changesB, 1)) * 1e6)) µs per change), the whole process \(fmt(processB / wallB * 100)) %; "
        + "the watch got \(tables) tables (\(Int(Double(tables) / wallB))/s), the follower \(followLines.load) lines; zone events: \(duringB.count)")
    // inputs --watch sends at most one table per ControlServer.watchIntervalMs (100 ms), and one more at once.
    v.check(Double(tables) <= wallB * 10 + 2, "inputs --watch sent \(tables) tables in \(fmt(wallB, 1)) s, more than one per 100 ms")

    // Phase 2: bursts, each settling at a new level (one event) or at the same one (none).
    var expected = 0, recorded = 0, stalled = 0, duringBursts = 0
    for k in 0..<bursts {
        let start = journal.lastSeq
        let from = committed
        let (_, _, burstStalls) = onThread("chatter") { chatter(from: from, durationNs: 300_000_000, injected: injected) }
        _ = loopAnswerMs()
        settleAfterStalls(burstStalls)
        let inBurst = try zoneEvents(after: start)
        stalled += burstStalls
        duringBursts += inBurst.count
        v.check(inBurst.count <= 2 * burstStalls, "burst \(k): \(inBurst.count) zone event(s) while chattering (the injector stalled \(burstStalls) times)")
        if let last = inBurst.last { committed = last.type == "zone.faulted" }
        let settleFrom = journal.lastSeq
        let change = k % 3 != 2
        if change {
            committed.toggle()
            edge(committed)
            v.check(try awaitZoneEvent(after: settleFrom), "burst \(k): the settled level gave no zone event within a minute")
            expected += 1
        }
        usleep(UInt32(debounceMs * 3 * 1000))
        _ = loopAnswerMs()
        let got = try zoneEvents(after: settleFrom)
        recorded += got.count
        v.check(got.count == (change ? 1 : 0) && (got.first.map { $0.type == (committed ? "zone.faulted" : "zone.restored") } ?? true),
                "burst \(k): settled \(change ? "at a new level" : "at the same level"), recorded \(got.map { "#\($0.seq) \($0.type)" })")
    }
    say("  phase 2: \(bursts) bursts of 300 ms: \(expected) settled at a new level, \(recorded) zone events recorded after them"
        + "; \(duringBursts) while chattering (the injector stalled \(stalled) times)")
    return v.all
}

/// How fast `sim.input` goes over the control socket of a real agent (`run --simulate`), one connection per
/// request as the tools do: why the chatter is not injected that way.
func socketRateProbe(requests: Int) {
    let dir = tempDir("simrate")
    let agent = spawnAgent(stateDir: dir + "/state", socket: dir + "/control.sock")
    defer { stop(agent) }
    discardOutput(of: agent)
    var ready = false
    for _ in 0..<100 where !ready {
        ready = (try? ControlClient(path: dir + "/control.sock"))?.call(["op": "status"])?["ok"] == .bool(true)
        if !ready { usleep(50_000) }
    }
    guard ready else { say("  (sim.input over the socket: no agent answered)"); return }
    let c0 = cpuTicks(agent.pid)
    let t0 = monoNanos()
    var ok = 0
    for i in 0..<requests {
        if (try? ControlClient(path: dir + "/control.sock"))?.call(["op": "sim.input", "input": "in1", "active": .bool(i % 2 == 0)])?["ok"] == .bool(true) { ok += 1 }
    }
    let s = Double(monoNanos() - t0) / 1e9
    let cpu = Double(cpuTicks(agent.pid) - c0) / Double(sysconf(Int32(_SC_CLK_TCK)))
    say("  why not the socket: sim.input over the control socket of run --simulate, one connection each: \(ok) of \(requests) in \(fmt(s, 2)) s = "
        + "\(Int(Double(ok) / s))/s, \(Int(cpu / Double(max(ok, 1)) * 1e6)) µs of the agent's CPU each (a thread, a parse, a log line); "
        + "1 kHz that way would measure the socket, so the changes go into the board's event stream, where a GPIO chip thread puts its edges")
}

// MARK: debounce-held-loop (a reproduction, not part of flood)

/// A pulse shorter than the debounce reaches a zone when the runtime loop is held (a slow fsync) and a request
/// arrives meanwhile: the request is handled before the pulse's second edge, which is still in the board's stream
/// behind the loop, and it runs the engine up to its own handling time, so the first edge's debounce ends there.
/// Here the loop is held 80 ms by a request whose answer takes that long (an SD card's fdatasync can), with the
/// GPIO-like board; each trial is a 5 ms pulse on back_window (instant) of an armed partition. Without the request
/// no trial records anything; with it, every trial gives zone.faulted (and, up to the swinger limit, alarm.created
/// and the siren). Exits 1 while that is so (docs/reliability.md, "Floods and starvation").
func benchHeldLoopPulse(trials: Int) throws -> [String] {
    let v = Violations()
    say("debounce-held-loop: a 5 ms pulse (debounce 50 ms) on an armed instant zone while the loop is held 80 ms, \(trials) trials without and with a request arriving meanwhile")
    let site = try ConfigLoader.loadSite(path: demoConfig)
    let board = StampedBoard(profile: site.board)
    let (runtime, journal) = try startInProcess(site: site, board: board, simulation: nil, tag: "held")
    defer { runtime.post(.signal(SIGTERM)) }
    let armed = OneShot<RequestResult>()
    runtime.post(.command(.arm(partition: "main", mode: .away, force: false), Origin(source: .command, commandID: "cmd_bench_arm"),
                          reply: { armed.fulfil($0) }))
    guard armed.wait().status == .succeeded else { throw BenchFailure("cannot arm the demo partition") }
    for withRequest in [false, true] {
        var reached = 0, alarms = 0
        for _ in 0..<trials {
            let before = journal.lastSeq
            let seen = runtime.feed.current
            board.edge("in4", active: true)
            _ = runtime.feed.wait(after: seen, timeoutMs: 1000)  // the loop has taken the first edge
            runtime.post(.control(.status, uid: nil, reply: { _ in usleep(80_000) }))  // the loop is held 80 ms
            usleep(5_000)
            board.edge("in4", active: false)  // the pulse ends 5 ms after it began
            usleep(10_000)
            if withRequest { runtime.post(.control(.request(.relayDeactivate(relay: "door_strike")), uid: nil, reply: { _ in })) }
            usleep(300_000)
            let events = try journal.events(after: before, limit: 100)
            if events.contains(where: { $0.type == "zone.faulted" }) { reached += 1 }
            alarms += events.filter { $0.type == "alarm.created" }.count
        }
        say("  \(withRequest ? "with a request arriving while held" : "without a request"): the pulse reached the zone in \(reached) of \(trials) trials, \(alarms) alarm.created")
        v.check(reached == 0, "a 5 ms pulse reached back_window in \(reached) of \(trials) trials \(withRequest ? "with" : "without") a request arriving while the loop was held (\(alarms) alarms)")
    }
    return v.all
}
