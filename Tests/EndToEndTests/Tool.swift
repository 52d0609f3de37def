import Foundation
import Glibc
import Testing

/// The built `chekt-bridge` binary, run as a user runs it: a separate process, its exit code, stdout and stderr.
enum Tool {
    /// `$CHEKT_BRIDGE_BIN`, else `chekt-bridge` next to this test bundle (SwiftPM builds it there first).
    static let located: Result<String, E2EFailure> = {
        let fm = FileManager.default
        if let override = ProcessInfo.processInfo.environment["CHEKT_BRIDGE_BIN"], !override.isEmpty {
            return fm.isExecutableFile(atPath: override)
                ? .success(override)
                : .failure(E2EFailure("CHEKT_BRIDGE_BIN=\(override) is not an executable file"))
        }
        var folders: [String] = []
        let argv0 = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        folders.append(argv0.deletingLastPathComponent().path)
        if let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            let folder = URL(fileURLWithPath: exe).deletingLastPathComponent().path
            if !folders.contains(folder) { folders.append(folder) }
        }
        for folder in folders {
            let candidate = folder + "/chekt-bridge"
            var isFolder: ObjCBool = false
            if fm.fileExists(atPath: candidate, isDirectory: &isFolder), !isFolder.boolValue, fm.isExecutableFile(atPath: candidate) {
                return .success(candidate)
            }
        }
        return .failure(E2EFailure("""
            the chekt-bridge binary was not found (looked in: \(folders.joined(separator: ", "))).
            Build it first (swift build; swift test builds it), or set CHEKT_BRIDGE_BIN to its path.
            """))
    }()

    /// The binary's path; throws (failing the test loudly, never skipping) when it is missing.
    static func path() throws -> String {
        switch located {
        case .success(let path): return path
        case .failure(let failure): throw failure
        }
    }

    /// The environment the tools get: no colour, no socket from the developer's shell.
    static func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        env.removeValue(forKey: "CHEKT_BRIDGE_SOCKET")
        env.removeValue(forKey: "NOTIFY_SOCKET")
        for (k, v) in extra { env[k] = v }
        return env
    }

    /// Runs `chekt-bridge ARGS` to completion (killed after `timeout` seconds, which is a failure).
    /// `stdin`: a file the tool reads as its standard input (else /dev/null); `wrapper`: a command that runs
    /// the binary (e.g. `setpriv --reuid=…`), the binary's path and `arguments` appended to it.
    static func run(_ arguments: [String], cwd: String? = nil, env: [String: String] = [:], timeout: Double = 15,
                    stdin: String? = nil, wrapper: [String] = []) throws -> ToolResult {
        let running = try RunningTool(arguments, cwd: cwd, env: env, stdinPath: stdin, wrapper: wrapper)
        guard let result = running.wait(timeout: timeout) else {
            running.kill(SIGKILL)
            _ = running.wait(timeout: 5)
            throw E2EFailure("chekt-bridge \(arguments.joined(separator: " ")) did not finish within \(timeout) s; stderr: \(running.stderrSoFar)")
        }
        return result
    }
}

/// What one run of the tool gave.
struct ToolResult: CustomStringConvertible {
    var arguments: [String]
    var status: Int32
    /// True when the process ended by a signal (then `status` is the signal number).
    var signalled: Bool
    var stdout: String
    var stderr: String

    /// stdout as one JSON document.
    func json() throws -> JSON { try JSON.parse(stdout) }

    var description: String {
        "chekt-bridge \(arguments.joined(separator: " ")) → \(signalled ? "signal" : "exit") \(status)\nstdout: \(stdout)\nstderr: \(stderr)"
    }
}

/// A `chekt-bridge` process started in the background: output goes to files, so a chatty child never blocks on a pipe.
final class RunningTool: @unchecked Sendable {
    let arguments: [String]
    let process = Process()
    private let outPath: String
    private let errPath: String
    private let finished = DispatchSemaphore(value: 0)
    private var result: ToolResult?

    init(_ arguments: [String], cwd: String? = nil, env: [String: String] = [:],
         stdoutPath: String? = nil, stderrPath: String? = nil, stdinPath: String? = nil, wrapper: [String] = []) throws {
        self.arguments = arguments
        let binary = try Tool.path()
        let scratch = NSTemporaryDirectory() + "chekt-e2e-io-" + UUID().uuidString
        outPath = stdoutPath ?? scratch + ".out"
        errPath = stderrPath ?? scratch + ".err"
        let fm = FileManager.default
        for path in [outPath, errPath] where !fm.fileExists(atPath: path) {
            guard fm.createFile(atPath: path, contents: nil) else { throw E2EFailure("cannot create \(path)") }
        }
        if let command = wrapper.first {
            process.executableURL = URL(fileURLWithPath: command)
            process.arguments = Array(wrapper.dropFirst()) + [binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments
        }
        process.environment = Tool.environment(env)
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        var input: FileHandle?
        if let stdinPath {
            input = FileHandle(forReadingAtPath: stdinPath)
            guard let input else { throw E2EFailure("cannot open \(stdinPath) for reading") }
            process.standardInput = input
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        guard let out = FileHandle(forWritingAtPath: outPath), let err = FileHandle(forWritingAtPath: errPath) else {
            throw E2EFailure("cannot open \(outPath) / \(errPath) for writing")
        }
        out.seekToEndOfFile()
        err.seekToEndOfFile()
        process.standardOutput = out
        process.standardError = err
        let finished = self.finished
        process.terminationHandler = { @Sendable _ in finished.signal() }
        do { try process.run() } catch {
            throw E2EFailure("cannot start \(binary): \(error)")
        }
        try? out.close()
        try? err.close()
        try? input?.close()
    }

    var pid: pid_t { process.processIdentifier }

    func kill(_ signal: Int32) { _ = Glibc.kill(pid, signal) }

    /// SIGTERM if still running, SIGKILL after 3 s; for `defer`, so no process outlives its test.
    func stopIfRunning() {
        guard wait(timeout: 0) == nil else { return }
        kill(SIGTERM)
        if wait(timeout: 3) == nil { kill(SIGKILL); _ = wait(timeout: 5) }
    }

    /// The result once the process has ended, or nil if it is still running after `timeout` seconds.
    func wait(timeout: Double) -> ToolResult? {
        if let result { return result }
        guard finished.wait(timeout: .now() + timeout) == .success else { return nil }
        let signalled = process.terminationReason == .uncaughtSignal
        let r = ToolResult(arguments: arguments, status: process.terminationStatus, signalled: signalled,
                           stdout: read(outPath), stderr: read(errPath))
        result = r
        if outPath.contains("chekt-e2e-io-") { try? FileManager.default.removeItem(atPath: outPath) }
        if errPath.contains("chekt-e2e-io-") { try? FileManager.default.removeItem(atPath: errPath) }
        return r
    }

    var stdoutSoFar: String { read(outPath) }
    var stderrSoFar: String { read(errPath) }

    private func read(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }
}
