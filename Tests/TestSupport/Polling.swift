import Foundation
import Glibc

/// Waiting on something outside the test process that cannot notify it: a child's listening port, a file a child
/// makes, what a pymodbus peer holds, an agent's answer over its socket. Tries `attempt` every `interval` seconds
/// until it gives a value, and gives nil once `timeout` seconds have passed (after one last try). Whatever should end
/// the wait early (the child died) is thrown from `attempt`.
///
/// The only place the tests sleep to wait. Time-dependent behaviour of the package's own code is tested on injected
/// manual clocks instead; a sleep here only spaces out the questions to a real process.
public func pollUntil<T>(timeout: Double, every interval: Double = 0.02, _ attempt: () throws -> T?) rethrows -> T? {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if let value = try attempt() { return value }
        if Date() > deadline { return nil }
        usleep(UInt32(interval * 1_000_000))
    }
}

/// `pollUntil` for async tests: the pause is a `Task.sleep`, so the cooperative thread is not held.
public func pollUntil<T>(timeout: Double, every interval: Double = 0.02, _ attempt: () async throws -> T?) async rethrows -> T? {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if let value = try await attempt() { return value }
        if Date() > deadline { return nil }
        try? await Task.sleep(nanoseconds: UInt64(interval * 1_000_000_000))
    }
}

public struct TestSupportFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
