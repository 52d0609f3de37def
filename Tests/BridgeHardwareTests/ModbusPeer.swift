import Foundation
import TestSupport

/// Tools/test-support/modbus_server.py (Debian's pymodbus, not our code) serving Modbus TCP on 127.0.0.1 or RTU
/// on one end of a socat PTY pair, for the life of this object. A test that needs it and cannot start it fails.
final class ModbusPeer: @unchecked Sendable {
    enum Transport { case tcp, rtu }

    /// The TCP port, or 0 over RTU.
    let port: Int
    /// The device the agent's side opens over RTU (the other end of the PTY pair).
    let device: String
    private let process: Process
    private let input: FileHandle
    private let output: FileHandle
    private var socat: PTYPair?
    private var buffer: [UInt8] = []

    init(_ transport: Transport, units: [Int] = [1]) throws {
        let pair = transport == .rtu ? try PTYPair(folder: NSTemporaryDirectory() + "chekt-modbus-\(UUID().uuidString)") : nil
        let arguments = [Self.supportFile("modbus_server.py"), "--units", units.map(String.init).joined(separator: ",")]
            + (pair.map { ["--rtu", $0.serverEnd] } ?? ["--tcp", "0"])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")  // Debian's, where python3-pymodbus is
        process.arguments = arguments
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        do { try process.run() } catch {
            pair?.kill()
            throw error
        }
        self.process = process
        self.input = stdin.fileHandleForWriting
        self.output = stdout.fileHandleForReading
        self.socat = pair
        self.device = pair?.agentEnd ?? ""
        var line = ""
        do { line = try Self.readLine(output, &buffer) } catch {}
        guard line.hasPrefix("READY ") else {
            // As stop() does (not callable before `port` is set): SIGKILL and reap. A socat left running holds this
            // test process's stdout, and `swift test` then waits for it forever. SIGTERM is not enough: a child
            // started from a test's thread inherits its blocked signals (seen: socats outliving a SIGTERM).
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            pair?.kill()
            throw PeerError("modbus_server.py did not start (said \"\(line)\"): is python3-pymodbus installed? Tools/setup installs it")
        }
        port = transport == .tcp ? Int(line.dropFirst(6)) ?? 0 : 0
    }

    deinit { stop() }

    /// Stops the server (as a module losing power) and its PTY pair.
    func stop() {
        try? input.close()
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        socat?.kill()
        socat = nil
    }

    /// Sends one command (see the script's header) and returns its answer line.
    @discardableResult
    func command(_ text: String) throws -> String {
        try input.write(contentsOf: Data((text + "\n").utf8))
        return try Self.readLine(output, &buffer)
    }

    func set(unit: Int = 1, _ table: String, _ address: Int, _ value: Int) throws {
        let answer = try command("set \(unit) \(table) \(address) \(value)")
        guard answer == "ok" else { throw PeerError("set: \(answer)") }
    }

    func get(unit: Int = 1, _ table: String, _ address: Int) throws -> Int {
        let answer = try command("get \(unit) \(table) \(address)")
        guard let value = Int(answer) else { throw PeerError("get: \(answer)") }
        return value
    }

    private static func readLine(_ handle: FileHandle, _ buffer: inout [UInt8]) throws -> String {
        while true {
            if let nl = buffer.firstIndex(of: 10) {
                let line = String(decoding: buffer[..<nl], as: UTF8.self)
                buffer.removeSubrange(...nl)
                return line
            }
            let chunk = handle.availableData
            if chunk.isEmpty { throw PeerError("modbus_server.py closed its output") }
            buffer += chunk
        }
    }

    static func supportFile(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Tools/test-support/\(name)").path
    }

    struct PeerError: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }
}

/// Waits until `condition` holds (a device's side, seen from outside), checking every 5 ms for 5 s.
func eventually(_ condition: () throws -> Bool) async rethrows -> Bool {
    try await pollUntil(timeout: 5, every: 0.005) { () async throws -> Bool? in try condition() ? true : nil } ?? false
}
