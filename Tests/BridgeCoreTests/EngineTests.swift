import Foundation
import Synchronization
import Testing
@testable import BridgeCore

// The fixture site and a small rig that drives an `Engine` with numbers, shared by every Engine*Tests file.

/// The time the fixture starts at; inputs settle at `T0 + 50` (every fixture input debounces 50 ms).
let T0: Millis = 1_000_000
/// A moment after settling where tests begin acting.
let T1: Millis = T0 + 1_000

/// Makes `alm_1`, `alm_2`, ... so alarm ids are predictable.
final class AlarmIDs: Sendable {
    private let next = Mutex(0)
    func make() -> String { next.withLock { n in n += 1; return "alm_\(n)" } }
}

enum EngineFixture {
    /// A Pi header with nine inputs and six outputs, plus a Modbus I/O module `io8` on RS-485.
    static func board() -> BoardProfile {
        func gpio(_ line: String) -> BoardProfile.InputSource { .gpio(.init(chip: "header", line: .name(line))) }
        var inputs = (1...8).map {
            BoardProfile.BoardInput(id: "in\($0)", source: gpio("GPIO\($0)"), activeLow: true, bias: .pullUp, debounceMs: 50)
        }
        inputs.append(.init(id: "panel_armed", source: gpio("GPIO20"), debounceMs: 50))
        inputs.append(.init(id: "io8.in1", source: .modbus(device: "io8", point: .discreteInput(address: 0)), debounceMs: 50))
        inputs.append(.init(id: "io8.in2", source: .modbus(device: "io8", point: .coil(address: 1)), debounceMs: 50))
        var outputs = (1...6).map {
            BoardProfile.BoardOutput(id: "out\($0)", sink: .gpio(.init(chip: "header", line: .offset(20 + $0))), activeLow: true)
        }
        outputs.append(.init(id: "io8.out1", sink: .modbus(device: "io8", point: .coil(address: 0))))
        return BoardProfile(
            name: "test-board",
            gpioChips: [.init(id: "header", labels: ["pinctrl-rp1", "pinctrl-bcm2711"])],
            inputs: inputs, outputs: outputs,
            modbusBuses: [.init(id: "rs485", transport: .rtu(device: "/dev/chekt-rs485", baud: 9600, parity: .none, dataBits: 8, stopBits: 1))],
            modbusDevices: [.init(id: "io8", bus: "rs485", unit: 1, inputIDs: ["io8.in1", "io8.in2"], outputIDs: ["io8.out1"])])
    }

    /// `main`: software arming, every zone type, a siren. `garage`: a keyswitch partition.
    static func config() -> SiteConfig {
        SiteConfig(
            bridge: .init(id: "brg_test", board: "boards/test-board.json"),
            partitions: [
                .init(id: "main", exitDelayS: 30, entryDelayS: 30, remoteExitDelayS: 0, siren: .init(relay: "siren", timeoutS: 240)),
                .init(id: "garage", keyswitch: .init(relay: "ks", hold: false, pulseMs: 1000, armedInput: "panel_armed", confirmTimeoutS: 10)),
            ],
            zones: [
                .init(id: "front_door", input: "in1", partition: "main", type: .entryExit),
                .init(id: "hall_pir", input: "in2", partition: "main", type: .interior),
                .init(id: "window", input: "in3", partition: "main", type: .instant),
                .init(id: "tamper", input: "in4", partition: "main", type: .twentyFourHour),
                .init(id: "smoke", input: "in5", partition: "main", type: .fire),
                .init(id: "panic_btn", input: "in6", partition: "main", type: .panic),
                .init(id: "water", input: "in7", partition: "main", type: .monitor),
                .init(id: "shed", input: "io8.in1", partition: "main", type: .instant),
                .init(id: "garage_door", input: "in8", partition: "garage", type: .instant),
            ],
            relays: [
                .init(id: "door_strike", output: "out1", mode: .pulse, pulseMs: 3000, maxOnMs: 10_000),
                .init(id: "siren", output: "out2", mode: .latch, maxOnMs: 600_000),
                .init(id: "gate_open", output: "out3", interlock: "gate", interlockGapMs: 500),
                .init(id: "gate_close", output: "out4", interlock: "gate", interlockGapMs: 500),
                .init(id: "ks", output: "out5", mode: .pulse, pulseMs: 1000),
                .init(id: "pump", output: "io8.out1", powerOn: .restore),
            ])
    }

    static func site(_ edit: (inout SiteConfig) -> Void = { _ in }, board editBoard: (inout BoardProfile) -> Void = { _ in }) -> Site {
        var config = config()
        var board = board()
        edit(&config)
        editBoard(&board)
        return Site(config: config, board: board, boardPath: "/etc/chekt-bridge/boards/test-board.json")
    }

    static func zone(_ id: String) -> SiteConfig.Zone { config().zones.first { $0.id == id }! }
}

extension SiteConfig {
    /// Edits the relay `id` in place (tests only).
    mutating func editRelay(_ id: String, _ edit: (inout Relay) -> Void) {
        edit(&relays[relays.firstIndex { $0.id == id }!])
    }
    mutating func editPartition(_ id: String, _ edit: (inout Partition) -> Void) {
        edit(&partitions[partitions.firstIndex { $0.id == id }!])
    }
}

/// Drives an engine: tickets are numbered 1, 2, ... in submit order.
struct EngineRig {
    var engine: Engine
    var lastTicket: Ticket = 0

    init(_ site: Site = EngineFixture.site(), restored: PersistedState? = nil) {
        let ids = AlarmIDs()
        engine = Engine(site: site, restored: restored, makeAlarmID: { ids.make() })
    }

    /// Starts with every input inactive except `levels`.
    mutating func start(_ levels: [String: Bool?] = [:], at t: Millis = T0) -> [Effect] {
        var all: [String: Bool?] = [:]
        for input in engine.site.board.inputs { all.updateValue(false, forKey: input.id) }
        for (id, level) in levels { all.updateValue(level, forKey: id) }
        return engine.start(levels: all, now: t)
    }

    /// Starts and lets the inputs settle (T0 + 50); returns the effects of both.
    @discardableResult
    mutating func settled(_ levels: [String: Bool?] = [:]) -> [Effect] {
        start(levels) + advance(T0 + 50)
    }

    mutating func input(_ id: String, _ active: Bool, at t: Millis) -> [Effect] {
        engine.inputChanged(id, active: active, now: t)
    }

    /// A raw change that holds for the fixture's 50 ms debounce: the effects of the change and of the commit.
    mutating func flip(_ id: String, _ active: Bool, at t: Millis) -> [Effect] {
        input(id, active, at: t) + advance(t + 50)
    }

    mutating func advance(_ t: Millis) -> [Effect] { engine.advance(to: t) }

    mutating func submit(_ request: Request, _ origin: Origin = .technician, at t: Millis) -> [Effect] {
        lastTicket += 1
        return engine.submit(request, origin: origin, ticket: lastTicket, now: t)
    }

    mutating func device(_ id: String, _ outcome: DeviceOutcome, at t: Millis) -> [Effect] {
        engine.deviceTransaction(id, outcome: outcome, now: t)
    }

    /// Arms `main` from the platform (remote exit delay 0: armed at once).
    @discardableResult
    mutating func armNow(_ mode: ArmMode = .away, at t: Millis = T1) -> [Effect] {
        submit(.arm(partition: "main", mode: mode, force: false), Origin(source: .command, commandID: "cmd_arm"), at: t)
    }

    func entry(_ part: String, _ id: String) -> JSONValue? {
        engine.stateReport(now: 0)[part]?.arrayValue?.first { $0["id"]?.stringValue == id }
    }
    func partitionState(_ id: String = "main") -> String? { entry("partitions", id)?["state"]?.stringValue }
    func relayOn(_ id: String) -> Bool? { entry("relays", id)?["on"]?.boolValue }
}

// MARK: - Effect helpers

func rec(_ type: EventType, _ data: JSONObject) -> Effect { .record(type, data) }
func output(_ id: String, _ active: Bool) -> Effect { .setOutput(output: id, active: active) }

/// `zone.faulted`/`zone.restored` (and the like) with the fixture's partition and input of `zone`.
func zoneEvent(_ type: EventType, _ zone: String) -> Effect {
    let z = EngineFixture.zone(zone)
    return rec(type, ["zone": .string(zone), "partition": .string(z.partition), "input": .string(z.input)])
}
func faulted(_ zone: String) -> Effect { zoneEvent(.zoneFaulted, zone) }
func restored(_ zone: String) -> Effect { zoneEvent(.zoneRestored, zone) }

func alarm(_ n: Int, _ zone: String, _ kind: String = "burglary") -> Effect {
    rec(.alarmCreated, ["alarm_id": .string("alm_\(n)"), "partition": .string(EngineFixture.zone(zone).partition),
                        "zone": .string(zone), "kind": .string(kind)])
}

/// The siren of `main` coming on for `ms`.
func sirenOn(_ ms: Int64 = 240_000) -> [Effect] {
    [output("out2", true), rec(.relayActivated, ["relay": "siren", "mode": "pulse", "duration_ms": .int(ms), "source": "rule"])]
}
func relayOff(_ relay: String, _ out: String, _ reason: String, commandID: String? = nil) -> [Effect] {
    var data: JSONObject = ["relay": .string(relay), "reason": .string(reason)]
    if let commandID { data["command_id"] = .string(commandID) }
    return [output(out, false), rec(.relayDeactivated, data)]
}

func records(_ effects: [Effect]) -> [Effect] { effects.filter { if case .record = $0 { return true }; return false } }
func types(_ effects: [Effect]) -> [EventType] {
    effects.compactMap { if case .record(let t, _) = $0 { return t }; return nil }
}
func outputs(_ effects: [Effect]) -> [Effect] { effects.filter { if case .setOutput = $0 { return true }; return false } }
func completions(_ effects: [Effect]) -> [(ticket: Ticket, result: RequestResult)] {
    effects.compactMap { if case .complete(let t, let r) = $0 { return (t, r) }; return nil }
}
/// The only completion among the effects (nil if none or several).
func result(_ effects: [Effect]) -> RequestResult? {
    let c = completions(effects)
    return c.count == 1 ? c[0].result : nil
}
/// The effects without completions: what the hardware and the journal see.
func withoutCompletions(_ effects: [Effect]) -> [Effect] {
    effects.filter { if case .complete = $0 { return false }; return true }
}
func data(_ effects: [Effect], _ type: EventType) -> [JSONObject] {
    effects.compactMap { if case .record(let t, let d) = $0, t == type { return d }; return nil }
}

// MARK: - Basic API

@Suite struct EngineAPITests {
    @Test func initialOutputsHaveEveryBoardOutputOffOnFirstStart() {
        let rig = EngineRig()
        let levels = rig.engine.initialOutputs(now: T0)
        #expect(levels == ["out1": false, "out2": false, "out3": false, "out4": false, "out5": false, "out6": false, "io8.out1": false])
    }

    @Test func nextDeadlineIsNilBeforeStartAndAfterShutdown() {
        var rig = EngineRig()
        #expect(rig.engine.nextDeadline == nil)
        _ = rig.start()
        #expect(rig.engine.nextDeadline == T0 + 50)
        _ = rig.engine.shutdown(now: T0 + 10)
        #expect(rig.engine.nextDeadline == nil)
        #expect(rig.advance(T0 + 100).isEmpty)
    }

    @Test(arguments: [
        (Request.arm(partition: "attic", mode: .away, force: false), "no partition \"attic\" (partitions: main, garage)"),
        (Request.disarm(partition: "attic"), "no partition \"attic\" (partitions: main, garage)"),
        (Request.bypass(zone: "porch"),
         "no zone \"porch\" (zones: front_door, hall_pir, window, tamper, smoke, panic_btn, water, shed, garage_door)"),
        (Request.relayActivate(relay: "horn", durationMs: nil),
         "no relay \"horn\" (relays: door_strike, siren, gate_open, gate_close, ks, pump)"),
        (Request.relayDeactivate(relay: "horn"), "no relay \"horn\" (relays: door_strike, siren, gate_open, gate_close, ks, pump)"),
    ])
    func unknownTargetsAreRejectedListingWhatExists(request: Request, message: String) throws {
        var rig = EngineRig()
        rig.settled()
        let effects = rig.submit(request, at: T1)
        #expect(effects.count == 1)
        let r = try #require(result(effects))
        #expect(r.status == .rejected)
        #expect(r.code == "unknown_target")
        #expect(r.message == message)
    }

    @Test(arguments: [0, -5])
    func nonPositiveDurationIsInvalidParams(duration: Int) throws {
        var rig = EngineRig()
        rig.settled()
        for request in [Request.relayActivate(relay: "door_strike", durationMs: duration),
                        .relayPulse(relay: "door_strike", durationMs: duration)] {
            let effects = rig.submit(request, at: T1)
            let r = try #require(result(effects))
            #expect(r.status == .rejected)
            #expect(r.code == "invalid_params")
            #expect(outputs(effects).isEmpty)
        }
    }

    @Test func deadlinesRunAtTheirOwnTimeWhenAdvanceIsCalledLate() {
        var rig = EngineRig()
        rig.settled()
        rig.armNow()
        _ = rig.input("in1", true, at: T1 + 1_000)
        let entryEnd = T1 + 1_050 + 30_000
        // One late call runs the debounce commit, then the entry delay, each at its own time.
        #expect(rig.advance(entryEnd + 10_000) == [faulted("front_door"), alarm(1, "front_door")] + sirenOn())
        #expect(rig.engine.inputReport(now: entryEnd).first { $0.id == "in1" }?.lastChange == T1 + 1_050)
        #expect(rig.engine.nextDeadline == entryEnd + 240_000)
    }

    @Test func requestsAfterShutdownStillComplete() throws {
        var rig = EngineRig()
        rig.settled()
        _ = rig.engine.shutdown(now: T1)
        let r = try #require(result(rig.submit(.disarm(partition: "main"), at: T1 + 1)))
        #expect(r.status == .failed)
        #expect(r.code == "busy")
    }
}
