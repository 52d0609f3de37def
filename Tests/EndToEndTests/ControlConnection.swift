import Foundation
import Glibc

/// One raw connection to an agent's control socket: for lines the tools never send, and for holding a
/// connection open as a stuck or hostile client would.
///
/// Every blocking call is bounded (`SO_RCVTIMEO`/`SO_SNDTIMEO`, which also bound `connect` on a Unix socket), so a
/// test fails instead of hanging. Closed in `deinit` if the test did not close it.
final class ControlConnection {
    private(set) var fd: Int32 = -1
    let path: String

    init(_ path: String, timeoutMs: Int = 5000) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw E2EFailure("socket(AF_UNIX): \(String(cString: strerror(errno)))") }
        var tv = timeval(tv_sec: timeoutMs / 1000, tv_usec: (timeoutMs % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close()
            throw E2EFailure("socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            close()
            throw E2EFailure("connect(\(path)): \(String(cString: strerror(e)))")
        }
    }

    deinit { close() }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// Sends `line` and its newline.
    func send(_ line: String) throws {
        var bytes = Array(line.utf8) + [10]
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw E2EFailure("send to \(path): \(String(cString: strerror(errno)))")
            }
            sent += n
        }
    }

    /// Everything the agent sends until it hangs up; fails when it has not hung up within `timeout` seconds.
    func readToEnd(timeout: Double = 10) throws -> String {
        var data: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            guard Date() < deadline else {
                throw E2EFailure("\(path): the agent did not hang up within \(timeout) s; received so far: \(String(decoding: data, as: UTF8.self))")
            }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, 100)
            if ready < 0, errno != EINTR { throw E2EFailure("poll: \(String(cString: strerror(errno)))") }
            if ready <= 0 { continue }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                if errno == ECONNRESET { return String(decoding: data, as: UTF8.self) }
                throw E2EFailure("recv from \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { return String(decoding: data, as: UTF8.self) }
            data += chunk[..<n]
        }
    }

    /// True when something (data, or the agent hanging up) is waiting to be read right now.
    var hasSomethingToRead: Bool { !Self.readable([self], waitingMs: 0).isEmpty }

    /// The indices of `connections` with something to read (data, or the agent hanging up), waiting up to
    /// `waitingMs` for the first (poll(2): woken by the socket, not by a timer).
    static func readable(_ connections: [ControlConnection], waitingMs: Int32) -> [Int] {
        var fds = connections.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        guard poll(&fds, nfds_t(fds.count), waitingMs) > 0 else { return [] }
        return fds.indices.filter { fds[$0].revents != 0 }
    }

    /// Sends one request line and returns every line of the answer, each parsed, once the agent has hung up.
    func exchange(_ line: String, timeout: Double = 10) throws -> [JSON] {
        try send(line)
        return try readToEnd(timeout: timeout).split(separator: "\n").map { try JSON.parse(String($0)) }
    }
}
