import BridgeCore
import BridgeHardware
import BridgeStore
import BridgeSystem
import Glibc
import Testing
@testable import BridgeAgent

/// The runtime loop with the real journal and snapshot, the simulated board, and a manual clock.
@Suite struct RuntimeTests {
    static let board = BoardProfile(
        name: "test",
        gpioChips: [.init(id: "header", labels: ["pinctrl-bcm2711"])],
        inputs: [.init(id: "in1", source: .gpio(.init(chip: "header", line: .name("GPIO5"))), debounceMs: 50)],
        outputs: [.init(id: "out1", sink: .gpio(.init(chip: "header", line: .name("GPIO26"))), activeLow: true)]
    )

    static func site(powerOn: SiteConfig.PowerOn = .off) -> Site {
        Site(config: SiteConfig(
            bridge: .init(id: "brg_test", board: "test.json"),
            partitions: [.init(id: "main", exitDelayS: 0, entryDelayS: 5)],
            zones: [.init(id: "door", input: "in1", partition: "main", type: .entryExit)],
            relays: [.init(id: "strike", output: "out1", mode: .pulse, pulseMs: 3000, maxOnMs: 10_000, powerOn: powerOn)]
        ), board: board, boardPath: "test.json")
    }

    /// A running agent on a manual clock in a fresh state folder.
    final class Harness: @unchecked Sendable {
        let clock = ManualClock()
        let dir: String
        let journal: Journal
        let board: SimulatedBoard<ManualClock>
        let runtime: Runtime<ManualClock>
        /// The runtime's exit code, once `run` has returned.
        let exited = OneShot<Int32>()

        init(site: Site, dir: String? = nil, watchdog: (intervalMs: Int64, ping: @Sendable () -> Void)? = nil) throws {
            self.dir = dir ?? Harness.tempDir()
            journal = try Journal(directory: self.dir + "/journal", maxBytes: 1 << 20)
            let snapshot = SnapshotFile(path: self.dir + "/state.snapshot")
            let restored = try snapshot.load().map { try SnapshotDocument.decode($0) }
            board = SimulatedBoard(profile: site.board, clock: clock)
            runtime = Runtime(site: site, board: board, simulation: board, journal: journal, snapshot: snapshot,
                              restored: restored, clock: clock,
                              options: .init(simulated: true, configPath: "test", stateDir: self.dir))
            runtime.watchdog = watchdog
            let ready = OneShot<Bool>()
            // On the runtime's own thread: the test blocks pool threads while it waits, the runtime must not need one.
            Task(executorPreference: runtime.executor) { [self] in
                exited.fulfil(await runtime.run(onReady: { ready.fulfil(true) }))
            }
            _ = ready.wait()
        }

        static func tempDir() -> String {
            var template = Array("/tmp/chekt-runtime-test-XXXXXX".utf8CString)
            return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        }

        /// Waits (on the runtime's change feed, bounded) until the journal holds `count` events.
        func events(atLeast count: Int) throws -> [Event] {
            var seen = runtime.feed.current
            for _ in 0..<50 {
                if journal.lastSeq >= count { break }
                seen = runtime.feed.wait(after: seen, timeoutMs: 100)
            }
            return try journal.events(after: 0, limit: 1000)
        }

        /// Moves the manual clock once the loop's timer is asleep on it.
        func advance(ms: Int) async {
            for _ in 0..<10_000 where clock.sleeperCount == 0 { await Task.yield() }
            clock.advance(by: .milliseconds(ms))
        }

        func ask(_ operation: ControlOperation) -> JSONObject {
            let answer = OneShot<JSONObject>()
            runtime.post(.control(operation, uid: 0, reply: { answer.fulfil($0) }))
            return answer.wait()
        }

        /// A request as the platform link (or the control socket, with `.technician`) hands it over.
        func run(_ request: Request, origin: Origin) -> RequestResult {
            let answer = OneShot<RequestResult>()
            runtime.post(.command(request, origin, reply: { answer.fulfil($0) }))
            return answer.wait()
        }

        func stop() -> Int32? {
            runtime.post(.signal(SIGTERM))
            return exited.wait(timeoutMs: 1000)
        }
    }

    @Test func startsWithBridgeStartedAndSettlesOnTheManualClock() async throws {
        let h = try Harness(site: Self.site())
        let events = try h.events(atLeast: 2)
        #expect(events.map(\.type) == ["bridge.started", "device.online"])
        #expect(events[0].data["simulated"] == .bool(true))
        #expect(events.map(\.seq) == [1, 2])
        #expect(h.stop() == 0)
    }

    /// `inputs --watch` redraws on the change feed: an input no zone uses records no event when its debounce ends,
    /// so the settling itself must move the feed, or the watcher keeps showing the level from before.
    @Test func anUnzonedInputSettlingMovesTheChangeFeed() async throws {
        var board = Self.board
        board.inputs.append(.init(id: "in2", source: .gpio(.init(chip: "header", line: .name("GPIO6"))), debounceMs: 50))
        var site = Self.site()
        site.board = board
        let h = try Harness(site: site)
        _ = try h.events(atLeast: 2)
        func level(_ key: String = "active") -> JSONValue? {
            h.ask(.inputs)["inputs"]?.arrayValue?.first { $0["id"] == "in2" }?[key]
        }
        let started = h.runtime.feed.current
        await h.advance(ms: 60)  // the start's settling
        _ = h.runtime.feed.wait(after: started, timeoutMs: 2000)
        #expect(level() == false)
        #expect(h.ask(.simInput("in2", active: true))["ok"] == true)
        // The loop has the raw change (and has moved the feed for it) once `inputs` shows it.
        for _ in 0..<100 where level("raw") != true { _ = h.runtime.feed.wait(after: h.runtime.feed.current, timeoutMs: 20) }
        #expect(level("raw") == true)
        let raw = h.runtime.feed.current
        #expect(level() == false, "settled before its debounce")
        await h.advance(ms: 60)
        let moved = h.runtime.feed.wait(after: raw, timeoutMs: 2000)
        #expect(moved != raw, "the feed did not move when in2 settled: a watcher would show its old level")
        #expect(level() == true)
        #expect(h.stop() == 0)
    }

    @Test func theLoopItselfPingsTheWatchdogEveryIntervalEvenWhenNothingHappens() async throws {
        final class Pings: @unchecked Sendable {
            let lock = Condition()
            var count = 0
            func ping() { lock.lock(); count += 1; lock.broadcast(); lock.unlock() }
            /// Waits (bounded) until there have been `n` pings; the count then.
            func wait(for n: Int) -> Int {
                lock.lock(); defer { lock.unlock() }
                for _ in 0..<50 where count < n { lock.wait(timeoutMs: 20) }
                return count
            }
        }
        let pings = Pings()
        let h = try Harness(site: Self.site(), watchdog: (intervalMs: 1000, ping: { pings.ping() }))
        _ = try h.events(atLeast: 2)
        #expect(pings.wait(for: 1) == 1, "one ping once the loop runs")
        await h.advance(ms: 50)  // the start-up settling deadline: the loop wakes, but no interval has passed
        #expect(pings.wait(for: 2) == 1)
        await h.advance(ms: 950)
        #expect(pings.wait(for: 2) == 2, "woken by its timer for the ping alone")
        await h.advance(ms: 1000)
        #expect(pings.wait(for: 3) == 3)
        #expect(h.stop() == 0)
    }

    @Test func theWatchdogIntervalIsHalfOfWhatSystemdAsksForThisProcess() {
        #expect(SystemdNotify.watchdogIntervalMs(usec: "20000000", pid: nil) == 10_000)
        #expect(SystemdNotify.watchdogIntervalMs(usec: "20000000", pid: String(getpid())) == 10_000)
        #expect(SystemdNotify.watchdogIntervalMs(usec: "20000000", pid: String(getpid() + 1)) == nil, "another process's")
        #expect(SystemdNotify.watchdogIntervalMs(usec: nil, pid: nil) == nil)
        #expect(SystemdNotify.watchdogIntervalMs(usec: "0", pid: nil) == nil)
        #expect(SystemdNotify.watchdogIntervalMs(usec: "soon", pid: nil) == nil)
        #expect(SystemdNotify.watchdogIntervalMs(usec: "1000", pid: nil) == 1, "never zero")
    }

    @Test func aDebouncedInputChangeIsRecordedOnlyWhenTheClockReachesTheDebounce() async throws {
        let h = try Harness(site: Self.site())
        _ = try h.events(atLeast: 2)
        await h.advance(ms: 50)  // start-up settling
        try h.board.setInput("in1", active: true)
        await h.advance(ms: 49)
        #expect(try h.events(atLeast: 2).count == 2)
        await h.advance(ms: 1)
        let events = try h.events(atLeast: 3)
        #expect(events.last?.type == "zone.faulted")
        #expect(events.last?.data == ["zone": "door", "partition": "main", "input": "in1"])
        #expect(h.stop() == 0)
    }

    @Test func aRequestIsAnsweredAfterItsEventsAreDurableAndThePulseEndsOnTime() async throws {
        let h = try Harness(site: Self.site())
        _ = try h.events(atLeast: 2)
        let answer = h.ask(.request(.relayPulse(relay: "strike", durationMs: 500)))
        #expect(answer["result"]?["status"] == "succeeded")
        // Durable before the answer: the event is in the journal already.
        #expect(try h.journal.events(after: 0, limit: 100).last?.type == "relay.activated")
        #expect(h.board.outputLevel("out1") == true)
        await h.advance(ms: 500)
        let events = try h.events(atLeast: 4)
        #expect(events.last?.type == "relay.deactivated")
        #expect(events.last?.data["reason"] == "pulse_elapsed")
        #expect(h.board.outputLevel("out1") == false)
        let elapsed = Timestamp.parse(events[3].occurredAt)! - Timestamp.parse(events[2].occurredAt)!
        #expect(elapsed == 500)
        #expect(h.stop() == 0)
    }

    /// A platform command or a control request that reaches the runtime after its loop has ended (SIGTERM) is
    /// answered at once: the command `busy` (certainly not run), not left open to be called interrupted at the
    /// next start; nothing is executed.
    @Test func aCommandArrivingAfterTheLoopHasEndedIsAnsweredBusyAndNotRun() async throws {
        let h = try Harness(site: Self.site())
        _ = try h.events(atLeast: 2)
        #expect(h.stop() == 0)
        let recorded = h.journal.lastSeq
        let answer = OneShot<RequestResult>()
        h.runtime.execute(.relayPulse(relay: "strike", durationMs: 500), origin: Origin(source: .command, commandID: "cmd_late")) {
            answer.fulfil($0)
        }
        let result = try #require(answer.wait(timeoutMs: 5000), "the late command was never answered")
        #expect(result.status == .failed && result.code == "busy", "\(result)")
        let control = OneShot<JSONObject>()
        h.runtime.post(.control(.status, uid: 0, reply: { control.fulfil($0) }))
        #expect(control.wait(timeoutMs: 5000)?["code"] == "stopping")
        #expect(h.journal.lastSeq == recorded)
        #expect(h.board.outputLevel("out1") == false)
    }

    /// A site whose relay `strike` (latch, no max_on) is a coil of Modbus device `io`.
    static func modbusSite(maxOnMs: Int? = 600_000) -> Site {
        let board = BoardProfile(
            name: "test-modbus",
            gpioChips: [.init(id: "header", labels: ["pinctrl-bcm2711"])],
            inputs: [.init(id: "in1", source: .gpio(.init(chip: "header", line: .name("GPIO5"))), debounceMs: 50)],
            outputs: [.init(id: "io.out1", sink: .modbus(device: "io", point: .coil(address: 0)))],
            modbusBuses: [.init(id: "tcp", transport: .tcp(host: "127.0.0.1", port: 5020))],
            modbusDevices: [.init(id: "io", bus: "tcp", unit: 1, pollMs: 100, offlineAfter: 3, inputIDs: [], outputIDs: ["io.out1"])]
        )
        return Site(config: SiteConfig(
            bridge: .init(id: "brg_test", board: "test.json"),
            partitions: [.init(id: "main", exitDelayS: 0, entryDelayS: 5)],
            zones: [.init(id: "door", input: "in1", partition: "main", type: .entryExit)],
            relays: [.init(id: "strike", output: "io.out1", mode: .latch, maxOnMs: maxOnMs)]
        ), board: board, boardPath: "test.json")
    }

    /// Advances the manual clock by poll periods until device `io` answers again (its `device.online` is recorded).
    func waitForDeviceOnline(_ h: Harness) async throws -> Bool {
        let before = h.journal.lastSeq
        for _ in 0..<5 {
            await h.advance(ms: 100)
            if try h.events(atLeast: Int(before) + 1).contains(where: { $0.seq > before && $0.type == "device.online" && $0.data["device"] == "io" }) {
                return true
            }
        }
        return false
    }

    /// A relay on a Modbus device: a write that fails while the device does not answer is answered
    /// `hardware_error`, and written again at the device's next good poll, so the output ends as recorded.
    @Test func aRelaySwitchedOffWhileItsDeviceIsSilentGoesOffWhenTheDeviceAnswersAgain() async throws {
        let h = try Harness(site: Self.modbusSite())
        _ = try h.events(atLeast: 2)
        #expect(h.ask(.request(.relayActivate(relay: "strike", durationMs: nil)))["result"]?["status"] == "succeeded")
        #expect(h.board.outputLevel("io.out1") == true)

        try h.board.setDevice("io", online: false)
        let off = h.ask(.request(.relayDeactivate(relay: "strike")))
        #expect(off["result"]?["status"] == "failed" && off["result"]?["code"] == "hardware_error", "\(off)")
        // protocol.md: `state` is the target's state after the command, a failed one too: off, as recorded.
        #expect(off["result"]?["state"]?["id"] == "strike" && off["result"]?["state"]?["on"] == false, "\(off)")
        #expect(try h.journal.events(after: 0, limit: 100).last?.type == "relay.deactivated")
        #expect(h.board.outputLevel("io.out1") == true, "the write cannot have reached a silent device")
        #expect(h.ask(.status)["status"]?["relays"]?.arrayValue?.first?["applied"] == false)

        try h.board.setDevice("io", online: true)
        // The device's next poll on the manual clock: its first answer is recorded as device.online (a poller
        // that had not gone back to sleep when the clock moved gets another period; max-on is 600 s away).
        #expect(try await waitForDeviceOnline(h), "the device's poll never answered")
        // The loop step that recorded it wrote the output again; a status request queued behind it sees that.
        #expect(h.ask(.status)["status"]?["relays"]?.arrayValue?.first?["applied"] == true)
        #expect(h.board.outputLevel("io.out1") == false, "the strike must go off once its device answers again")
        #expect(h.stop() == 0)
    }

    /// The other direction: a relay someone asked for whose output cannot be switched on is answered
    /// `hardware_error` and released again at once, so it does not come on by itself when the device answers
    /// (a latch without max_on would otherwise open a gate whenever the bus came back).
    @Test(arguments: [Origin.technician, Origin(source: .command, commandID: "cmd_1")])
    func aRelayThatCouldNotBeSwitchedOnIsReleasedAgainAndStaysOff(origin: Origin) async throws {
        let h = try Harness(site: Self.modbusSite(maxOnMs: nil))
        _ = try h.events(atLeast: 2)
        try h.board.setDevice("io", online: false)
        let before = h.journal.lastSeq
        let on = h.run(.relayActivate(relay: "strike", durationMs: nil), origin: origin)
        #expect(on.status == .failed && on.code == "hardware_error", "\(on)")
        #expect(on.message?.contains("released again") == true, "\(on)")
        #expect(on.state?["id"] == "strike" && on.state?["on"] == false, "the state must be the relay's after the release: \(on)")
        let events = try h.journal.events(after: before, limit: 100)
        #expect(events.map(\.type) == ["relay.activated", "relay.deactivated"], "\(events)")
        #expect(events.last?.data["reason"] == .string(origin.source == .command ? "command" : "technician"))
        #expect(events.last?.data["command_id"] == origin.commandID.map { .string($0) })
        #expect(h.ask(.status)["status"]?["relays"]?.arrayValue?.first?["on"] == false)

        try h.board.setDevice("io", online: true)
        #expect(try await waitForDeviceOnline(h), "the device's poll never answered")
        #expect(h.board.outputLevel("io.out1") == false, "the relay came on by itself when its device answered again")
        #expect(h.ask(.status)["status"]?["relays"]?.arrayValue?.first?["applied"] == true)
        #expect(h.stop() == 0)
    }

    @Test func shutdownReleasesRelaysAndARestartRestoresState() async throws {
        let h = try Harness(site: Self.site())
        _ = try h.events(atLeast: 2)
        await h.advance(ms: 50)
        #expect(h.ask(.request(.arm(partition: "main", mode: .away, force: false)))["result"]?["status"] == "succeeded")
        _ = h.ask(.request(.relayActivate(relay: "strike", durationMs: nil)))
        #expect(h.stop() == 0)
        let events = try h.journal.events(after: 0, limit: 100)
        #expect(events.last?.type == "relay.deactivated")
        #expect(events.last?.data["reason"] == "shutdown")
        #expect(h.board.outputLevel("out1") == false)
        h.journal.close()  // as the launcher does after the loop ends

        let again = try Harness(site: Self.site(), dir: h.dir)
        let after = try again.events(atLeast: events.count + 1)
        #expect(after[events.count].type == "bridge.started")
        #expect(after[events.count].seq == events.last!.seq + 1)
        let status = again.ask(.status)["status"]
        #expect(status?["partitions"]?.arrayValue?.first?["state"] == "armed_away")
        #expect(again.stop() == 0)
    }

    @Test func simCommandsReachTheBoardAndUnknownNamesAreRefused() async throws {
        let h = try Harness(site: Self.site())
        _ = try h.events(atLeast: 2)
        #expect(h.ask(.simInput("in1", active: true))["ok"] == true)
        let bad = h.ask(.simInput("in9", active: true))
        #expect(bad["ok"] == false)
        #expect(bad["exit"] == 2)
        #expect(bad["message"]?.stringValue?.contains("has in1") == true)
        #expect(h.stop() == 0)
    }
}
