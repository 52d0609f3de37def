import Foundation
import Glibc
import Testing

extension PlatformLink {
    /// SIGTERM with the platform link up: the agent stops cleanly every time, whatever its link threads are doing.
    @Suite struct Shutdown {
        /// Found by the RSS benchmark: after "stopped", exit() ran OpenSSL's atexit cleanup while a link thread
        /// was ending and destroying its OpenSSL thread-locals, and 3 of 16 stops ended in SIGSEGV (status 139).
        /// Each cycle stops the agent at a different point of its link's work (deliveries in flight,
        /// the state PUT, the long-poll open), and every run must end with exit 0 and its `stopped` line.
        @Test func sigtermWithTheLinkBusyAlwaysEndsWithExitZero() throws {
            let site = try PlatformSite(heartbeatS: 5)
            defer { site.close() }
            for cycle in 0..<8 {
                try site.start()
                try site.toggleSiren(pairs: 3)  // six events for the delivery thread
                usleep(UInt32(150_000 * cycle))  // 0 to 1.05 s: a different moment of the link's work each time
                let stopped = try #require(site.agent.stop(), "the agent did not end after SIGTERM and SIGKILL")
                #expect(!stopped.result.signalled && stopped.result.status == 0,
                        "cycle \(cycle): the agent ended with \(stopped.result.signalled ? "signal" : "exit") \(stopped.result.status)\n\(site.diagnostics)")
                #expect(site.agent.log.contains("stopped"), "cycle \(cycle): no 'stopped' line\n\(site.agent.logTail)")
            }
        }
    }
}
