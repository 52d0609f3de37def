import BridgeSystem
import Glibc

/// `POLLRDHUP` (peer closed its end), a GNU extension Glibc does not import.
let pollRDHUP: Int32 = 0x2000

/// Unix stream sockets: the few calls the control server and client make, errno mapped here.
enum UnixSocket {
    struct Failure: Error, CustomStringConvertible {
        var operation: String
        var path: String
        var errno: Int32
        var description: String { "\(operation) \(path): \(Posix.describe(errno))" }
    }

    static func address(_ path: String) throws(Failure) -> sockaddr_un {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard bytes.count < capacity else { throw Failure(operation: "socket path too long:", path: path, errno: ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return addr
    }

    static func newSocket() -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        if fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return fd
    }

    /// Connects to `path`; throws with errno (ENOENT, ECONNREFUSED: no agent).
    static func connect(_ path: String) throws(Failure) -> Int32 {
        var addr = try address(path)
        let fd = newSocket()
        guard fd >= 0 else { throw Failure(operation: "socket", path: path, errno: errno) }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in Posix.retrying { Glibc.connect(fd, sa, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        }
        if rc != 0 {
            let e = errno
            close(fd)
            throw Failure(operation: "connect", path: path, errno: e)
        }
        return fd
    }

    static func listen(_ path: String) throws(Failure) -> Int32 {
        var addr = try address(path)
        let fd = newSocket()
        guard fd >= 0 else { throw Failure(operation: "socket", path: path, errno: errno) }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if rc != 0 { let e = errno; close(fd); throw Failure(operation: "bind", path: path, errno: e) }
        if Glibc.listen(fd, 16) != 0 { let e = errno; close(fd); throw Failure(operation: "listen", path: path, errno: e) }
        return fd
    }

    /// The uid of the process at the other end (`SO_PEERCRED`).
    static func peerUID(_ fd: Int32) -> UInt32? {
        // struct ucred (pid, uid, gid) needs _GNU_SOURCE, which Glibc's module does not define.
        struct PeerCred { var pid: Int32 = 0; var uid: UInt32 = 0; var gid: UInt32 = 0 }
        var cred = PeerCred()
        var len = socklen_t(MemoryLayout<PeerCred>.size)
        return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ? cred.uid : nil
    }

    /// Bounds every blocking read and write on `fd` (`SO_RCVTIMEO`, `SO_SNDTIMEO`): a client that sends nothing,
    /// or stops reading what it asked for, is let go instead of holding its thread for ever.
    static func setTimeouts(_ fd: Int32, ms: Int) {
        var tv = timeval(tv_sec: ms / 1000, tv_usec: (ms % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }
}

/// Reads newline-terminated lines from a file descriptor.
struct LineReader {
    let fd: Int32
    var buffer: [UInt8] = []
    let maxLine: Int

    init(fd: Int32, maxLine: Int = 1 << 20) { self.fd = fd; self.maxLine = maxLine }

    /// The next line without its newline; nil at end of stream, error, or a line over `maxLine`.
    mutating func next() -> [UInt8]? {
        while true {
            if let nl = buffer.firstIndex(of: 10) {
                let line = Array(buffer[..<nl])
                buffer.removeSubrange(...nl)
                return line
            }
            if buffer.count > maxLine { return nil }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { raw in Posix.retrying { read(fd, raw.baseAddress, raw.count) } }
            if n <= 0 { return nil }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }
}
