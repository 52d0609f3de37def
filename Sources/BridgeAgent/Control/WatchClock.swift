import BridgeSystem
import Glibc

/// The time `inputs --watch` paces its tables by: the monotonic clock in the agent, a test's own in tests.
public protocol WatchClock: Sendable {
    /// Milliseconds on a clock that never goes back.
    func nowMs() -> Int64
    /// Returns at `deadlineMs`, or earlier with false when `client` hangs up meanwhile.
    func hold(_ client: Int32, untilMs deadlineMs: Int64) -> Bool
}

/// The agent's: `CLOCK_MONOTONIC`, and a `poll` on the client that ends early when it hangs up.
public struct MonotonicWatchClock: WatchClock {
    public init() {}

    public func nowMs() -> Int64 { Posix.monotonicMillis() }

    public func hold(_ client: Int32, untilMs deadlineMs: Int64) -> Bool {
        while true {
            let left = deadlineMs - nowMs()
            if left <= 0 { return true }
            // Only a hang-up, an error or a closed descriptor wakes it early; EINTR waits out the rest.
            var p = pollfd(fd: client, events: Int16(pollRDHUP), revents: 0)
            if poll(&p, 1, Int32(clamping: left)) > 0 { return false }
        }
    }
}
