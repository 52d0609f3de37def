import BridgeCore
import BridgeSystem
import Glibc

/// One Modbus bus (a serial line or a TCP gateway) and its devices, served by one thread of its own.
///
/// A libmodbus context is not thread-safe, so everything on the bus happens on this thread, in this order:
/// writes first (a relay command never waits behind polls), then the device whose poll is due soonest. A
/// device's poll is one transaction per contiguous run of addresses (`ModbusPlan`); it stops at the first
/// failure, so a dead device costs the others on its bus at most one timeout per cycle. On a serial line
/// the inter-frame gap is kept between transactions. A line or connection that fails (refused, reset, the
/// USB adapter unplugged) is closed and opened again with back-off (0.5 s doubling to 30 s); meanwhile
/// each of its devices fails its polls with that reason, so it goes offline after `offline_after` of them.
///
/// The bus holds the level the agent wants for each of its outputs. A poll reads the outputs back; a
/// device that reports another level (it rebooted, someone pressed its button) is driven again, and the
/// mismatch is logged and counted. A device that answers again after being offline, or for the first time,
/// is driven to the held levels at once.
final class ModbusBus: @unchecked Sendable {
    struct Device {
        let spec: BoardProfile.ModbusDevice
        let plan: ModbusPlan
    }

    /// Counters and last results of one device, for `status` and `doctor`.
    struct DeviceStats: Sendable, Equatable {
        var transactions = 0
        var timeouts = 0
        var crcErrors = 0
        var exceptions = 0
        var otherErrors = 0
        var mismatches = 0
        var lastError: String?
        var lastRoundTripUs: Int?
        var online: Bool?
    }

    let spec: BoardProfile.ModbusBus
    private let devices: [Device]
    private let emit: @Sendable (HardwareEvent) -> Void
    /// Each output's device and rule, by position (fixed: read without the lock).
    private let outputIndex: [String: (device: Int, rule: Int)]

    /// How often an answering device's `ok` is reported when nothing else changed: the runtime needs it for
    /// `last_seen`, not for every poll (one event per poll cost a wake-up of the runtime's reader each time).
    static let okReportIntervalNs: UInt64 = 1_000_000_000

    private let condition = Condition()
    // Guarded by `condition`, each indexed by device position (and rule position within it):
    private var held: [[Bool]]
    private var pendingWrites: [(device: Int, rule: Int)] = []
    private var offline: [Bool]
    private var stats: [DeviceStats]
    private var stopping = false
    private var running = false
    private var firstCycle: [[String: Bool]??]

    init(spec: BoardProfile.ModbusBus, devices: [BoardProfile.ModbusDevice], profile: BoardProfile,
         emit: @escaping @Sendable (HardwareEvent) -> Void) {
        self.spec = spec
        let devices = devices.map { Device(spec: $0, plan: ModbusPlan(device: $0, profile: profile)) }
        self.devices = devices
        self.emit = emit
        var index: [String: (Int, Int)] = [:]
        for (d, device) in devices.enumerated() {
            for (j, rule) in device.plan.outputs.enumerated() { index[rule.output] = (d, j) }
        }
        outputIndex = index
        held = devices.map { [Bool](repeating: false, count: $0.plan.outputs.count) }
        offline = [Bool](repeating: false, count: devices.count)
        stats = [DeviceStats](repeating: DeviceStats(), count: devices.count)
        firstCycle = [[String: Bool]??](repeating: nil, count: devices.count)
    }

    /// The device that owns `output`, if it is on this bus.
    func device(ofOutput output: String) -> String? {
        outputIndex[output].map { devices[$0.device].spec.id }
    }

    /// Starts the bus thread with the outputs' initial levels; it polls every device at once.
    func start(initialOutputs: [String: Bool]) throws(HardwareError) {
        condition.lock()
        for (d, device) in devices.enumerated() {
            for (j, rule) in device.plan.outputs.enumerated() { held[d][j] = initialOutputs[rule.output] ?? false }
        }
        running = true
        condition.unlock()
        let rc = Posix.startThread(name: "modbus-\(spec.id)") { [self] in run() }
        guard rc == 0 else {
            condition.lock(); running = false; condition.unlock()
            throw HardwareError(.io, operation: "open bus \(spec.id)", errno: rc, message: "cannot start its thread: \(Posix.describe(rc))")
        }
    }

    /// Waits until every device has been polled once (answered or failed); the first levels of the inputs of the
    /// devices that answered.
    func firstLevels() -> [String: Bool] {
        condition.lock()
        while firstCycle.contains(where: { $0 == nil }) && running { condition.wait(timeoutMs: 1000) }
        var levels: [String: Bool] = [:]
        for case let .some(.some(device)) in firstCycle { levels.merge(device) { a, _ in a } }
        condition.unlock()
        return levels
    }

    /// Records the level wanted for `output` and queues its write. Throws when its device is offline (the level
    /// is still held: it is written as soon as the device answers again).
    func set(_ output: String, active: Bool, device: String) throws(HardwareError) {
        guard let (d, j) = outputIndex[output] else {
            throw HardwareError(.notFound, operation: "set output \(output)", message: "no output \"\(output)\" on bus \(spec.id)")
        }
        condition.lock()
        defer { condition.unlock() }
        held[d][j] = active
        if !pendingWrites.contains(where: { $0 == (d, j) }) { pendingWrites.append((d, j)) }
        condition.signal()
        if offline[d] {
            throw HardwareError(.io, operation: "set output \(output)",
                                message: "device \(device) is not answering (\(stats[d].lastError ?? "offline"))")
        }
    }

    /// Stops the thread once the writes already asked for are done (the outputs' safe state at shutdown), and
    /// closes the line. Waits for it.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while running { condition.wait(timeoutMs: 100) }
        condition.unlock()
    }

    func statistics() -> [String: DeviceStats] {
        condition.lock(); defer { condition.unlock() }
        var all: [String: DeviceStats] = [:]
        for (d, device) in devices.enumerated() { all[device.spec.id] = stats[d] }
        return all
    }

    // MARK: The bus thread

    private func run() {
        var connection: ModbusConnection?
        var linkFailure: ModbusFailure?
        var retryAtNs: UInt64 = 0
        var backoffMs: UInt64 = 500
        var lastFrameNs: UInt64 = 0
        let gapNs = ModbusConnection.interFrameGapNs(spec)
        var nextPollNs = [UInt64](repeating: Posix.monotonicNanos(), count: devices.count)
        // By device position: the input levels last reported, failed polls in a row, whether the last poll
        // answered, and when its last `ok` was reported.
        var seen = devices.map { [Bool?](repeating: nil, count: $0.plan.inputs.count) }
        var failures = [Int](repeating: 0, count: devices.count)
        var answered = [Bool](repeating: false, count: devices.count)
        var okReportedNs = [UInt64](repeating: 0, count: devices.count)
        var warnedMode = false

        /// An open connection, or the failure that keeps the bus closed (tried again after the back-off).
        func link() -> Result<ModbusConnection, ModbusFailure> {
            if let connection, connection.isOpen { return .success(connection) }
            if let linkFailure, Posix.monotonicNanos() < retryAtNs { return .failure(linkFailure) }
            do throws(ModbusFailure) {
                let c: ModbusConnection
                if let connection { c = connection } else { c = try ModbusConnection(bus: spec) }
                connection = c
                let mode = try c.open()
                if let why = mode.noRS485, !warnedMode {  // once, not at every reopen
                    Log.warning("bus \(spec.id): the serial port has no kernel RS-485 mode (\(why)); "
                                + "fine for an adapter that switches direction by itself, which USB RS-485 adapters do")
                    warnedMode = true
                }
                if linkFailure != nil { Log.info("bus \(spec.id): open again") }
                linkFailure = nil
                backoffMs = 500
                return .success(c)
            } catch {
                if linkFailure?.errno != error.errno { Log.warning("bus \(spec.id): \(error.operation): \(error.reason); retrying") }
                linkFailure = error
                retryAtNs = Posix.monotonicNanos() + backoffMs * 1_000_000
                backoffMs = min(backoffMs * 2, 30_000)
                return .failure(error)
            }
        }

        /// Runs one transaction for device `d` on the open link, keeping the inter-frame gap; counts it.
        func transact<T>(_ d: Int, _ body: (ModbusConnection) throws(ModbusFailure) -> T) -> Result<T, ModbusFailure> {
            let c: ModbusConnection
            switch link() {
            case .success(let open): c = open
            case .failure(let failure): return .failure(failure)
            }
            if gapNs > 0 {
                let sinceLast = Posix.monotonicNanos() &- lastFrameNs
                if sinceLast < gapNs { usleep(UInt32((gapNs - sinceLast) / 1000)) }
            }
            let start = Posix.monotonicNanos()
            let result: Result<T, ModbusFailure>
            do { result = .success(try body(c)) } catch { result = .failure(error) }
            lastFrameNs = Posix.monotonicNanos()
            condition.lock()
            stats[d].transactions += 1
            switch result {
            case .success: stats[d].lastRoundTripUs = Int((lastFrameNs - start) / 1000)
            case .failure(let failure):
                switch failure.kind {
                case .timeout: stats[d].timeouts += 1
                case .crc: stats[d].crcErrors += 1
                case .exception: stats[d].exceptions += 1
                case .link, .other: stats[d].otherErrors += 1
                }
                stats[d].lastError = failure.reason
            }
            condition.unlock()
            if case .failure(let failure) = result {
                switch failure.kind {
                case .timeout, .crc, .other: c.flush()  // a late or garbled answer must not be read as the next one
                case .link:
                    c.close()
                    linkFailure = failure
                    retryAtNs = Posix.monotonicNanos() + backoffMs * 1_000_000
                    backoffMs = min(backoffMs * 2, 30_000)
                case .exception: break
                }
            }
            return result
        }

        /// Writes every queued output. A write that fails leaves the level held (driven again when the device answers).
        func drainWrites() {
            while true {
                condition.lock()
                guard !pendingWrites.isEmpty else { condition.unlock(); return }
                let (d, j) = pendingWrites.removeFirst()
                let level = held[d][j]
                condition.unlock()
                let device = devices[d], rule = device.plan.outputs[j]
                let raw = level != rule.activeLow
                let unit = device.spec.unit
                let result = transact(d) { (c: ModbusConnection) throws(ModbusFailure) in
                    switch rule.point {
                    case .coil(let address): try c.writeCoil(address, raw, unit: unit)
                    case .holdingRegisterBit(let address, let bit): try c.writeRegisterBit(address, bit: bit, raw, unit: unit)
                    }
                }
                if case .failure(let failure) = result {
                    Log.warning("output \(rule.output): \(failure.operation): \(failure.reason); written again when \(device.spec.id) answers")
                }
            }
        }

        /// Polls device `d`: reads its runs, reports the outcome and its inputs' changes, and drives outputs that
        /// differ from the held levels.
        func poll(_ d: Int) {
            let device = devices[d], plan = device.plan, id = device.spec.id
            var values: [[Int]] = []
            values.reserveCapacity(plan.reads.count)
            var failure: ModbusFailure?
            for read in plan.reads {
                switch transact(d, { (c: ModbusConnection) throws(ModbusFailure) in try c.read(read, unit: device.spec.unit) }) {
                case .success(let v): values.append(v)
                case .failure(let f): failure = f
                }
                if failure != nil { break }
            }
            condition.lock()
            let first = firstCycle[d] == nil
            condition.unlock()
            if let failure {
                failures[d] += 1
                answered[d] = false
                condition.lock()
                if failures[d] >= device.spec.offlineAfter { offline[d] = true; stats[d].online = false }
                if first { firstCycle[d] = .some(nil); condition.broadcast() }
                condition.unlock()
                emit(.device(id: id, outcome: .failed(reason: failure.reason)))
                return
            }
            failures[d] = 0
            condition.lock()
            let returning = offline[d] || stats[d].online == nil
            offline[d] = false
            stats[d].online = true
            var drive: [Int] = []
            for j in plan.outputs.indices {
                let level = plan.outputLevel(j, in: values)
                guard held[d][j] != level, !pendingWrites.contains(where: { $0 == (d, j) }) else { continue }
                drive.append(j)
                if !returning {
                    stats[d].mismatches += 1
                    Log.warning("output \(plan.outputs[j].output): \(id) reports it \(level ? "on" : "off") but the agent holds it \(held[d][j] ? "on" : "off"); driving it again")
                }
            }
            pendingWrites.append(contentsOf: drive.map { (d, $0) })
            if first {
                var levels: [String: Bool] = [:]
                for i in plan.inputs.indices { levels[plan.inputs[i].input] = plan.inputLevel(i, in: values) }
                firstCycle[d] = .some(levels)
                condition.broadcast()
            }
            condition.unlock()
            // `ok` when it means something: the first answer, an answer after a failure, and otherwise once a second
            // (for last_seen). The runtime counts failures in a row, so every failure is reported and so is the
            // answer that ends a run of them.
            let now = Posix.monotonicNanos()
            if !answered[d] || now &- okReportedNs[d] >= Self.okReportIntervalNs {
                emit(.device(id: id, outcome: .ok))
                okReportedNs[d] = now
            }
            answered[d] = true
            for i in plan.inputs.indices {
                let level = plan.inputLevel(i, in: values)
                let changed = seen[d][i] != level
                seen[d][i] = level
                if !first, returning || changed { emit(.input(id: plan.inputs[i].input, active: level)) }
            }
            if returning, !drive.isEmpty {
                Log.info("\(id) answers: driving \(drive.map { plan.outputs[$0].output }.joined(separator: ", ")) to the levels the agent holds")
            }
        }

        while true {
            condition.lock()
            let stop = stopping
            condition.unlock()
            drainWrites()
            if stop { break }
            // The device due soonest.
            guard let d = nextPollNs.indices.min(by: { nextPollNs[$0] < nextPollNs[$1] }) else {
                condition.lock()
                while !stopping && pendingWrites.isEmpty { condition.wait(timeoutMs: 1000) }
                condition.unlock()
                continue
            }
            let now = Posix.monotonicNanos()
            if nextPollNs[d] > now {
                condition.lock()
                if !stopping && pendingWrites.isEmpty { condition.wait(timeoutNs: nextPollNs[d] - now) }
                condition.unlock()
                continue
            }
            poll(d)
            // The next poll a period after this one was due; a bus that fell behind does not burst to catch up.
            let period = UInt64(devices[d].spec.pollMs) * 1_000_000
            nextPollNs[d] = max(nextPollNs[d] + period, Posix.monotonicNanos())
        }
        connection?.close()
        connection = nil
        condition.lock()
        running = false
        for d in firstCycle.indices where firstCycle[d] == nil { firstCycle[d] = .some(nil) }
        condition.broadcast()
        condition.unlock()
    }
}
