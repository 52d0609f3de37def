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
        public var description: String {
            """
            no agent is answering on \(path) (\(reason)).
            Start one: chekt-bridge run --config /etc/chekt-bridge/config.json (or: systemctl start chekt-bridge),
            or point --socket PATH or CHEKT_BRIDGE_SOCKET at the socket of the agent that is running.
            """
        }
    }

    private let fd: Int32
    private var reader: LineReader

    public init(path: String) throws(NoAgent) {
        do { fd = try UnixSocket.connect(path) } catch {
            throw NoAgent(path: path, reason: Posix.describe(error.errno))
        }
        reader = LineReader(fd: fd)
    }

    deinit { close(fd) }

    /// Sends one request line.
    public func send(_ request: JSONObject) -> Bool {
        Posix.writeAll(fd, JSONValue.object(request).encoded() + [10])
    }

    /// The next answer line; nil when the agent closed the connection.
    public func next() -> JSONObject? {
        guard let line = reader.next() else { return nil }
        return (try? JSONValue.decode(line))?.objectValue
    }

    /// One request, one answer.
    public func call(_ request: JSONObject) -> JSONObject? {
        guard send(request) else { return nil }
        return next()
    }
}
