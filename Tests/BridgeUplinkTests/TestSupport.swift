import Foundation
import Glibc
import Testing
@testable import BridgeUplink

/// A precondition of a test that was not met (a tool missing, a server that did not start): the test fails, never skips.
struct TestSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The external programs the uplink tests use, found on this machine or reported as missing.
enum TestTools {
    /// `/usr/bin/<name>` first (Debian's, as Tools/setup installs), else the first on PATH.
    static func find(_ name: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for dir in ["/usr/bin"] + path.split(separator: ":").map(String.init) {
            let candidate = dir + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw TestSetupError("\(name) is not installed (not in /usr/bin nor on PATH); run Tools/setup")
    }

    /// Runs `tool` to completion; its stdout, or a thrown error with its stderr when it exits non-zero.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String], in directory: String? = nil, input: [UInt8]? = nil) throws -> String {
        try TestEnvironment.prepare()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try find(tool))
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe(), err = Pipe(), inPipe = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = inPipe
        try process.run()
        if let input { inPipe.fileHandleForWriting.write(Data(input)) }
        try inPipe.fileHandleForWriting.close()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestSetupError("\(tool) \(arguments.joined(separator: " ")) failed (\(process.terminationStatus)): "
                                 + String(decoding: errors, as: UTF8.self))
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Tools/test-support/<name>, found from this file's place in the repository.
    static func supportFile(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Tools/test-support/\(name)").path
    }

    /// A new empty folder under the system's temporary folder.
    static func temporaryDirectory(_ label: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("chekt-uplink-\(label)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// Tools/test-support/http_test_server.py, running on 127.0.0.1 for the life of this object.
final class TestServer: @unchecked Sendable {
    let port: Int
    private let process: Process
    private let stdin: Pipe

    /// Starts a plain HTTP server, or HTTPS with `cert`/`key`.
    convenience init(cert: String? = nil, key: String? = nil) throws {
        try TestEnvironment.prepare()
        try self.init(unprepared: cert, key: key)
    }

    /// Starts the server without touching the process environment (used to make the proxy of `TestEnvironment`).
    init(unprepared cert: String?, key: String?) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try TestTools.find("python3"))
        var arguments = [TestTools.supportFile("http_test_server.py")]
        if let cert, let key { arguments += ["--cert", cert, "--key", key] }
        process.arguments = arguments
        let out = Pipe(), stdin = Pipe()
        process.standardOutput = out
        process.standardInput = stdin
        try process.run()
        var line: [UInt8] = []
        while !line.contains(10) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("READY "), let port = Int(text.dropFirst(6)) else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw TestSetupError("http_test_server.py did not start (said \"\(text)\")")
        }
        self.port = port
        self.process = process
        self.stdin = stdin
    }

    /// Closing stdin makes the server exit by itself; SIGKILL is the backstop. Not `terminate()`: a child
    /// spawned from a Dispatch worker thread inherits its blocked SIGTERM, and `waitUntilExit` would hang.
    deinit {
        try? stdin.fileHandleForWriting.close()
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// `http://127.0.0.1:<port>` (or https).
    func url(_ path: String, https: Bool = false) -> String {
        "\(https ? "https" : "http")://127.0.0.1:\(port)\(path)"
    }
}

/// What /echo of the test server saw.
struct Echo: Decodable {
    var method: String
    var target: String
    var headers: [[String]]
    var body_hex: String
    var connection: Int

    init(_ response: HTTPResponse) throws {
        self = try JSONDecoder().decode(Echo.self, from: Data(response.body))
    }

    /// Every value the server received for header `name` (any case).
    func values(_ name: String) -> [String] {
        headers.filter { $0[0].lowercased() == name.lowercased() }.map { $0[1] }
    }

    var body: [UInt8] {
        var bytes: [UInt8] = []
        var i = body_hex.startIndex
        while i < body_hex.endIndex {
            let j = body_hex.index(i, offsetBy: 2)
            bytes.append(UInt8(body_hex[i..<j], radix: 16)!)
            i = j
        }
        return bytes
    }
}

/// Process-wide test setup that must happen before any thread reads the environment.
///
/// libcurl reads `http_proxy`/`no_proxy` with `getenv` on every transfer and
/// glibc's `setenv` is not safe against concurrent `getenv`, so the proxy
/// variables are set exactly once (a `static let` initialiser: other
/// callers wait) before any test makes an HTTP request or starts a process.
/// `http_proxy` points at a test server (it answers absolute-form targets
/// as any route), `no_proxy` keeps every other test's 127.0.0.1 traffic and
/// the `.invalid` DNS probe direct.
enum TestEnvironment {
    static let proxy: Result<TestServer, any Error> = Result {
        let server = try TestServer(unprepared: nil, key: nil)
        setenv("no_proxy", "127.0.0.1,localhost,::1,invalid", 1)
        setenv("http_proxy", "http://127.0.0.1:\(server.port)", 1)
        return server
    }

    static func prepare() throws {
        _ = try proxy.get()
    }
}

/// Certificates made with the `openssl` command for the HTTPS tests, once per test run.
///
/// Two unrelated CAs, A and B, each with a server certificate for
/// `IP:127.0.0.1`; and fake "system stores" holding only CA A: a hashed
/// folder (as /etc/ssl/certs) and a bundle (as ca-certificates.crt).
struct TLSFixture: Sendable {
    var caA: String, serverCertA: String, serverKeyA: String
    var caB: String, serverCertB: String, serverKeyB: String
    var hashedSystemDirectoryA: String
    var systemBundleA: String
    var emptyDirectory: String

    static let shared: Result<TLSFixture, any Error> = Result { try make() }

    static func get() throws -> TLSFixture { try shared.get() }

    /// The fixture's folder, removed when the test process exits.
    nonisolated(unsafe) private static var directory: String?

    private static func make() throws -> TLSFixture {
        let dir = try TestTools.temporaryDirectory("tls")
        directory = dir  // written once, inside the static let's initialiser
        atexit { if let dir = TLSFixture.directory { try? FileManager.default.removeItem(atPath: dir) } }
        try "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
            .write(toFile: dir + "/server.ext", atomically: true, encoding: .utf8)
        for name in ["A", "B"] {
            try TestTools.run("openssl", ["req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                          "-keyout", "ca\(name).key", "-out", "ca\(name).pem", "-days", "2",
                                          "-subj", "/CN=chekt-bridge test CA \(name)",
                                          "-addext", "basicConstraints=critical,CA:TRUE",
                                          "-addext", "keyUsage=critical,keyCertSign,cRLSign"], in: dir)
            try TestTools.run("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                          "-keyout", "server\(name).key", "-out", "server\(name).csr", "-subj", "/CN=127.0.0.1"], in: dir)
            try TestTools.run("openssl", ["x509", "-req", "-in", "server\(name).csr", "-CA", "ca\(name).pem", "-CAkey", "ca\(name).key",
                                          "-CAcreateserial", "-out", "server\(name).pem", "-days", "2", "-extfile", "server.ext"], in: dir)
        }
        let hashed = dir + "/system-hashed"
        try FileManager.default.createDirectory(atPath: hashed, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: dir + "/caA.pem", toPath: hashed + "/caA.pem")
        try TestTools.run("openssl", ["rehash", hashed])
        try FileManager.default.copyItem(atPath: dir + "/caA.pem", toPath: dir + "/system-bundle.crt")
        try FileManager.default.createDirectory(atPath: dir + "/system-empty", withIntermediateDirectories: true)
        return TLSFixture(caA: dir + "/caA.pem", serverCertA: dir + "/serverA.pem", serverKeyA: dir + "/serverA.key",
                          caB: dir + "/caB.pem", serverCertB: dir + "/serverB.pem", serverKeyB: dir + "/serverB.key",
                          hashedSystemDirectoryA: hashed, systemBundleA: dir + "/system-bundle.crt",
                          emptyDirectory: dir + "/system-empty")
    }
}

extension HTTPClient {
    /// A client for the tests: their own User-Agent, short limits so a failure does not stall the run.
    static func forTests(timeoutMs: Int = 10_000, caFile: String? = nil, maxResponseBytes: Int = 8 << 20,
                         systemCAFile: String? = nil, systemCADirectory: String? = nil) throws -> HTTPClient {
        try TestEnvironment.prepare()
        var options = HTTPClient.Options(userAgent: "chekt-bridge/test", connectTimeoutMs: 5_000, timeoutMs: timeoutMs,
                                         caFile: caFile, maxResponseBytes: maxResponseBytes)
        options.systemCAFile = systemCAFile
        options.systemCADirectory = systemCADirectory
        return try HTTPClient(options: options)
    }
}
