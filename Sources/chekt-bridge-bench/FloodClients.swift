// flood-clients: 100 control-socket clients at once, plus clients that send 10 MB without a newline
// (docs/reliability.md, "Floods and starvation"; the limits are docs/control-socket.md's).
import BridgeCore
import BridgeSystem
import Glibc
import Synchronization

/// One exchange on the control socket with a client of the bench's own: connect, send `request` (one write loop,
/// `MSG_NOSIGNAL`), read until the agent hangs up or `timeoutMs` passes without a byte.
struct RawExchange {
    var answer: [UInt8] = []
    var sent = 0
    var timedOut = false
    var connectFailed = false
    /// errno of the send that failed (EPIPE, ECONNRESET: the agent hung up first), 0 when all was sent.
    var sendErrno: Int32 = 0

    var lines: [JSONValue] {
        answer.split(separator: 10).compactMap { try? JSONValue.decode($0) }
    }

    init(socket: String, request: [UInt8], timeoutMs: Int = 30_000) {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(socket.utf8)
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in Posix.retrying { connect(fd, sa, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        }
        guard rc == 0 else { connectFailed = true; return }
        var tv = timeval(tv_sec: timeoutMs / 1000, tv_usec: (timeoutMs % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        request.withUnsafeBytes { buf in
            while sent < buf.count {
                let n = Posix.retrying { send(fd, buf.baseAddress! + sent, min(65536, buf.count - sent), Int32(MSG_NOSIGNAL)) }
                if n <= 0 { sendErrno = n < 0 ? errno : 0; if sendErrno == EAGAIN { timedOut = true }; return }
                sent += n
            }
        }
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = Posix.retrying { read(fd, &chunk, chunk.count) }
            if n > 0 { answer += chunk[0..<n]; continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { timedOut = true }
            return  // 0: hung up; ECONNRESET: hung up with our unread bytes in its queue
        }
    }
}

/// Starts `count` threads that wait for `go()` and then run `body(i)`; `wait()` returns their results in order.
final class Crowd<T: Sendable>: @unchecked Sendable {
    private let condition = Condition()
    private var started = false
    private var results: [Int: T] = [:]
    private let count: Int

    init(_ count: Int, name: String, _ body: @escaping @Sendable (Int) -> T) {
        self.count = count
        for i in 0..<count {
            guard Posix.startThread(name: name, stackBytes: 256 << 10, { [self] in
                condition.lock()
                while !started { condition.wait() }
                condition.unlock()
                let r = body(i)
                condition.lock(); results[i] = r; condition.broadcast(); condition.unlock()
            }) == 0 else { fatalError("cannot start \(count) threads") }
        }
    }

    func go() { condition.lock(); started = true; condition.broadcast(); condition.unlock() }

    func wait() -> [T] {
        condition.lock(); defer { condition.unlock() }
        while results.count < count { condition.wait() }
        return (0..<count).map { results[$0]! }
    }
}

/// What one of the crowd's clients went through.
struct ClientOutcome: Sendable {
    var attempts = 0
    var busy = 0
    var served = false
    var hung = false
    var problem: String?
    var ms = 0.0
}

/// 100 clients at once, each with one request (status, inputs, events, a relay pulse), retrying after `busy`; one
/// more sends a 10 MB line. Then 40 clients at once that each send 10 MB: the worst the limits allow (32 lines of
/// up to 1 MiB held at once). Checks: every client answered correctly in the end, none hangs, the long lines are
/// cut off as documented (the agent hangs up without answering), nothing of theirs runs, memory comes back.
func benchFloodClients(quick: Bool) throws -> [String] {
    let v = Violations()
    let clients = 100
    signal(SIGPIPE, SIG_IGN)
    say("flood-clients: \(clients) control-socket clients at once (the agent serves 32 at a time) and one sending 10 MB without a newline")
    let dir = tempDir("flood-clients")
    let socket = dir + "/control.sock"
    let agent = spawnAgent(stateDir: dir + "/state", socket: socket)
    defer { stop(agent) }
    discardOutput(of: agent)
    try awaitAgent(socket)
    usleep(500_000)
    let rssBefore = statusKB(agent.pid), anonBefore = statusKB(agent.pid, "RssAnon")
    let sampler = MemorySampler(pid: agent.pid)
    let huge = Array(#"{"op":"request","type":"relay.pulse","params":{"relay":""#.utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: 10 << 20)

    let requests: [JSONObject] = [
        ["op": "status"], ["op": "inputs"], ["op": "events", "since": 1],
        ["op": "request", "type": "relay.pulse", "params": ["relay": "door_strike", "duration_ms": 50]],
    ]
    /// The request's answer is the right one: nil, or what is wrong with it.
    @Sendable func wrongAnswer(_ i: Int, _ lines: [JSONValue]) -> String? {
        guard let first = lines.first else { return "no answer" }
        switch i % 4 {
        case 0: return first["ok"] == .bool(true) && first["status"]?["partitions"] != nil ? nil : "status: \(first)"
        case 1: return first["ok"] == .bool(true) && first["inputs"]?.arrayValue?.count == 4 ? nil : "inputs: \(first)"
        case 2: return lines.last == ["end": true, "ok": true] && lines.dropLast().allSatisfy({ $0["event"] != nil }) ? nil : "events: \(lines.count) lines"
        default: return first["ok"] == .bool(true) && first["result"]?["status"] == "succeeded" ? nil : "relay.pulse: \(first)"
        }
    }
    let crowd = Crowd<ClientOutcome>(clients + 1, name: "bench-client") { i in
        var outcome = ClientOutcome()
        let t0 = monoNanos()
        if i == clients {
            // Refused busy like any other client while 32 are served: then it tries again.
            var x = RawExchange(socket: socket, request: huge)
            outcome.attempts = 1
            while x.lines.first?["code"] == "busy" && outcome.attempts < 1000 {
                outcome.attempts += 1
                usleep(UInt32(min(outcome.attempts, 20)) * 2000)
                x = RawExchange(socket: socket, request: huge)
            }
            outcome.ms = ms(t0)
            outcome.hung = x.timedOut
            outcome.served = true
            outcome.problem = x.answer.isEmpty ? nil : "the 10 MB line was answered: \(String(decoding: x.answer.prefix(200), as: UTF8.self))"
            outcome.busy = x.sent  // bytes the agent took before hanging up
            return outcome
        }
        let line = JSONValue.object(requests[i % 4]).encoded() + [10]
        while outcome.attempts < 1000 {
            outcome.attempts += 1
            let x = RawExchange(socket: socket, request: line)
            if x.timedOut { outcome.hung = true; break }
            let lines = x.lines
            if lines.count == 1, lines[0]["code"] == "busy" {
                outcome.busy += 1
                usleep(UInt32(min(outcome.attempts, 20)) * 2000)
                continue
            }
            outcome.problem = wrongAnswer(i, lines)
            outcome.served = outcome.problem == nil
            break
        }
        outcome.ms = ms(t0)
        return outcome
    }
    crowd.go()
    let outcomes = crowd.wait()
    usleep(1_000_000)
    let (peakRSS, peakAnon) = sampler.stop()
    let rssAfter = statusKB(agent.pid), anonAfter = statusKB(agent.pid, "RssAnon")
    let normal = Array(outcomes.prefix(clients))
    let long = outcomes[clients]
    for (i, o) in normal.enumerated() {
        if o.hung { v.add("client \(i) hung (no answer within 30 s)") }
        if let p = o.problem { v.add("client \(i): \(p)") }
        if !o.served && o.problem == nil && !o.hung { v.add("client \(i): refused busy \(o.busy) times, never served") }
    }
    v.check(!long.hung, "the 10 MB client hung")
    if let p = long.problem { v.add(p) }
    let first = normal.filter { $0.served && $0.attempts == 1 }.count
    let retried = normal.filter { $0.served && $0.attempts > 1 }
    say("  \(normal.filter(\.served).count) of \(clients) served: \(first) at the first attempt, \(retried.count) after being refused busy "
        + "(\(normal.map(\.busy).reduce(0, +)) busy answers in all, at most \(normal.map(\.attempts).max() ?? 0) attempts for one client); hung: \(normal.filter(\.hung).count)")
    say("  time from the start to the answer: \(spread(normal.map(\.ms)))")
    say("  the 10 MB line (attempt \(long.attempts)): cut off after the agent took \(long.busy / 1024) KiB of it, \(fmt(long.ms, 1)) ms after it began, with no answer (docs/control-socket.md: a line is at most 1 MiB)")
    say("  agent memory: VmRSS \(mb(rssBefore)) -> peak \(mb(peakRSS)) -> \(mb(rssAfter)) a second later; private (RssAnon) \(mb(anonBefore)) -> peak \(mb(peakAnon)) -> \(mb(anonAfter))")

    // The worst case the limits allow: 40 clients that each send 10 MB, at once.
    let sampler2 = MemorySampler(pid: agent.pid)
    let liars = Crowd<RawExchange>(40, name: "bench-liar") { _ in RawExchange(socket: socket, request: huge) }
    let t0 = monoNanos()
    liars.go()
    let cut = liars.wait()
    let liarsMs = ms(t0)
    usleep(1_000_000)
    let (peakRSS2, peakAnon2) = sampler2.stop()
    let anonAfter2 = statusKB(agent.pid, "RssAnon")
    let answeredBusy = cut.filter { $0.lines.first?["code"] == "busy" }.count
    let silent = cut.filter { $0.answer.isEmpty && !$0.timedOut }.count
    v.check(cut.allSatisfy { !$0.timedOut }, "\(cut.filter(\.timedOut).count) of the 40 long-line clients hung")
    v.check(silent + answeredBusy == 40, "of 40 long lines, \(silent) cut off and \(answeredBusy) refused busy: \(40 - silent - answeredBusy) answered otherwise")
    // 32 lines held at once, each read in 64 KiB reads up to just over 1 MiB, plus the 32 threads' stacks: 96 MiB at most.
    let bound = 32 * 3 * 1024
    v.check(peakAnon2 - anonBefore <= bound, "private memory grew by \(mb(peakAnon2 - anonBefore)) with 40 long lines at once (bound \(mb(bound)))")
    // Given back once they are gone (before Heap.fixMmapThreshold, 20-28 MB stayed in the client threads' arenas).
    v.check(anonAfter2 - anonBefore <= 8 * 1024, "private memory \(mb(anonAfter2 - anonBefore)) above the start a second after the long lines were cut off")
    say("  40 clients each sending 10 MB at once: \(silent) cut off, \(answeredBusy) refused busy, in \(fmt(liarsMs, 0)) ms; "
        + "VmRSS peak \(mb(peakRSS2)), private peak \(mb(peakAnon2)) (bound: 32 lines of 1 MiB and their threads), \(mb(anonAfter2)) a second later")

    // Still answering, and nothing the long lines asked for ran.
    v.check(controlCall(socket, ["op": "status"])?["ok"] == .bool(true), "the agent no longer answers status")
    let ran = try journalEvents(socket).filter { $0["type"]?.stringValue == "relay.activated" && $0["data"]?["relay"]?.stringValue != "door_strike" }
    v.check(ran.isEmpty, "a long line's request ran: \(ran.prefix(3))")
    v.check(kill(agent.pid, 0) == 0, "the agent died")
    return v.all
}
