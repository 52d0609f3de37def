import Foundation
import Glibc
import TestSupport
import Testing

extension PlatformLink {
    /// The link's transport: HTTPS through a TLS terminator with the site's own CA, and plain http refused off loopback.
    @Suite struct Transport {
        @Test func httpsWithTheSitesCAFileDeliversAndWithoutItFailsOnTheCertificate() throws {
            let site = try PlatformSite()
            defer { site.close() }
            let tls = try TLSFiles(folder: site.sandbox.root + "/tls")
            let port = try freeLoopbackPort()
            let socat = try Background("/usr/bin/socat", [
                "openssl-listen:\(port),reuseaddr,fork,cert=\(tls.serverCert),key=\(tls.serverKey),verify=0",
                "tcp:127.0.0.1:\(site.platform.port)",
            ], log: site.sandbox.root + "/socat.stderr", missing: "install socat (apt-get install socat)")
            defer { socat.stop() }
            try waitListening(port: port, process: socat)

            let url = "https://127.0.0.1:\(port)/v1"
            try site.writeConfig(url: url, caFile: tls.ca)
            let status = try site.start(timeout: 20)
            #expect(status["upstream"]?["url"] == .string(url), "\(status["upstream"] ?? .null)")
            try site.toggle("in1", "active", expect: "zone.faulted")
            try site.agent.ok("relay", "pulse", "gate", "--ms", "100")
            let command = try site.platform.issue("zone.bypass", ["zone": "hall_pir"])
            #expect(try site.waitResult(command)["status"] == "succeeded", site.note)
            let (recorded, received) = try site.waitDelivered()
            // Compared directly: the command's result record leaves a seq gap (see PlatformCommandTests).
            #expect(received == recorded.map(\.wire), "the platform's events are not the journal's\n\(site.diagnostics)")
            let up = try site.agent.status()["upstream"]
            #expect(up?["connected"] == true && up?["last_error"] == .null, "\(up ?? .null)")

            // The same platform without the CA: the system store does not know it; nothing gets through.
            let (stopped, _) = try #require(site.agent.stop())
            #expect(!stopped.signalled && stopped.status == 0, "\(stopped)")
            let requestsBefore = try site.platform.requests().count
            try site.writeConfig(url: url, caFile: nil)
            try site.agent.start()
            let failing = try site.waitFor("status last_error to mention the certificate", timeout: 15) { () throws -> JSON? in
                let s = try site.agent.status()
                return s["upstream"]?["last_error"]?.string?.lowercased().contains("certificate") == true ? s : nil
            }
            #expect(failing["upstream"]?["connected"] == false, "\(failing["upstream"] ?? .null)")
            try site.toggle("in4", "active", expect: "zone.faulted")
            try site.agent.barrier(ms: 300)
            let later = try site.agent.status()
            #expect(later["upstream"]?["connected"] == false, "\(later["upstream"] ?? .null)")
            #expect((later.pending ?? 0) >= 1, "\(later["outbox"] ?? .null)")
            #expect(try site.platform.requests().count == requestsBefore, "a request got through an untrusted certificate")
        }

        @Test func plainHTTPToANonLoopbackHostIsRefusedAtStart() throws {
            let sandbox = try Sandbox()
            let credentials = PlatformCredentials.random("http")
            let path = sandbox.root + "/credentials.json"
            try credentials.write(to: path)
            let config = try sandbox.writeJSON("config.json", Fixture.platformConfig(
                board: try Repo.board(), stateDir: sandbox.stateDir, url: "http://10.1.2.3/v1", credentials: path))
            let t0 = Date()
            let run = try Tool.run(["run", "--config", config, "--simulate", "--socket", sandbox.socket], cwd: sandbox.root)
            #expect(!run.signalled && run.status == 2, "\(run)")
            #expect(Date().timeIntervalSince(t0) < 5, "refusing took \(Date().timeIntervalSince(t0)) s: did it try to connect?")
            #expect(run.stderr.contains("upstream.url"), "stderr does not name the setting: \(run.stderr)")
            #expect(run.stderr.contains("https://") && run.stderr.contains("loopback"), "stderr does not say what is allowed: \(run.stderr)")
            #expect(!sandbox.exists(sandbox.socket))
        }

        /// Needs a non-loopback IPv4 address on the machine; without one it fails (never skips), naming what is missing.
        @Test func plainHTTPToThisMachinesOwnNonLoopbackAddressIsNeverContacted() throws {
            let address = try #require(nonLoopbackIPv4(), "this test needs a non-loopback IPv4 address on this machine")
            let listener = try Listener(address: "0.0.0.0")
            defer { listener.close() }
            let sandbox = try Sandbox()
            let credentials = PlatformCredentials.random("http")
            let path = sandbox.root + "/credentials.json"
            try credentials.write(to: path)
            let config = try sandbox.writeJSON("config.json", Fixture.platformConfig(
                board: try Repo.board(), stateDir: sandbox.stateDir, url: "http://\(address):\(listener.port)/v1", credentials: path))
            let run = try Tool.run(["run", "--config", config, "--simulate", "--socket", sandbox.socket], cwd: sandbox.root)
            #expect(!run.signalled && run.status == 2, "\(run)")
            #expect(run.stderr.contains("upstream.url"), "\(run.stderr)")
            #expect(!listener.hasPendingConnection, "the agent connected to http://\(address):\(listener.port) although it refused the URL")
        }
    }
}

// MARK: Helpers for the transport tests

/// A CA and a server certificate for 127.0.0.1 (SAN IP:127.0.0.1), made with the `openssl` command.
struct TLSFiles {
    let ca: String
    let serverCert: String
    let serverKey: String

    init(folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        ca = folder + "/ca.pem"
        serverCert = folder + "/server.pem"
        serverKey = folder + "/server.key"
        let ext = folder + "/server.ext"
        try "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
            .write(toFile: ext, atomically: true, encoding: .utf8)
        let steps: [[String]] = [
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", folder + "/ca.key", "-out", ca, "-days", "2",
             "-subj", "/CN=chekt-bridge e2e test CA"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", serverKey, "-out", folder + "/server.csr", "-subj", "/CN=127.0.0.1"],
            ["x509", "-req", "-in", folder + "/server.csr", "-CA", ca, "-CAkey", folder + "/ca.key", "-CAcreateserial",
             "-out", serverCert, "-days", "2", "-extfile", ext],
        ]
        for arguments in steps {
            let r = try Program.run("/usr/bin/openssl", arguments, cwd: folder)
            guard r.status == 0 else { throw E2EFailure("openssl \(arguments.joined(separator: " ")) failed (\(r.status)):\n\(r.stderr)") }
        }
    }
}

/// Runs a helper program (openssl) to completion.
enum Program {
    static func run(_ path: String, _ arguments: [String], cwd: String) throws -> (status: Int32, stdout: String, stderr: String) {
        guard FileManager.default.isExecutableFile(atPath: path) else { throw E2EFailure("\(path) is missing; the test needs it") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        p.currentDirectoryURL = URL(fileURLWithPath: cwd)
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}

/// A helper process (socat) running for the length of a test; `stop()` (SIGTERM, then SIGKILL) in a `defer`.
final class Background {
    private let child = StoppableProcess()
    let logPath: String

    init(_ path: String, _ arguments: [String], log: String, missing: String) throws {
        guard FileManager.default.isExecutableFile(atPath: path) else { throw E2EFailure("\(path) is missing: \(missing)") }
        logPath = log
        guard FileManager.default.createFile(atPath: log, contents: nil), let handle = FileHandle(forWritingAtPath: log) else {
            throw E2EFailure("cannot create \(log)")
        }
        let process = child.process
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = handle
        process.standardError = handle
        try child.run()
        try? handle.close()
    }

    deinit { stop() }

    var isRunning: Bool { child.isRunning }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
    func stop() { child.stop() }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
func freeLoopbackPort() throws -> Int {
    let listener = try Listener(address: "127.0.0.1")
    defer { listener.close() }
    return listener.port
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port` (at most 10 s).
func waitListening(port: Int, process: Background) throws {
    let listening = try pollUntil(timeout: 10, every: 0.05) { () throws -> Bool? in
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in.loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        Glibc.close(fd)
        if connected == 0 { return true }
        if !process.isRunning { throw E2EFailure("the helper process ended before listening on \(port):\n\(process.log)") }
        return nil
    }
    guard listening != nil else { throw E2EFailure("nothing listens on 127.0.0.1:\(port) after 10 s:\n\(process.log)") }
}

/// A listening TCP socket of the test's own, to see whether anyone connected to it.
final class Listener {
    let fd: Int32
    let port: Int

    init(address: String) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw E2EFailure("socket: \(String(cString: strerror(errno)))") }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var bindAddress = sockaddr_in.loopback(port: 0)
        guard inet_pton(AF_INET, address, &bindAddress.sin_addr) == 1 else { throw E2EFailure("bad address \(address)") }
        let bound = withUnsafePointer(to: &bindAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 8) == 0 else {
            let why = String(cString: strerror(errno))
            Glibc.close(fd)
            throw E2EFailure("cannot listen on \(address): \(why)")
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: actual.sin_port))
    }

    /// True when a connection is waiting to be accepted.
    var hasPendingConnection: Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) > 0 && (p.revents & Int16(POLLIN)) != 0
    }

    func close() { Glibc.close(fd) }
}

extension sockaddr_in {
    static func loopback(port: Int) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = UInt16(port).bigEndian
        a.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
        return a
    }
}

/// This machine's first non-loopback IPv4 address, if it has one.
func nonLoopbackIPv4() -> String? {
    var list: UnsafeMutablePointer<ifaddrs>?
    guard getifaddrs(&list) == 0, let first = list else { return nil }
    defer { freeifaddrs(list) }
    var cursor: UnsafeMutablePointer<ifaddrs>? = first
    while let entry = cursor {
        defer { cursor = entry.pointee.ifa_next }
        guard let addr = entry.pointee.ifa_addr, addr.pointee.sa_family == sa_family_t(AF_INET) else { continue }
        let ipv4 = addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
        guard UInt32(bigEndian: ipv4.s_addr) >> 24 != 127 else { continue }
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        var copy = ipv4
        guard inet_ntop(AF_INET, &copy, &text, socklen_t(INET_ADDRSTRLEN)) != nil else { continue }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
    return nil
}
