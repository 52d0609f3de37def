import BridgeCore
import BridgeStore
import Glibc
import Testing
@testable import BridgeAgent
import BridgeSystem

/// A target that answers `inputs` at once; tests move its feed.
final class WatchTarget: ControlTarget, @unchecked Sendable {
    let feed = ChangeFeed()
    let journal: Journal
    init(dir: String) throws { journal = try Journal(directory: dir + "/journal", maxBytes: 1 << 20) }
    func post(_ message: RuntimeMessage) {
        if case .control(.inputs, _, let reply) = message { reply(["ok": true, "inputs": []]) }
    }
}

/// Creating the control socket: what may be replaced at its path, and its group; `inputs --watch` under a flood.
@Suite struct ControlServerTests {
    let dir = RuntimeTests.Harness.tempDir()

    @Test func aFileThatIsNotASocketIsNeverReplaced() throws {
        let path = dir + "/control.sock"
        let file = try #require(fopen(path, "w"))
        fputs("precious\n", file)
        fclose(file)
        #expect(throws: ControlServer.StartError.self) { try ControlServer.clearStaleSocket(at: path) }
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_size == 9, "the file was touched")
    }

    @Test func aSocketNobodyListensOnIsRemovedAndALiveOneRefused() throws {
        let path = dir + "/control.sock"
        try ControlServer.clearStaleSocket(at: path)  // nothing there
        let live = try UnixSocket.listen(path)
        #expect(throws: ControlServer.StartError.self) { try ControlServer.clearStaleSocket(at: path) }
        #expect(access(path, F_OK) == 0, "a live agent's socket was removed")
        close(live)  // the listener is gone, its socket file stays: stale
        try ControlServer.clearStaleSocket(at: path)
        #expect(access(path, F_OK) != 0, "the stale socket is still there")
    }

    /// Groups are looked up in /etc/group directly (not through NSS): whole names, both ways.
    @Test func groupsComeFromEtcGroup() throws {
        let root = try #require(EtcGroup.id(named: "root"))
        #expect(root == 0)
        #expect(EtcGroup.id(named: "roo") == nil)
        #expect(EtcGroup.id(named: "no-such-group-chekt") == nil)
        #expect(EtcGroup.name(of: 0) == "root")
        #expect(EtcGroup.name(of: 4_000_000_000) == nil)
    }

    /// An input chattering far faster than a person reads: the watch sends at most one table per
    /// `watchIntervalMs` of the watch clock (the test's), and a change after a quiet spell comes at once.
    @Test func inputsWatchSendsAtMostOneTableEvery100msAndStillShowsALoneChange() throws {
        let target = try WatchTarget(dir: dir)
        let clock = ManualWatchClock()
        let server = try ControlServer(path: dir + "/control.sock", target: target, watchClock: clock)
        server.start()
        defer { server.remove() }
        let fd = try UnixSocket.connect(dir + "/control.sock")
        defer { close(fd) }
        UnixSocket.setTimeouts(fd, ms: 10_000)  // a table that never comes fails the test, not hangs it
        var reader = LineReader(fd: fd)
        func table() -> Bool { reader.next().flatMap { try? JSONValue.decode($0) }?.objectValue?["ok"] == true }
        _ = "{\"op\":\"inputs\",\"watch\":true}\n".withCString { write(fd, $0, strlen($0)) }
        #expect(table(), "no first table")  // at 0 ms

        for _ in 0..<2000 { target.feed.bump() }  // a flood at 0 ms: held until 100 ms
        #expect(clock.waitForHold() == 100)
        for _ in 0..<500 { target.feed.bump() }  // more while held: in the same next table
        clock.advance(to: 100)
        #expect(table(), "no table at 100 ms")

        clock.advance(to: 150)
        target.feed.bump()  // 50 ms after a table: held until 100 ms after it
        #expect(clock.waitForHold() == 200)
        clock.advance(to: 200)
        #expect(table(), "no table at 200 ms")

        clock.advance(to: 1000)
        target.feed.bump()  // after a quiet spell: at once
        #expect(table(), "a lone change was not shown")
        #expect(clock.holds == 2, "a lone change after a quiet spell was held")
    }
}

/// The watch's clock, moved by the test: `hold` waits until `advance` reaches its deadline.
final class ManualWatchClock: WatchClock, @unchecked Sendable {
    private let condition = Condition()
    private var now: Int64 = 0
    private var holding: Int64?
    private var held = 0

    func nowMs() -> Int64 { condition.lock(); defer { condition.unlock() }; return now }

    func hold(_ client: Int32, untilMs deadlineMs: Int64) -> Bool {
        condition.lock(); defer { condition.unlock() }
        holding = deadlineMs
        held += 1
        condition.broadcast()
        while now < deadlineMs { condition.wait() }
        holding = nil
        return true
    }

    func advance(to t: Int64) { condition.lock(); now = t; condition.broadcast(); condition.unlock() }

    /// How many times a watch has held a table back.
    var holds: Int { condition.lock(); defer { condition.unlock() }; return held }

    /// The deadline a watch holds until, once one does (nil after 10 s of real time: the watch never held).
    func waitForHold() -> Int64? {
        let giveUp = Posix.monotonicMillis() + 10_000
        condition.lock(); defer { condition.unlock() }
        while holding == nil && Posix.monotonicMillis() < giveUp { condition.wait(timeoutMs: 100) }
        return holding
    }
}
