import Dispatch
import Glibc
import Testing
@testable import BridgeCore

/// Files a person names are read only when they are regular files, and never block (issue 14: a FIFO hung the
/// validate commands and the agent's start for ever).
@Suite struct SmallFileTests {
    /// A FIFO in a fresh temporary folder.
    func fifo() throws -> String {
        var template = Array("/tmp/chekt-smallfile-XXXXXX".utf8CString)
        let folder = try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map { String(cString: $0) })
        let path = folder + "/f.json"
        try #require(mkfifo(path, 0o600) == 0)
        return path
    }

    /// Runs `read` on a thread; if it has not returned within 5 s, records a failure and opens the FIFO's writing
    /// end (which ends a reader's blocked open and then reads end-of-file), so a regression fails instead of hanging.
    func promptly<T: Sendable>(_ fifo: String, _ read: @escaping @Sendable () -> T) -> T {
        let box = Box<T>()
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async { box.value = read(); done.signal() }
        if done.wait(timeout: .now() + 5) == .timedOut {
            Issue.record("reading \(fifo) blocked for 5 s")
            close(open(fifo, O_WRONLY))
            done.wait()
        }
        return box.value!
    }

    @Test func aFIFOIsRefusedAtOnce() throws {
        let path = try fifo()
        let result = promptly(path) { SmallFile.read(path, limit: 1 << 20) }
        guard case .failure(let failure) = result else { Issue.record("a FIFO was read"); return }
        #expect(failure.problem == .notRegular("a FIFO"))
        #expect(failure.reason == "is not a regular file (it is a FIFO)")
    }

    @Test func aFIFOAsBoardOrConfigIsOneIssue() throws {
        let path = try fifo()
        for board in [true, false] {
            let message = promptly(path) { () -> String in
                do {
                    if board { _ = try ConfigLoader.loadBoard(path: path) } else { _ = try ConfigLoader.loadSite(path: path) }
                    return "loaded"
                } catch let error as ConfigError { return error.issues.map(\.description).joined(separator: "\n") } catch { return "\(error)" }
            }
            #expect(message == "\(path): cannot read: not a regular file but a FIFO; give the path of a JSON file")
        }
    }

    @Test func devicesFoldersAndLargeFilesAreRefused() {
        if case .failure(let f) = SmallFile.read("/dev/zero", limit: 100) { #expect(f.problem == .notRegular("a character device")) }
        else { Issue.record("/dev/zero was read") }
        if case .failure(let f) = SmallFile.read("/tmp", limit: 100) { #expect(f.problem == .notRegular("a folder")) }
        else { Issue.record("a folder was read") }
        if case .failure(let f) = SmallFile.read("/etc/services", limit: 10) { #expect(f.problem == .tooLarge) }
        else { Issue.record("a file over the limit was read") }
        if case .failure(let f) = SmallFile.read("/nonexistent/x", limit: 10) { #expect(f.errno == ENOENT && f.reason == "does not exist") }
        else { Issue.record("a missing file was read") }
    }
}

private final class Box<T>: @unchecked Sendable { var value: T? }
