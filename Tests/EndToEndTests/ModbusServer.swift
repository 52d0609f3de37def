import Foundation
import Glibc
import TestSupport

/// Tools/test-support/modbus_server.py (Debian's pymodbus, not our code) as the Modbus peer of an agent run
/// without `--simulate`: Modbus TCP on 127.0.0.1, or RTU on one end of a socat PTY pair whose other end the
/// agent opens (TestSupport's PTYPair, as BridgeHardwareTests' ModbusPeer has). Unlike that peer, it can be
/// started on a given port (a module coming back on the same address), killed like a module losing power,
/// and asked for its per-unit request counts.
///
/// A test that needs it and cannot start it fails with the reason (never skips). Every wait on the server
/// has a deadline; the server exits when its stdin closes, so it never outlives the test.
final class ModbusServer {
    /// The TCP port, or 0 over RTU.
    private(set) var port = 0
    /// Over RTU, the PTY end the agent opens (the server has the other one); empty over TCP.
    let device: String
    let units: [Int]
    private let process: Process
    private let input: FileHandle
    private let outputFD: Int32
    private let outputHandle: FileHandle
    private let stderrPath: String
    private var socat: PTYPair?
    private var folder: String?
    private var buffer: [UInt8] = []

    /// A TCP server on 127.0.0.1:`port` (0: a free port, then `port` says which) serving `units`.
    convenience init(tcpPort: Int = 0, units: [Int] = [1]) throws {
        try self.init(arguments: ["--tcp", String(tcpPort)], units: units, socat: nil, folder: nil)
    }

    /// An RTU server at `baud` on one end of a fresh socat PTY pair (PTYs ignore the baud rate).
    convenience init(rtuBaud baud: Int, units: [Int] = [1]) throws {
        let folder = NSTemporaryDirectory() + "chekt-e2e-modbus-\(UUID().uuidString)"
        let pair = try PTYPair(folder: folder)
        do {
            try self.init(arguments: ["--rtu", pair.serverEnd, "--baud", String(baud)], units: units, socat: pair, folder: folder)
        } catch {
            pair.kill()
            throw error
        }
    }

    private init(arguments: [String], units: [Int], socat: PTYPair?, folder: String?) throws {
        let script = Repo.root + "/Tools/test-support/modbus_server.py"
        guard FileManager.default.fileExists(atPath: script) else { throw E2EFailure("\(script) is missing") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else {
            throw E2EFailure("/usr/bin/python3 is missing: Tools/setup installs python3-pymodbus (Debian's python3 and pymodbus)")
        }
        self.units = units
        self.socat = socat
        self.folder = folder
        stderrPath = NSTemporaryDirectory() + "chekt-e2e-modbus-\(UUID().uuidString).stderr"
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)  // Swift 6.0.3's Foundation warns on an unused result
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")  // Debian's, where python3-pymodbus is
        process.arguments = [script, "--units", units.map(String.init).joined(separator: ",")] + arguments
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        do { try process.run() } catch {
            throw E2EFailure("cannot start modbus_server.py with /usr/bin/python3: \(error)")
        }
        self.process = process
        input = stdin.fileHandleForWriting
        outputHandle = stdout.fileHandleForReading
        outputFD = outputHandle.fileDescriptor
        device = socat?.agentEnd ?? ""
        let line: String
        do { line = try readLine(timeout: 15) } catch {
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw E2EFailure("modbus_server.py did not start (\(error)): is python3-pymodbus installed? Tools/setup installs it.\nits stderr:\n\(stderrText)")
        }
        guard line.hasPrefix("READY ") else {
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw E2EFailure("modbus_server.py did not start (said \"\(line)\"): is python3-pymodbus installed? Tools/setup installs it.\nits stderr:\n\(stderrText)")
        }
        port = socat == nil ? Int(line.dropFirst(6)) ?? 0 : 0
    }

    deinit {
        kill()
        socat?.kill()
        if let folder { try? FileManager.default.removeItem(atPath: folder) }
        try? FileManager.default.removeItem(atPath: stderrPath)
    }

    /// SIGKILL, as a module losing power: its connections are dropped by the kernel. The PTY pair stays.
    func kill() {
        guard process.isRunning else { return }
        try? input.close()
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    var stderrText: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    // MARK: Commands (see the script's header)

    /// Sends one command line and returns its answer line (within 10 s).
    @discardableResult
    func command(_ text: String) throws -> String {
        guard process.isRunning else { throw E2EFailure("modbus_server.py is not running (asked: \(text))\n\(stderrText)") }
        do { try input.write(contentsOf: Data((text + "\n").utf8)) } catch {
            throw E2EFailure("cannot write to modbus_server.py (\(error))\n\(stderrText)")
        }
        return try readLine(timeout: 10)
    }

    func set(unit: Int = 1, _ table: String, _ address: Int, _ value: Int) throws {
        let answer = try command("set \(unit) \(table) \(address) \(value)")
        guard answer == "ok" else { throw E2EFailure("modbus_server.py set: \(answer)") }
    }

    func get(unit: Int = 1, _ table: String, _ address: Int) throws -> Int {
        let answer = try command("get \(unit) \(table) \(address)")
        guard let value = Int(answer) else { throw E2EFailure("modbus_server.py get: \(answer)") }
        return value
    }

    /// A muted unit never answers: the client times out.
    func mute(_ unit: Int) throws {
        let answer = try command("mute \(unit)")
        guard answer == "ok" else { throw E2EFailure("modbus_server.py mute: \(answer)") }
    }

    /// Requests each unit has received (and validated) so far.
    func requests() throws -> [Int: Int] {
        let answer = try command("stats")
        guard case .object(let top)? = try? JSON.parse(answer), case .object(let counts)? = top["requests"] else {
            throw E2EFailure("modbus_server.py stats: \(answer)")
        }
        var out: [Int: Int] = [:]
        for (unit, n) in counts { if let u = Int(unit), let n = n.int { out[u] = Int(n) } }
        return out
    }

    /// Waits until `condition` holds on the server's side (checked every 20 ms), up to `timeout` s.
    func eventually(_ what: String, timeout: Double = 8, _ condition: () throws -> Bool) throws {
        guard try pollUntil(timeout: timeout, { try condition() ? true : nil }) != nil else {
            throw E2EFailure("timed out after \(timeout) s waiting for \(what) on the Modbus server")
        }
    }

    private func readLine(timeout: Double) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let nl = buffer.firstIndex(of: 10) {
                let line = String(decoding: buffer[..<nl], as: UTF8.self)
                buffer.removeSubrange(...nl)
                return line
            }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw E2EFailure("modbus_server.py did not answer within \(timeout) s") }
            var p = pollfd(fd: outputFD, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, Int32(min(left, 1) * 1000) + 1)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = read(outputFD, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw E2EFailure("modbus_server.py closed its output") }
            buffer += chunk[..<n]
        }
    }
}

/// `mbpoll`, an independent Modbus client (not our code, not pymodbus), for cross-checks.
enum MBPoll {
    /// Reads one coil (`address` 0-based; mbpoll's references are 1-based) of `unit` over TCP once.
    static func readCoil(port: Int, unit: Int = 1, address: Int) throws -> Int {
        let path = "/usr/bin/mbpoll"
        guard FileManager.default.isExecutableFile(atPath: path) else { throw E2EFailure("\(path) is missing: Tools/setup installs mbpoll") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["-m", "tcp", "-a", String(unit), "-t", "0", "-r", String(address + 1), "-c", "1", "-1",
                             "-p", String(port), "127.0.0.1"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { throw E2EFailure("cannot run \(path): \(error)") }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // "[1]: \t1": the reference, then the value.
        guard process.terminationStatus == 0,
              let match = text.firstMatch(of: /\n\[(\d+)\]:\s+(\d+)/), Int(match.1) == address + 1, let value = Int(match.2) else {
            throw E2EFailure("mbpoll \(process.arguments!.joined(separator: " ")) → exit \(process.terminationStatus):\n\(text)")
        }
        return value
    }
}
