import Glibc
import Testing
@testable import BridgeAgent
import BridgeSystem

/// Creating the control socket: what may be replaced at its path, and its group.
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
}
