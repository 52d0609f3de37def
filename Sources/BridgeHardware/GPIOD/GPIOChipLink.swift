import BridgeCore
import BridgeSystem
import CGPIODAdapter
import Glibc

/// One GPIO chip of the profile, for the life of the process: found by label, its lines requested (outputs at the
/// levels the agent holds, so nothing switches), its edges read on a thread of its own, and the chip supervised.
///
/// The thread blocks in `poll` on the lines' event descriptors and a stop descriptor, with a one-second timeout at
/// which it checks that the chip is still there. A chip that cannot be found, opened or requested, or that goes
/// away, is reported as a failed `device` outcome (the engine's `gpio` device goes offline) and tried again every
/// second; once it is back its inputs are read afresh. Thread-safe: every libgpiod call is made under `condition`.
final class GPIOChipLink: @unchecked Sendable {
    struct Line: Sendable {
        var id: String
        var ref: BoardProfile.LineRef
        var output: Bool
        var activeLow: Bool
        var bias: BoardProfile.Bias
        var drive: BoardProfile.Drive
    }

    struct Statistics: Sendable {
        var path: String?
        var label: String?
        var edges = 0
        /// Times events were found missing (the kernel's queue overflowed, or a sequence number jumped) and the
        /// lines were read again.
        var resyncs = 0
        var reconnects = 0
        var lastError: String?
    }

    let spec: BoardProfile.GPIOChip
    let lines: [Line]
    /// The consumer name the kernel shows for our lines (`gpioinfo`).
    static let consumer = "chekt-bridge"
    /// How long the thread waits before trying a missing chip again, and between presence checks.
    static let retryMs: Int32 = 1000
    /// The v1 kernel queue holds 16 events per line: reading that many at once means some may have been dropped.
    static let v1QueueSize = 16
    /// Errors on the lines' descriptors in a row, with the chip present, before the lines are requested afresh.
    static let troubleBeforeReconnect = 5

    private let emit: @Sendable (HardwareEvent) -> Void
    private let devices: String
    private let condition = Condition()
    /// A pipe: writing to [1] wakes the thread from `poll` on [0].
    private let stopPipe: (read: Int32, write: Int32)
    // Under `condition`:
    private var chip: GPIODChip?
    private var request: GPIODLines?
    private var offsets: [String: Int] = [:]
    private var inputAt: [Int: String] = [:]
    private var held: [String: Bool] = [:]
    private var reported: [String: Bool] = [:]
    private var lastSeqno: [Int: UInt64] = [:]
    private var lastGlobalSeqno: UInt64 = 0
    /// Request errors in a row while the chip is present (see `run`).
    private var troubleInARow = 0
    private var failure: GPIOFailure?
    private var loggedFailure: String?
    private var stats = Statistics()
    private var running = false
    private var stopping = false

    init(spec: BoardProfile.GPIOChip, profile: BoardProfile, devices: String = "/dev", emit: @escaping @Sendable (HardwareEvent) -> Void) {
        self.spec = spec
        self.emit = emit
        self.devices = devices
        lines = Self.lines(of: spec, in: profile)
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        }
        stopPipe = (fds[0], fds[1])
    }

    /// The profile's inputs, then outputs, on chip `spec`.
    static func lines(of spec: BoardProfile.GPIOChip, in profile: BoardProfile) -> [Line] {
        var lines: [Line] = []
        for input in profile.inputs {
            guard case .gpio(let line) = input.source, line.chip == spec.id else { continue }
            lines.append(Line(id: input.id, ref: line.line, output: false, activeLow: input.activeLow, bias: input.bias, drive: .pushPull))
        }
        for output in profile.outputs {
            guard case .gpio(let line) = output.sink, line.chip == spec.id else { continue }
            lines.append(Line(id: output.id, ref: line.line, output: true, activeLow: output.activeLow, bias: .asIs, drive: output.drive))
        }
        return lines
    }

    deinit { for fd in [stopPipe.read, stopPipe.write] where fd >= 0 { Glibc.close(fd) } }

    var outputIDs: [String] { lines.filter(\.output).map(\.id) }
    var inputIDs: [String] { lines.filter { !$0.output }.map(\.id) }

    /// Requests the lines (outputs at `initialOutputs`) and starts the thread. The first level of each input, nil
    /// for all of them when the chip could not be had (then reported, and tried again).
    func start(initialOutputs: [String: Bool]) throws(HardwareError) -> [String: Bool?] {
        guard stopPipe.read >= 0 else {
            throw HardwareError(.io, operation: "open gpio chip \(spec.id)", message: "cannot make its stop pipe (no file descriptors left?)")
        }
        condition.lock()
        for line in lines where line.output { held[line.id] = initialOutputs[line.id] ?? false }
        let first = connect()
        running = true
        condition.unlock()
        report(first)
        let rc = Posix.startThread(name: "gpio-\(spec.id)") { [self] in run() }
        guard rc == 0 else {
            condition.lock(); running = false; disconnect(); condition.unlock()
            throw HardwareError(.io, operation: "open gpio chip \(spec.id)", errno: rc, message: "cannot start its thread: \(Posix.describe(rc))")
        }
        var levels: [String: Bool?] = [:]
        for id in inputIDs { levels[id] = .some(nil) }
        if case .success(let read) = first { for (id, level) in read { levels[id] = level } }
        return levels
    }

    /// Records the level wanted for `output` and drives it. Throws when the chip is not there (the level is
    /// still held: the line is requested at it when the chip is back).
    func set(_ output: String, active: Bool) throws(HardwareError) {
        condition.lock()
        defer { condition.unlock() }
        // The level a returning chip's outputs are requested at. A failed switch-on is not kept: the runtime
        // writes what it still wants once the chip answers, so nothing comes on by itself; a switch-off is kept
        // even when it fails, so a returning chip never brings back a relay the agent switched off.
        if !active { held[output] = false }
        guard chip != nil, let request, let offset = offsets[output] else {
            throw HardwareError(.io, operation: "set output \(output)",
                                message: "gpio chip \(spec.id) is not available (\(failure?.reason ?? "not opened"))")
        }
        if let f = request.set(offset: offset, active: active) {
            throw HardwareError(.io, operation: "set output \(output)", errno: f.errno, message: f.reason)
        }
        held[output] = active
    }

    /// Stops the thread and releases every line. Waits for it.
    func stop() {
        condition.lock()
        stopping = true
        var one: UInt8 = 1
        _ = write(stopPipe.write, &one, 1)
        while running { condition.wait(timeoutMs: 100) }
        disconnect()
        condition.unlock()
    }

    /// Runs `body` while the thread cannot read edges (it waits for the lock after `poll`), so the kernel's queue
    /// fills as it would behind a stalled reader. `body` is given a wait for the kernel to have queued an edge
    /// (the lines' descriptors readable, up to `timeoutMs`). For tests.
    func withReadingPaused<T>(_ body: (_ edgesQueued: (_ timeoutMs: Int32) -> Bool) throws -> T) rethrows -> T {
        condition.lock(); defer { condition.unlock() }
        let fds = request?.eventFDs ?? []
        return try body { timeoutMs in
            var polled = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            return !polled.isEmpty && Posix.retrying { poll(&polled, nfds_t(polled.count), timeoutMs) } > 0
        }
    }

    func statistics() -> Statistics {
        condition.lock(); defer { condition.unlock() }
        var s = stats
        s.lastError = failure?.reason ?? stats.lastError
        return s
    }

    // MARK: The chip thread

    private func run() {
        var fds: [pollfd] = []
        while true {
            condition.lock()
            if stopping { break }
            let connected = chip != nil
            fds = [pollfd(fd: stopPipe.read, events: Int16(POLLIN), revents: 0)]
                + (request?.eventFDs ?? []).map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            condition.unlock()

            let n = Posix.retrying { poll(&fds, nfds_t(fds.count), Self.retryMs) }
            let pollError = n < 0 ? errno : 0
            condition.lock()
            if stopping { break }
            if !connected {
                let result = connect()
                condition.unlock()
                report(result)
                continue
            }
            var events: [HardwareEvent] = []
            var trouble: GPIOFailure?
            if n <= 0 {
                // The timeout (or poll itself failing): is the chip still there? (A poll already blocked is not
                // woken when a chip is unregistered; this is how a vanished chip is seen.)
                if let gone = chip?.checkPresent() { lose(gone) }
                if n < 0 { trouble = GPIOFailure(.other, "waiting for edges failed: \(Posix.describe(pollError))", errno: pollError) }
            } else {
                var edges: [chekt_gpio_edge] = []
                for pfd in fds.dropFirst() where pfd.revents != 0 {
                    guard let request else { break }
                    if pfd.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 {
                        trouble = GPIOFailure(.vanished, "the kernel closed the lines' events (poll: \(pfd.revents))")
                        continue
                    }
                    switch request.readEdges(fd: pfd.fd) {
                    case .success(let read): edges += read
                    case .failure(let f): trouble = f
                    }
                }
                events = take(edges.sorted { $0.timestamp_ns < $1.timestamp_ns })
                if let trouble, chip != nil {
                    if let gone = chip?.checkPresent() {
                        lose(gone)
                    } else {
                        // The chip is there: keep the lines (releasing them would drop the relays until the
                        // reconnect), read the inputs instead, and reconnect only if it goes on.
                        troubleInARow += 1
                        if troubleInARow >= Self.troubleBeforeReconnect {
                            lose(GPIOFailure(trouble.kind, "\(trouble.reason), \(troubleInARow) times in a row with \(chip?.path ?? "the chip") present"))
                        } else {
                            events += resync()
                        }
                    }
                } else {
                    troubleInARow = 0
                }
            }
            let lost = chip == nil ? failure : nil
            condition.unlock()
            for event in events { emit(event) }
            if let lost { report(.failure(lost)) }
            if lost == nil, let trouble {
                Log.warning("gpio chip \(spec.id): \(trouble.reason); the inputs were read again")
                usleep(UInt32(Self.retryMs) * 100)  // never a spin, whatever the kernel keeps answering
            }
        }
        running = false
        condition.broadcast()
        condition.unlock()
    }

    /// Turns edges (in the order they happened) into input events. An edge that repeats the level last reported,
    /// a gap in the kernel's sequence numbers (per line, or across the request: v2 requests share one queue that
    /// drops its oldest events when full), or a full read of a v1 line's 16-event queue means edges were lost:
    /// then every input is read again and the level it has now is reported. A lost change is reported late; a
    /// whole pulse lost from a full queue cannot be, and is counted in `resyncs`.
    private func take(_ edges: [chekt_gpio_edge]) -> [HardwareEvent] {
        var events: [HardwareEvent] = []
        var lost = false
        var perLine: [Int: Int] = [:]
        for edge in edges {
            let offset = Int(edge.offset)
            guard let id = inputAt[offset] else { continue }
            stats.edges += 1
            perLine[offset, default: 0] += 1
            if edge.line_seqno != 0 {
                if let last = lastSeqno[offset], edge.line_seqno != last &+ 1 { lost = true }
                lastSeqno[offset] = edge.line_seqno
            }
            if edge.global_seqno != 0 {
                if edge.global_seqno != lastGlobalSeqno &+ 1 { lost = true }
                lastGlobalSeqno = edge.global_seqno
            }
            guard reported[id] != edge.rising else { lost = true; continue }
            reported[id] = edge.rising
            events.append(.input(id: id, active: edge.rising, monotonicNs: edge.timestamp_ns))
        }
        if GPIODLibrary.apiMajor == 1, perLine.values.contains(where: { $0 >= Self.v1QueueSize }) { lost = true }
        return lost ? events + resync() : events
    }

    /// Reads every input and reports those whose level is not the one last reported.
    private func resync() -> [HardwareEvent] {
        guard let request else { return [] }
        stats.resyncs += 1
        var events: [HardwareEvent] = []
        for (offset, id) in inputAt.sorted(by: { $0.key < $1.key }) {
            guard case .success(let level) = request.get(offset: offset), reported[id] != level else { continue }
            reported[id] = level
            events.append(.input(id: id, active: level, monotonicNs: nil))
        }
        return events
    }

    // MARK: Connecting (under `condition`)

    /// Finds the chip by label, resolves the lines, requests them and reads the inputs.
    private func connect() -> Result<[String: Bool], GPIOFailure> {
        disconnect()
        do throws(GPIOFailure) {
            let chip = try GPIOChipFinder.chip(for: spec, in: GPIOChipFinder.openAll(devices: devices), devices: devices)
            let resolved = try Self.resolve(lines, on: chip)
            let configs = lines.map { line in
                chekt_gpio_line_config(offset: UInt32(resolved[line.id]!), output: line.output, active_low: line.activeLow,
                                       bias: Self.bias(line.bias), drive: line.drive == .openDrain ? CHEKT_GPIO_DRIVE_OPEN_DRAIN : CHEKT_GPIO_DRIVE_PUSH_PULL,
                                       initial: held[line.id] ?? false)
            }
            let names = lines.map { "\(ConfigText.printable("\($0.ref)")) (\($0.id))" }
            let request = lines.isEmpty ? nil : try chip.request(consumer: Self.consumer, lines: configs, names: names)
            var levels: [String: Bool] = [:]
            for line in lines where !line.output {
                switch request!.get(offset: resolved[line.id]!) {
                case .success(let level): levels[line.id] = level
                case .failure(let f): throw f
                }
            }
            self.chip = chip
            self.request = request
            offsets = resolved
            inputAt = Dictionary(lines.filter { !$0.output }.map { (resolved[$0.id]!, $0.id) }, uniquingKeysWith: { a, _ in a })
            reported = levels
            // Sequence numbers start at 1 in each request: the first edge read must be number 1.
            lastSeqno = Dictionary(inputAt.keys.map { ($0, 0) }, uniquingKeysWith: { a, _ in a })
            lastGlobalSeqno = 0
            troubleInARow = 0
            if stats.path != nil { stats.reconnects += 1 }
            stats.path = chip.path
            stats.label = chip.label
            failure = nil
            return .success(levels)
        } catch {
            failure = error
            stats.lastError = error.reason
            return .failure(error)
        }
    }

    /// Each line's offset on `chip`. Two lines of the profile on one offset (a name in one place, its number in
    /// another: the config check cannot see it before the chip is open) are refused, naming both.
    static func resolve(_ lines: [Line], on chip: GPIODChip) throws(GPIOFailure) -> [String: Int] {
        var resolved: [String: Int] = [:]
        var byOffset: [Int: Line] = [:]
        for line in lines {
            let offset = try chip.offset(of: line.ref)
            if let other = byOffset[offset] {
                throw GPIOFailure(.conflict, "\(ConfigText.printable("\(other.ref)")) (\(other.id)) and \(ConfigText.printable("\(line.ref)")) (\(line.id)) are the same line (offset \(offset)) of \(chip.path)",
                                  fix: "give each input and output its own line in the board profile")
            }
            byOffset[offset] = line
            resolved[line.id] = offset
        }
        return resolved
    }

    private func disconnect() {
        request?.release()
        request = nil
        chip?.close()
        chip = nil
    }

    private func lose(_ why: GPIOFailure) {
        disconnect()
        failure = why
        stats.lastError = why.reason
    }

    /// Tells the engine how the chip is (every try, as a Modbus poll does) and the log when that changes.
    private func report(_ result: Result<[String: Bool], GPIOFailure>) {
        switch result {
        case .success(let levels):
            condition.lock()
            let wasFailing = loggedFailure != nil
            loggedFailure = nil
            let path = stats.path ?? "?"
            condition.unlock()
            if wasFailing { Log.info("gpio chip \(spec.id): \(path) is back; lines requested again at the levels the agent holds") }
            emit(.device(id: spec.id, outcome: .ok))
            if wasFailing { for (id, level) in levels.sorted(by: { $0.key < $1.key }) { emit(.input(id: id, active: level)) } }
        case .failure(let f):
            condition.lock()
            let changed = loggedFailure != f.message
            loggedFailure = f.message
            condition.unlock()
            if changed { Log.error("gpio chip \(spec.id): \(f.message); trying again every \(Self.retryMs / 1000) s") }
            emit(.device(id: spec.id, outcome: .failed(reason: f.reason)))
        }
    }

    static func bias(_ b: BoardProfile.Bias) -> chekt_gpio_bias {
        switch b {
        case .asIs: return CHEKT_GPIO_BIAS_AS_IS
        case .disabled: return CHEKT_GPIO_BIAS_DISABLED
        case .pullUp: return CHEKT_GPIO_BIAS_PULL_UP
        case .pullDown: return CHEKT_GPIO_BIAS_PULL_DOWN
        }
    }
}
