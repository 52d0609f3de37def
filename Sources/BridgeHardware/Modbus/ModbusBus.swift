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

    private let condition = Condition()
    // Guarded by `condition`:
    private var held: [String: Bool] = [:]
    private var pendingWrites: [String] = []
    private var offline: Set<String> = []
    private var stats: [String: DeviceStats] = [:]
    private var stopping = false
    private var running = false
    private var firstCycle: [String: [String: Bool]?] = [:]

    init(spec: BoardProfile.ModbusBus, devices: [BoardProfile.ModbusDevice], profile: BoardProfile,
         emit: @escaping @Sendable (HardwareEvent) -> Void) {
        self.spec = spec
        self.devices = devices.map { Device(spec: $0, plan: ModbusPlan(device: $0, profile: profile)) }
        self.emit = emit
        for device in devices { stats[device.id] = DeviceStats() }
    }

    /// The device that owns `output`, if it is on this bus.
    func device(ofOutput output: String) -> String? {
        devices.first { $0.plan.outputs.contains { $0.output == output } }?.spec.id
    }

    /// Starts the bus thread with the outputs' initial levels; it polls every device at once.
    func start(initialOutputs: [String: Bool]) throws(HardwareError) {
        condition.lock()
        for device in devices {
            for rule in device.plan.outputs { held[rule.output] = initialOutputs[rule.output] ?? false }
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
        while firstCycle.count < devices.count && running { condition.wait(timeoutMs: 1000) }
        let levels = firstCycle.values.compactMap { $0 }.reduce(into: [String: Bool]()) { $0.merge($1) { a, _ in a } }
        condition.unlock()
        return levels
    }

    /// Records the level wanted for `output` and queues its write. Throws when its device is offline (the level
    /// is still held: it is written as soon as the device answers again).
    func set(_ output: String, active: Bool, device: String) throws(HardwareError) {
        condition.lock()
        defer { condition.unlock() }
        held[output] = active
        if !pendingWrites.contains(output) { pendingWrites.append(output) }
        condition.signal()
        if offline.contains(device) {
            throw HardwareError(.io, operation: "set output \(output)",
                                message: "device \(device) is not answering (\(stats[device]?.lastError ?? "offline"))")
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
        return stats
    }

    // MARK: The bus thread

    private func run() {
        var connection: ModbusConnection?
        var linkFailure: ModbusFailure?
        var retryAtNs: UInt64 = 0
        var backoffMs: UInt64 = 500
        var lastFrameNs: UInt64 = 0
        let gapNs = ModbusConnection.interFrameGapNs(spec)
        var nextPollNs = [UInt64](repeating: Self.nowNs(), count: devices.count)
        var seen: [String: [String: Bool]] = [:]  // the input levels last reported, by device
        var failures: [String: Int] = [:]
        var warnedMode = false

        /// An open connection, or the failure that keeps the bus closed (tried again after the back-off).
        func link() -> Result<ModbusConnection, ModbusFailure> {
            if let connection, connection.isOpen { return .success(connection) }
            if let linkFailure, Self.nowNs() < retryAtNs { return .failure(linkFailure) }
            do throws(ModbusFailure) {
                let c: ModbusConnection
                if let connection { c = connection } else { c = try ModbusConnection(bus: spec) }
                connection = c
                let mode = try c.open()
                if let note = mode.note, !warnedMode { Log.warning(note); warnedMode = true }  // once, not at every reopen
                if linkFailure != nil { Log.info("bus \(spec.id): open again") }
                linkFailure = nil
                backoffMs = 500
                return .success(c)
            } catch {
                if linkFailure?.errno != error.errno { Log.warning("bus \(spec.id): \(error.operation): \(error.reason); retrying") }
                linkFailure = error
                retryAtNs = Self.nowNs() + backoffMs * 1_000_000
                backoffMs = min(backoffMs * 2, 30_000)
                return .failure(error)
            }
        }

        /// Runs one transaction on the open link, keeping the inter-frame gap; counts it.
        func transact<T>(_ device: String, _ body: (ModbusConnection) throws(ModbusFailure) -> T) -> Result<T, ModbusFailure> {
            let c: ModbusConnection
            switch link() {
            case .success(let open): c = open
            case .failure(let failure): return .failure(failure)
            }
            let sinceLast = Self.nowNs() &- lastFrameNs
            if gapNs > 0, sinceLast < gapNs { usleep(UInt32((gapNs - sinceLast) / 1000)) }
            let start = Self.nowNs()
            let result: Result<T, ModbusFailure>
            do { result = .success(try body(c)) } catch { result = .failure(error) }
            lastFrameNs = Self.nowNs()
            condition.lock()
            stats[device]?.transactions += 1
            switch result {
            case .success: stats[device]?.lastRoundTripUs = Int((lastFrameNs - start) / 1000)
            case .failure(let failure):
                switch failure.kind {
                case .timeout: stats[device]?.timeouts += 1
                case .crc: stats[device]?.crcErrors += 1
                case .exception: stats[device]?.exceptions += 1
                case .link, .other: stats[device]?.otherErrors += 1
                }
                stats[device]?.lastError = failure.reason
            }
            condition.unlock()
            if case .failure(let failure) = result {
                switch failure.kind {
                case .timeout, .crc, .other: c.flush()  // a late or garbled answer must not be read as the next one
                case .link:
                    c.close()
                    linkFailure = failure
                    retryAtNs = Self.nowNs() + backoffMs * 1_000_000
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
                let output = pendingWrites.removeFirst()
                let level = held[output] ?? false
                condition.unlock()
                guard let device = devices.first(where: { $0.plan.outputs.contains { $0.output == output } }),
                      let rule = device.plan.outputs.first(where: { $0.output == output }) else { continue }
                let raw = level != rule.activeLow
                let unit = device.spec.unit
                let result = transact(device.spec.id) { (c: ModbusConnection) throws(ModbusFailure) in
                    switch rule.point {
                    case .coil(let address): try c.writeCoil(address, raw, unit: unit)
                    case .holdingRegisterBit(let address, let bit): try c.writeRegisterBit(address, bit: bit, raw, unit: unit)
                    }
                }
                if case .failure(let failure) = result {
                    Log.warning("output \(output): \(failure.operation): \(failure.reason); written again when \(device.spec.id) answers")
                }
            }
        }

        /// Polls one device: reads its runs, reports the outcome, its inputs' changes, and drives outputs that
        /// differ from the held levels.
        func poll(_ device: Device) {
            let id = device.spec.id
            var values: [ModbusPlan.Table: [Int: Int]] = [:]
            var failure: ModbusFailure?
            for read in device.plan.reads {
                switch transact(id, { (c: ModbusConnection) throws(ModbusFailure) in try c.read(read, unit: device.spec.unit) }) {
                case .success(let v): values[read.table, default: [:]].merge(v) { _, b in b }
                case .failure(let f): failure = f
                }
                if failure != nil { break }
            }
            let first = firstCycleOpen(for: id)
            if let failure {
                let count = (failures[id] ?? 0) + 1
                failures[id] = count
                condition.lock()
                if count >= device.spec.offlineAfter { offline.insert(id); stats[id]?.online = false }
                if first { firstCycle[id] = .some(nil); condition.broadcast() }
                condition.unlock()
                emit(.device(id: id, outcome: .failed(reason: failure.reason)))
                return
            }
            failures[id] = 0
            let levels = device.plan.inputLevels(values)
            let reported = device.plan.outputLevels(values)
            condition.lock()
            let returning = offline.remove(id) != nil || stats[id]?.online == nil
            stats[id]?.online = true
            var drive: [String] = []
            for (output, level) in reported where held[output] != level && !pendingWrites.contains(output) {
                drive.append(output)
                if !returning {
                    stats[id]?.mismatches += 1
                    Log.warning("output \(output): \(id) reports it \(level ? "on" : "off") but the agent holds it \(held[output] == true ? "on" : "off"); driving it again")
                }
            }
            pendingWrites.append(contentsOf: drive.sorted())
            if first { firstCycle[id] = .some(levels); condition.broadcast() }
            condition.unlock()
            emit(.device(id: id, outcome: .ok))
            let before = seen[id]
            seen[id] = levels
            if !first {
                for rule in device.plan.inputs {
                    guard let level = levels[rule.input], returning || before?[rule.input] != level else { continue }
                    emit(.input(id: rule.input, active: level))
                }
            }
            if returning, !drive.isEmpty { Log.info("\(id) answers: driving \(drive.sorted().joined(separator: ", ")) to the levels the agent holds") }
        }

        while true {
            condition.lock()
            let stop = stopping
            condition.unlock()
            drainWrites()
            if stop { break }
            // The device due soonest.
            guard let index = nextPollNs.indices.min(by: { nextPollNs[$0] < nextPollNs[$1] }) else {
                condition.lock()
                while !stopping && pendingWrites.isEmpty { condition.wait(timeoutMs: 1000) }
                condition.unlock()
                continue
            }
            let now = Self.nowNs()
            if nextPollNs[index] > now {
                condition.lock()
                if !stopping && pendingWrites.isEmpty { condition.wait(timeoutNs: nextPollNs[index] - now) }
                condition.unlock()
                continue
            }
            poll(devices[index])
            // The next poll a period after this one was due; a bus that fell behind does not burst to catch up.
            let period = UInt64(devices[index].spec.pollMs) * 1_000_000
            nextPollNs[index] = max(nextPollNs[index] + period, Self.nowNs())
        }
        connection?.close()
        connection = nil
        condition.lock()
        running = false
        if firstCycle.count < devices.count { for d in devices where firstCycle[d.spec.id] == nil { firstCycle[d.spec.id] = .some(nil) } }
        condition.broadcast()
        condition.unlock()
    }

    /// True until the device's first poll has been reported to `start`.
    private func firstCycleOpen(for device: String) -> Bool {
        condition.lock(); defer { condition.unlock() }
        return firstCycle[device] == nil
    }

    static func nowNs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
