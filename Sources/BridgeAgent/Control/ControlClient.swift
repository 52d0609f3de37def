import BridgeSystem
import BridgeCore
import Glibc

/// The CLI's side of the control socket: one request, then one or more JSON lines back.
public final class ControlClient {
    public static let defaultSocketPath = "/run/chekt-bridge/control.sock"

    /// No agent answers at `path` (exit code 3).
    public struct NoAgent: Error, CustomStringConvertible {
        public var path: String
        public var reason: String

        public init(path: String, reason: String) { self.path = path; self.reason = reason }

        public var description: String {
            """
            no agent is answering on \(path) (\(reason)).
            Start one: chekt-bridge run --config /etc/chekt-bridge/config.json (or: systemctl start chekt-bridge),
            or point --socket PATH or CHEKT_BRIDGE_SOCKET at the socket of the agent that is running.
            """
        }
    }

    /// The socket is there but this user may not connect to it (EACCES, EPERM): an agent is most likely running,
    /// and the fix is group membership or sudo, never starting another agent (exit code 2: a setup problem).
    public struct AccessDenied: Error, CustomStringConvertible {
        public var path: String
        /// `srw-rw---- root:chekt-bridge`, or why the socket could not be looked at.
        public var socket: String
        /// The socket's group when one can be joined (not root's), e.g. `chekt-bridge`.
        public var group: String?

        /// One line for `doctor`.
        public var summary: String {
            "permission denied on \(path) (\(socket)) for uid \(getuid()): an agent is likely running; "
                + "fix: " + fix
        }

        var fix: String {
            if let group { return "add this user to the socket's group (sudo adduser $USER \(group), then log in again), or run the command with sudo" }
            // Root's group: nobody should be added to it. The agent gives its socket to chekt-bridge when that group exists.
            return "run the command with sudo, or create the group (sudo addgroup --system chekt-bridge), restart the agent, "
                + "and add this user to it (sudo adduser $USER chekt-bridge, then log in again)"
        }

        public var description: String {
            """
            permission denied on \(path) (\(socket)): an agent is likely running, but uid \(getuid()) may not use its socket.
            Fix: \(fix).
            """
        }

        init(path: String) {
            self.path = path
            var st = stat()
            guard stat(path, &st) == 0 else {
                socket = "a folder on the way to it is not searchable: \(Posix.describe(errno))"
                return
            }
            let groupName = EtcGroup.name(of: st.st_gid)
            socket = "\(Self.modeString(st.st_mode)) uid \(st.st_uid), group \(groupName ?? String(st.st_gid))"
            group = st.st_gid == 0 ? nil : groupName
        }

        /// `srw-rw----`.
        static func modeString(_ mode: mode_t) -> String {
            let kind: Character = mode & S_IFMT == S_IFSOCK ? "s" : mode & S_IFMT == S_IFDIR ? "d" : "-"
            let letters = Array("rwxrwxrwx")
            return String(kind) + String((0..<9).map { mode & (0o400 >> mode_t($0)) != 0 ? letters[$0] : "-" })
        }
    }

    private let fd: Int32
    private var reader: LineReader

    /// Connects to the agent's socket; throws `AccessDenied` when this user may not, else `NoAgent`.
    public init(path: String) throws {
        do { fd = try UnixSocket.connect(path) } catch {
            if error.errno == EACCES || error.errno == EPERM { throw AccessDenied(path: path) }
            throw NoAgent(path: path, reason: Posix.describe(error.errno))
        }
        reader = LineReader(fd: fd)
    }

    deinit { close(fd) }

    /// An answer the agent sent before the request could be written (a `busy` refusal), for `next()`.
    private var early: JSONObject?

    /// Sends one request line. False when it could not be written and the agent said nothing either.
    ///
    /// The agent may answer and hang up before reading anything (32 clients are connected already: `busy`).
    /// Writing then fails with EPIPE, never SIGPIPE (`MSG_NOSIGNAL`: the tools must not die of it), and the
    /// answer already waiting is kept for `next()`, so the caller shows the agent's reason and its exit code.
    public func send(_ request: JSONObject) -> Bool {
        let bytes = JSONValue.object(request).encoded() + [10]
        var offset = 0
        let written = bytes.withUnsafeBytes { buf in
            while offset < buf.count {
                let n = Posix.retrying { Glibc.send(fd, buf.baseAddress! + offset, buf.count - offset, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { return false }
                offset += n
            }
            return true
        }
        if written { return true }
        early = next()
        return early != nil
    }

    /// The next answer line; nil when the agent closed the connection.
    public func next() -> JSONObject? {
        if let answer = early { early = nil; return answer }
        guard let line = reader.next() else { return nil }
        return (try? JSONValue.decode(line))?.objectValue
    }

    /// One request, one answer.
    public func call(_ request: JSONObject) -> JSONObject? {
        guard send(request) else { return nil }
        return next()
    }
}
