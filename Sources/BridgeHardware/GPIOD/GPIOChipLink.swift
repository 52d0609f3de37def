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
    private var failure: GPIOFailure?
    private var loggedFailure: String?
    private var stats = Statistics()
    private var running = false
    private var stopping = false

    init(spec: BoardProfile.GPIOChip, profile: BoardProfile, devices: String = "/dev", emit: @escaping @Sendable (HardwareEvent) -> Void) {
        self.spec = spec
        self.emit = emit
        self.devices = devices
        var lines: [Line] = []
        for input in profile.inputs {
            guard case .gpio(let line) = input.source, line.chip == spec.id else { continue }
            lines.append(Line(id: input.id, ref: line.line, output: false, activeLow: input.activeLow, bias: input.bias, drive: .pushPull))
        }
        for output in profile.outputs {
            guard case .gpio(let line) = output.sink, line.chip == spec.id else { continue }
            lines.append(Line(id: output.id, ref: line.line, output: true, activeLow: output.activeLow, bias: .asIs, drive: output.drive))
        }
        self.lines = lines
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        }
        stopPipe = (fds[0], fds[1])
    }

    deinit { for fd in [stopPipe.read, stopPipe.write] where fd >= 0 { Glibc.close(fd) } }

    var outputIDs: [String] { lines.filter(\.output).map(\.id) }
    var inputIDs: [String] { lines.filter { !$0.output }.map(\.id) }

    /// Requests the lines (outputs at `initialOutputs`) and starts the thread. The first level of each input, nil
    /// for all of them when the chip could not be had (then reported, and tried again).
    func start(initialOutputs: [String: Bool]) throws(HardwareError) -> [String: Bool?] {
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
        held[output] = active
        guard chip != nil, let request, let offset = offsets[output] else {
            throw HardwareError(.io, operation: "set output \(output)",
                                message: "gpio chip \(spec.id) is not available (\(failure?.reason ?? "not opened"))")
        }
        if let f = request.set(offset: offset, active: active) {
            throw HardwareError(.io, operation: "set output \(output)", errno: f.errno, message: f.reason)
        }
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
    /// fills as it would behind a stalled reader. For tests.
    func withReadingPaused<T>(_ body: () throws -> T) rethrows -> T {
        condition.lock(); defer { condition.unlock() }
        return try body()
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
            condition.lock()
            if stopping { break }
            if !connected {
                let result = connect()
                condition.unlock()
                report(result)
                continue
            }
            var events: [HardwareEvent] = []
            if n == 0 {
                if let gone = chip?.checkPresent() { lose(gone) }
            } else if n > 0 {
                for pfd in fds.dropFirst() where pfd.revents != 0 {
                    if pfd.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 {
                        lose(chip?.checkPresent() ?? GPIOFailure(.vanished, "\(chip?.path ?? "the chip")'s lines were closed by the kernel"))
                        break
                    }
                    guard let request else { break }
                    switch request.readEdges(fd: pfd.fd) {
                    case .success(let edges): events += take(edges)
                    case .failure(let f): lose(chip?.checkPresent() ?? f)
                    }
                }
            }
            let lost = chip == nil ? failure : nil
            condition.unlock()
            for event in events { emit(event) }
            if let lost { report(.failure(lost)) }
        }
        running = false
        condition.broadcast()
        condition.unlock()
    }

    /// Turns edges into input events. An edge that repeats the level last reported, a gap in the kernel's
    /// sequence numbers, or a full read of the v1 queue means edges were lost: those lines are read again and the
    /// level they have now is reported, so a missed change is late, never lost.
    private func take(_ edges: [chekt_gpio_edge]) -> [HardwareEvent] {
        var events: [HardwareEvent] = []
        var suspect = Set<Int>()
        var perLine: [Int: Int] = [:]
        for edge in edges {
            let offset = Int(edge.offset)
            guard let id = inputAt[offset] else { continue }
            stats.edges += 1
            perLine[offset, default: 0] += 1
            if edge.line_seqno != 0 {
                if let last = lastSeqno[offset], edge.line_seqno != last &+ 1 { suspect.insert(offset) }
                lastSeqno[offset] = edge.line_seqno
            }
            guard reported[id] != edge.rising else { suspect.insert(offset); continue }
            reported[id] = edge.rising
            events.append(.input(id: id, active: edge.rising, monotonicNs: edge.timestamp_ns))
        }
        if GPIODLibrary.apiMajor == 1 {
            for (offset, count) in perLine where count >= Self.v1QueueSize { suspect.insert(offset) }
        }
        guard !suspect.isEmpty, let request else { return events }
        stats.resyncs += 1
        for offset in suspect.sorted() {
            guard let id = inputAt[offset], case .success(let level) = request.get(offset: offset) else { continue }
            if reported[id] != level {
                reported[id] = level
                events.append(.input(id: id, active: level, monotonicNs: nil))
            }
        }
        return events
    }

    // MARK: Connecting (under `condition`)

    /// Finds the chip by label, resolves the lines, requests them and reads the inputs.
    private func connect() -> Result<[String: Bool], GPIOFailure> {
        disconnect()
        do throws(GPIOFailure) {
            let chip = try find()
            var resolved: [String: Int] = [:]
            for line in lines { resolved[line.id] = try chip.offset(of: line.ref) }
            let configs = lines.map { line in
                chekt_gpio_line_config(offset: UInt32(resolved[line.id]!), output: line.output, active_low: line.activeLow,
                                       bias: Self.bias(line.bias), drive: line.drive == .openDrain ? CHEKT_GPIO_DRIVE_OPEN_DRAIN : CHEKT_GPIO_DRIVE_PUSH_PULL,
                                       initial: held[line.id] ?? false)
            }
            let names = lines.map { "\($0.ref) (\($0.id))" }
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
            inputAt = Dictionary(uniqueKeysWithValues: lines.filter { !$0.output }.map { (resolved[$0.id]!, $0.id) })
            reported = levels
            lastSeqno = [:]
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

    /// The chip with the first of the profile's labels that any chip has.
    private func find() throws(GPIOFailure) -> GPIODChip {
        var opened: [GPIODChip] = []
        var refused: [GPIOFailure] = []
        for path in GPIOChipFinder.paths(devices: devices) {
            do throws(GPIOFailure) { opened.append(try GPIODChip(path: path)) } catch { refused.append(error) }
        }
        for label in spec.labels {
            if let chip = opened.first(where: { $0.label == label }) { return chip }
        }
        // A chip we may not open could be the one: say so first, it is the likelier fix.
        if let denied = refused.first(where: { $0.kind == .permission }) { throw denied }
        let seen = opened.map { "\($0.path) \(ConfigText.quoted($0.label))" }
        throw GPIOFailure(.notFound, "no GPIO chip labelled \(spec.labels.map(ConfigText.quoted).joined(separator: " or "))",
                          fix: seen.isEmpty ? "this machine has no GPIO chips (\(devices)/gpiochip*): is this the board the profile is for?"
                              : "this machine has \(seen.joined(separator: ", ")): is this the board the profile is for?")
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
