import Glibc
import Testing
@testable import BridgeAgent

/// The control socket's group is looked up in /etc/group directly (not through NSS): the lookup must match whole names.
@Suite struct ControlServerTests {
    @Test func groupIDsComeFromEtcGroup() throws {
        let root = try #require(ControlServer.systemGroupID("root"))
        #expect(root == 0)
        #expect(ControlServer.systemGroupID("roo") == nil)
        #expect(ControlServer.systemGroupID("no-such-group-chekt") == nil)
    }
}
