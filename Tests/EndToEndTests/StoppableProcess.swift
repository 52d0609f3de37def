import Foundation
import Glibc

/// A child process a test started, with the one way to stop it: SIGTERM, then SIGKILL after 3 s.
/// Set up `process` (executable, arguments, I/O), then call `run()`.
final class StoppableProcess {
    let process = Process()
    private let finished = DispatchSemaphore(value: 0)
    private var ended = false

    func run() throws {
        let finished = self.finished
        process.terminationHandler = { @Sendable _ in finished.signal() }
        try process.run()
    }

    var isRunning: Bool {
        if ended { return false }
        if finished.wait(timeout: .now()) == .success { ended = true; return false }
        return true
    }

    func stop() {
        guard isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        if finished.wait(timeout: .now() + 3) == .success { ended = true; return }
        kill(process.processIdentifier, SIGKILL)
        if finished.wait(timeout: .now() + 5) == .success { ended = true }
    }
}
