import BridgeCore
import BridgeStore
import Glibc
import Synchronization
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
    /// `watchIntervalMs`, and a change after a quiet spell still comes without waiting for another.
    @Test func inputsWatchSendsAtMostOneTableEvery100msAndStillShowsALoneChange() throws {
        let target = try WatchTarget(dir: dir)
        let server = try ControlServer(path: dir + "/control.sock", target: target)
        server.start()
        defer { server.remove() }
        let client = try ControlClient(path: dir + "/control.sock")
        #expect(client.send(["op": "inputs", "watch": true]))
        #expect(client.next()?["ok"] == true, "no first table")
        let tables = Mutex(0)
        nonisolated(unsafe) let reader = client
        Posix.spawnThread(name: "test-watch") { while reader.next() != nil { tables.withLock { $0 += 1 } } }

        let t0 = Posix.monotonicMillis()
        for _ in 0..<2000 { target.feed.bump(); usleep(500) }  // a change every 0.5 ms: at least a second
        let elapsed = Posix.monotonicMillis() - t0
        usleep(300_000)
        let during = tables.withLock { $0 }
        #expect(during >= 1 && during <= Int(elapsed / Int64(ControlServer.watchIntervalMs)) + 2,
                "\(during) tables for 2,000 changes in \(elapsed) ms")

        target.feed.bump()  // one change after a quiet spell
        let deadline = Posix.monotonicMillis() + 5000
        while tables.withLock({ $0 }) == during && Posix.monotonicMillis() < deadline { usleep(1000) }
        #expect(tables.withLock { $0 } == during + 1, "a lone change was not shown")
    }
}
