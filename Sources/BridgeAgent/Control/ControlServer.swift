import BridgeSystem
import BridgeCore
import BridgeStore
import Glibc

/// What the control server needs of the running agent.
public protocol ControlTarget: AnyObject, Sendable {
    func post(_ message: RuntimeMessage)
    var journal: Journal { get }
    var feed: ChangeFeed { get }
}

extension Runtime: ControlTarget {}

/// The control socket: JSON lines over a Unix stream socket (docs/control-socket.md).
///
/// One thread accepts; each client gets a thread of its own, so a slow or
/// stuck client never holds up the runtime loop. Operations that need the
/// engine are posted to the loop and answered once what they recorded is durable.
public final class ControlServer: @unchecked Sendable {
    public let path: String
    private let fd: Int32
    private let target: any ControlTarget
    private let watchClock: any WatchClock

    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Creates the socket 0660 (and its folder, 0755, if missing). Refuses when another agent answers there, and
    /// when something other than a socket is at `path`; replaces only a socket nobody listens on (an agent that died).
    /// `watchClock` paces `inputs --watch`.
    public init(path: String, target: any ControlTarget, watchClock: any WatchClock = MonotonicWatchClock()) throws(StartError) {
        self.path = path
        self.target = target
        self.watchClock = watchClock
        try Self.clearStaleSocket(at: path)
        let folder = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if !folder.isEmpty { mkdir(folder, 0o755) }
        let oldMask = umask(0o117)
        defer { umask(oldMask) }
        do { fd = try UnixSocket.listen(path) } catch {
            throw StartError(description: "cannot create the control socket: \(error)")
        }
        chmod(path, 0o660)
        if let gid = EtcGroup.id(named: "chekt-bridge") {
            chown(path, getuid(), gid)
        } else {
            Log.info("no group chekt-bridge on this system: only uid \(getuid()) and root can use the control socket \(path)")
        }
    }

    /// Removes the socket at `path` when it is stale. Nothing there: nothing to do. A live agent, a file that is not a
    /// socket (a mistyped `--socket` must not destroy it), or a socket this user may not use: refused.
    static func clearStaleSocket(at path: String) throws(StartError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw StartError(description: "\(path) exists and is not a socket; remove it if it is not needed, or give the agent another --socket PATH")
        }
        let live: Int32
        do { live = try UnixSocket.connect(path) } catch {
            switch error.errno {
            case ECONNREFUSED: unlink(path)  // nobody listens: the socket of an agent that died
            case ENOENT: break  // gone meanwhile
            default: throw StartError(description: "cannot check whether an agent answers on \(path): \(error)")
            }
            return
        }
        close(live)
        throw StartError(description: "another agent is already answering on \(path); stop it first, or give this one --socket PATH")
    }

    public func start() {
        Posix.spawnThread(name: "control-accept") { [self] in acceptLoop() }
    }

    /// Removes the socket file (at shutdown).
    public func remove() { unlink(path); close(fd) }

    /// Clients served at once. Each holds a thread (blocked on its socket) until it hangs up; the tools use one
    /// each, so this is far beyond what technicians need, and far below what would exhaust threads or address
    /// space on a 32-bit board or under a unit's `TasksMax=`.
    public static let maximumClients = 32
    /// A client thread's stack: requests are one line, and the JSON reader's nesting limit fits in it many times.
    static let clientStackBytes = 1 << 20
    /// A client must send its request within this, and read what it is sent within this.
    static let clientTimeoutMs = 10_000

    private let clients = Condition()
    private var clientCount = 0

    private func acceptLoop() {
        while true {
            let client = Posix.retrying { accept(fd, nil, nil) }
            if client < 0 {
                let e = errno
                if e == EBADF || e == EINVAL || e == ENOTSOCK { return }
                // Out of descriptors or memory: wait for clients to go rather than spin on a core.
                if e == EMFILE || e == ENFILE || e == ENOMEM || e == ENOBUFS { usleep(100_000) }
                continue
            }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            UnixSocket.setTimeouts(client, ms: Self.clientTimeoutMs)
            clients.lock()
            let admitted = clientCount < Self.maximumClients
            if admitted { clientCount += 1 }
            clients.unlock()
            guard admitted else {
                refuse(client, "\(Self.maximumClients) clients are connected already; try again when one has finished")
                continue
            }
            let rc = Posix.startThread(name: "control-client", stackBytes: Self.clientStackBytes) { [self] in
                serve(client)
                // The slot is free once the client is answered and closed; the heap is trimmed after (an `events`
                // query may have read thousands of events). Counted with the trim, a tool run in a loop was refused
                // busy with 6 clients at a time: threads still trimming after their client had gone held the slots.
                clientFinished()
                Heap.trim()
            }
            if rc != 0 {
                clientFinished()
                refuse(client, "the agent cannot start a thread for this client now (\(Posix.describe(rc))); try again later")
            }
        }
    }

    private func clientFinished() {
        clients.lock(); clientCount -= 1; clients.unlock()
    }

    /// Answers a client that is not served `busy` and hangs up: its socket buffer is empty, so this never blocks
    /// (and the send timeout bounds it anyway).
    private func refuse(_ client: Int32, _ message: String) {
        send(client, failure("busy", message, exit: 1))
        close(client)
    }

    private func serve(_ client: Int32) {
        defer { close(client) }
        var reader = LineReader(fd: client)
        guard let line = reader.next() else { return }
        let uid = UnixSocket.peerUID(client)
        let request: ControlRequest
        switch ControlRequest.parse(line) {
        case .success(let r): request = r
        case .failure(let refusal):
            send(client, failure("bad_request", refusal.message, exit: 2))
            return
        }
        switch request {
        case .status: send(client, ask(.status, uid: uid))
        case .inputs(let watch):
            if watch { watchInputs(client, uid: uid) } else { send(client, ask(.inputs, uid: uid)) }
        case .request(.success(let r)): send(client, ask(.request(r), uid: uid))
        case .request(.failure(let e)): send(client, ["ok": true, "result": .object(e.result.json)])
        case .simInput(let input, let active): send(client, ask(.simInput(input, active: active), uid: uid))
        case .simDevice(let device, let online): send(client, ask(.simDevice(device, online: online), uid: uid))
        case .events(let query): streamEvents(client, query)
        }
    }

    private func ask(_ operation: ControlOperation, uid: UInt32?) -> JSONObject {
        let answer = OneShot<JSONObject>()
        target.post(.control(operation, uid: uid, reply: { answer.fulfil($0) }))
        return answer.wait()
    }

    @discardableResult
    private func send(_ client: Int32, _ object: JSONObject) -> Bool {
        Posix.writeAll(client, JSONValue.object(object).encoded() + [10])
    }

    /// `{"op":"events","since":N,"last":N,"follow":bool}`: `{"event":{...}}` lines, then `{"ok":true,"end":true}`
    /// (or, following, more lines as events are recorded until the client goes away).
    private func streamEvents(_ client: Int32, _ query: ControlRequest.EventQuery) {
        let journal = target.journal
        let follow = query.follow
        // Both are range-checked (ControlRequest): since >= 0, 0 <= last <= 100000, lastSeq >= 0.
        var after = query.since.map { max(0, $0 - 1) } ?? max(0, journal.lastSeq - query.last)
        var seen = target.feed.current
        while true {
            do {
                while true {
                    let batch = try journal.events(after: after, limit: 500)
                    for event in batch {
                        guard send(client, ["event": event.json]) else { return }
                        after = event.seq
                    }
                    if batch.count < 500 { break }
                }
            } catch {
                send(client, failure("store_error", "cannot read the journal: \(error)", exit: 1))
                return
            }
            guard follow else { send(client, ["ok": true, "end": true]); return }
            seen = waitForChange(client, seen: seen)
            if seen == .max { return }
        }
    }

    /// The shortest time between two tables of `inputs --watch`.
    static let watchIntervalMs: Int32 = 100

    /// `{"op":"inputs","watch":true}`: a table now, then one after each change, at most one every `watchIntervalMs`:
    /// a change that comes sooner after a table is shown, with any that follow it, in the next one. A first change
    /// after a quiet spell is shown at once. Without the bound an input chattering at 1 kHz made about 1,600 tables a
    /// second, each a request to the runtime loop (docs/reliability.md, "Floods and starvation").
    private func watchInputs(_ client: Int32, uid: UInt32?) {
        var seen = target.feed.current
        while true {
            let sentAt = watchClock.nowMs()  // before the table is asked for: its changes are those up to here
            guard send(client, ask(.inputs, uid: uid)) else { return }
            seen = waitForChange(client, seen: seen)
            if seen == .max { return }
            let due = sentAt + Int64(Self.watchIntervalMs)
            if watchClock.nowMs() < due {
                // Changes in the meantime go into the next table; a client that hangs up meanwhile is let go.
                guard watchClock.hold(client, untilMs: due) else { return }
                seen = target.feed.current
            }
        }
    }

    /// Waits for the feed to move on; `.max` when the client hung up meanwhile.
    private func waitForChange(_ client: Int32, seen: UInt64) -> UInt64 {
        while true {
            let now = target.feed.wait(after: seen, timeoutMs: 1000)
            var p = pollfd(fd: client, events: Int16(POLLIN | pollRDHUP), revents: 0)
            if poll(&p, 1, 0) > 0 && (p.revents & Int16(POLLHUP | pollRDHUP | POLLERR)) != 0 { return .max }
            if now != seen { return now }
        }
    }
}
