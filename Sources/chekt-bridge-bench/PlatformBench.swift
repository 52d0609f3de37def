// Benchmarks of the platform link against the reference platform (Tools/platform-sim), all on 127.0.0.1.
import BridgeAgent
import BridgeCore
import BridgeStore
import BridgeSystem
import BridgeUplink
import Glibc

let platformBinary: String = {
    for build in ["release", "debug"] {
        let path = repoRoot + "/Tools/platform-sim/.build/\(build)/platform-sim"
        if access(path, X_OK) == 0 { return path }
    }
    say("the reference platform is not built: (cd Tools/platform-sim && swift build -c release)")
    exit(1)
}()

/// Starts platform-sim on a free port with fresh credentials in `dir`; returns it and its port.
func startPlatform(dir: String) -> (Child, Int) {
    let creds = dir + "/credentials.json"
    let fd = open(creds, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    Posix.writeAll(fd, Array(#"{"api_key": "key_bench_0123456789", "signing_secret": "secret_bench_0123456789abcdef"}"#.utf8))
    close(fd)
    let platform = spawn([platformBinary, "--port", "0", "--bridge", "brg_bench:\(creds)", "--quiet"], output: 1)
    let text = firstLine(of: platform)
    guard let port = text.split(separator: ":").last.flatMap({ Int($0) }) else {
        say("platform-sim did not start: \(text)")
        exit(1)
    }
    return (platform, port)
}

func writePlatformConfig(dir: String, port: Int, tls caFile: String? = nil) -> String {
    let upstream = caFile.map { #""url": "https://127.0.0.1:\#(port)/v1", "ca_file": "\#($0)""# } ?? #""url": "http://127.0.0.1:\#(port)/v1""#
    let config = """
    {"bridge": {"id": "brg_bench", "board": "\(repoRoot)/boards/rpi-relay-3ch.json", "state_dir": "\(dir)/state"},
     "upstream": {\(upstream), "credentials": "\(dir)/credentials.json", "heartbeat_s": 60},
     "partitions": [{"id": "main", "exit_delay_s": 0, "entry_delay_s": 10}],
     "zones": [{"id": "front_door", "input": "in1", "partition": "main", "type": "entry_exit"}],
     "relays": [{"id": "door_strike", "output": "out1", "mode": "pulse", "pulse_ms": 50, "max_on_ms": 10000}]}
    """
    let path = dir + "/config.json"
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    Posix.writeAll(fd, Array(config.utf8))
    close(fd)
    return path
}

func admin(_ client: HTTPClient, port: Int, _ method: String, _ path: String, _ body: JSONValue? = nil) throws -> JSONValue? {
    let response = try client.perform(HTTPRequest(method: method, url: "http://127.0.0.1:\(port)/admin\(path)",
                                                  headers: [("Content-Type", "application/json")], body: body?.encoded() ?? []))
    return try? JSONValue.decode(response.body)
}

/// A 100,000-event backlog recorded while the platform was unknown, then drained.
func benchDrain(events count: Int) throws {
    let dir = tempDir("drain")
    // The backlog: recorded straight into the agent's journal, as an outage would leave it.
    do {
        let journal = try Journal(directory: dir + "/state/journal", maxBytes: 64 << 20)
        var drafts: [EventDraft] = []
        for i in 0..<count {
            drafts.append(EventDraft(type: i % 2 == 0 ? "zone.faulted" : "zone.restored", occurredAt: 1_800_000_000_000 + Int64(i),
                                     data: ["zone": "front_door", "partition": "main", "input": "in1"]))
            if drafts.count == 1000 { _ = try journal.append(drafts); drafts.removeAll() }
        }
        journal.close()
    }
    let (platform, port) = startPlatform(dir: dir)
    defer { stop(platform) }
    let config = writePlatformConfig(dir: dir, port: port)
    let client = try HTTPClient(options: .init(userAgent: "bench"))
    let t0 = monoNanos()
    let agent = spawnAgent(stateDir: dir + "/state", socket: dir + "/control.sock", config: config)
    defer { stop(agent) }
    discardOutput(of: agent)
    var received = 0
    while received < count {
        usleep(100_000)
        received = try admin(client, port: port, "GET", "/bridges/brg_bench/events?limit=1")?["total"]?.intValue.map(Int.init)
            ?? admin(client, port: port, "GET", "/bridges/brg_bench/events")?["events"]?.arrayValue?.count ?? 0
        if Double(monoNanos() - t0) / 1e9 > 120 { break }
    }
    let s = Double(monoNanos() - t0) / 1e9
    say("drain: \(count)-event backlog to the reference platform (\(platformBinary.contains("/release/") ? "release" : "debug") build) over HTTP on 127.0.0.1")
    say("  \(received) events delivered in \(fmt(s, 1)) s = \(Int(Double(received) / s)) events/s (target: 100,000 in <= 20 s)")
}

/// The agent against a fresh reference platform in its own folder, its log discarded; an admin client for the
/// platform and a follower of the agent's journal on its control socket, the long-poll open. nil (said why) when
/// the agent does not answer. `shutDown()` ends both processes.
struct LinkedAgent {
    let dir: String
    let port: Int
    let platform: Child
    let agent: Child
    let client: HTTPClient
    let follower: ControlClient

    static func start(_ tag: String) throws -> LinkedAgent? {
        let dir = tempDir(tag)
        let (platform, port) = startPlatform(dir: dir)
        let config = writePlatformConfig(dir: dir, port: port)
        let agent = spawnAgent(stateDir: dir + "/state", socket: dir + "/control.sock", config: config)
        discardOutput(of: agent)
        var follower: ControlClient?
        for _ in 0..<100 where follower == nil {
            follower = try? ControlClient(path: dir + "/control.sock")
            if follower == nil { usleep(50_000) }
        }
        guard let follower, follower.send(["op": "events", "follow": true, "last": 0]) else {
            say("no agent")
            stop(agent)
            stop(platform)
            return nil
        }
        usleep(1_500_000)  // the long-poll is open
        return LinkedAgent(dir: dir, port: port, platform: platform, agent: agent,
                           client: try HTTPClient(options: .init(userAgent: "bench")), follower: follower)
    }

    func shutDown() {
        stop(agent)
        stop(platform)
    }

    /// Enqueues a 20 ms `relay.activate` of door_strike on the platform; its command id.
    func enqueuePulse() throws -> String {
        guard let command = try admin(client, port: port, "POST", "/bridges/brg_bench/commands",
                                      ["type": "relay.activate", "params": ["relay": "door_strike", "duration_ms": 20]]),
              let id = command["id"]?.stringValue else { say("enqueue failed"); exit(1) }
        return id
    }

    /// Waits for the agent's next event of `type` (and, if given, for command `id`).
    func awaitEvent(_ type: String, command id: String? = nil) {
        while let line = follower.next() {
            guard line["event"]?["type"]?.stringValue == type else { continue }
            if id == nil || line["event"]?["data"]?["command_id"]?.stringValue == id { return }
        }
    }
}

/// Command released by the platform → relay output changed, seen as its relay.activated event.
func benchCommand(samples: Int) throws {
    guard let linked = try LinkedAgent.start("command") else { return }
    defer { linked.shutDown() }
    var latencies: [Double] = []
    for _ in 0..<samples {
        let t0 = monoNanos()
        linked.awaitEvent("relay.activated", command: try linked.enqueuePulse())
        latencies.append(Double(monoNanos() - t0) / 1e6)
        usleep(60_000)
    }
    latencies.sort()
    say("command: platform admin enqueue -> long-poll answer -> verified, ledgered, executed -> relay.activated fsync'd (\(samples) samples)")
    say("  p50 \(fmt(percentile(latencies, 50))) ms, p99 \(fmt(percentile(latencies, 99))) ms, max \(fmt(latencies.last ?? 0)) ms (target p99 <= 20 ms)")
}

/// HTTPS in front of the reference platform, as a bridge meets it: a self-signed certificate for 127.0.0.1 made
/// with the `openssl` command and a `socat` TLS terminator on a free port. Returns socat and the port; the
/// certificate is `dir/tls-cert.pem` (the agent's `upstream.ca_file`).
func startTLSTerminator(dir: String, platformPort: Int) -> (Child, Int) {
    let openssl = spawn(["/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                         "-keyout", dir + "/tls-key.pem", "-out", dir + "/tls-cert.pem", "-days", "2",
                         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
    var status: Int32 = 0
    waitpid(openssl.pid, &status, 0)
    close(openssl.stderrFD)
    guard status == 0 else { say("openssl could not make a test certificate (apt-get install openssl)"); exit(1) }
    let port = freeLoopbackPort()
    let socat = spawn(["/usr/bin/socat", "openssl-listen:\(port),bind=127.0.0.1,reuseaddr,fork,cert=\(dir)/tls-cert.pem,key=\(dir)/tls-key.pem,verify=0",
                       "tcp:127.0.0.1:\(platformPort)"])
    for _ in 0..<100 where !acceptsConnections(port: port) { usleep(50_000) }
    guard acceptsConnections(port: port) else { say("socat did not start (apt-get install socat)"); exit(1) }
    return (socat, port)
}

/// A port the kernel just handed out on 127.0.0.1 (free again once closed; fine for a benchmark).
func freeLoopbackPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = loopback(port: 0)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = bind(fd, $0, length); _ = getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

func acceptsConnections(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = loopback(port: port)
    return withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}

func loopback(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    return address
}

/// Private memory of a working agent, before and after a run of platform commands and then of input changes: a leak
/// check, and the price of what is kept on purpose (the command ledger remembers every id for 7 days).
func benchGrowth(commands: Int, inputChanges: Int) throws {
    guard let linked = try LinkedAgent.start("growth") else { return }
    defer { linked.shutDown() }
    func runCommands(_ n: Int) throws {
        for _ in 0..<n { linked.awaitEvent("relay.activated", command: try linked.enqueuePulse()) }
    }
    func changeInputs(_ n: Int) {
        for i in 0..<n {
            // One request per connection (docs/control-socket.md).
            guard let control = try? ControlClient(path: linked.dir + "/control.sock"),
                  control.call(["op": "sim.input", "input": "in1", "active": .bool(i % 2 == 0)])?["ok"] == true else {
                say("sim.input failed"); exit(1)
            }
            linked.awaitEvent(i % 2 == 0 ? "zone.faulted" : "zone.restored")
        }
    }
    func settledPrivateKB() -> Int { usleep(500_000); return statusKB(linked.agent.pid, "RssAnon") }
    try runCommands(100)  // warm-up: arenas, caches and buffers reach their working size
    changeInputs(100)
    let before = settledPrivateKB()
    try runCommands(commands)
    let afterCommands = settledPrivateKB()
    changeInputs(inputChanges)
    let afterInputs = settledPrivateKB()
    say("growth: private (anonymous) memory of the agent over \(commands) platform commands, then \(inputChanges) input changes")
    say("  \(before) kB -> \(afterCommands) kB after the commands: \((afterCommands - before) * 1024 / commands) bytes per command (the command ledger keeps each id 7 days)")
    say("  -> \(afterInputs) kB after the input changes: \((afterInputs - afterCommands) * 1024 / inputChanges) bytes per input change (nothing is kept: expect about 0)")
}
