import BridgeCore
import Testing
@testable import chekt_bridge

/// The exit code an answer names comes from whatever listens on the socket: checked, never trapped on.
@Suite struct ExitCodeTests {
    @Test func onlyCLIExitCodesAreTaken() {
        #expect(CLI.Exit.code(2) == 2)
        #expect(CLI.Exit.code(3) == 3)
        #expect(CLI.Exit.code(0) == 0)
        // Int32(4294967296) trapped: `status` against a socket answering this crashed the tool.
        for odd: JSONValue in [.int(4_294_967_296), .int(-1), .int(.max), .int(.min), .int(7), 2.5, "2", nil] {
            #expect(CLI.Exit.code(odd) == 1, "\(odd)")
        }
        #expect(CLI.Exit.code(nil as JSONValue?) == 1)
    }
}
