import Glibc

/// A whole small regular file read through one descriptor, with the mode `fstat` gave for that same descriptor.
///
/// Checking the mode of the descriptor that was read (not of the path)
/// leaves no window for the file to be swapped between check and read.
struct SmallFile {
    var bytes: [UInt8]
    /// `st_mode` permission bits (`& 0o7777`).
    var permissions: UInt32

    /// Reads `path` if it is a regular file of at most `limit` bytes; the failure's reason never quotes the content.
    static func read(_ path: String, limit: Int) -> Result<SmallFile, SmallFileFailure> {
        var fd: Int32
        repeat { fd = open(path, O_RDONLY | O_CLOEXEC) } while fd < 0 && errno == EINTR
        guard fd >= 0 else {
            let e = errno
            return .failure(SmallFileFailure(errno: e, reason: e == ENOENT ? "does not exist" : "cannot be opened: \(errnoText(e))"))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let e = errno
            return .failure(SmallFileFailure(errno: e, reason: "cannot be examined: \(errnoText(e))"))
        }
        guard info.st_mode & S_IFMT == S_IFREG else { return .failure(SmallFileFailure(errno: nil, reason: "is not a regular file")) }
        guard Int(info.st_size) <= limit else {
            return .failure(SmallFileFailure(errno: nil, reason: "is \(info.st_size) bytes, more than the \(limit) expected"))
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                let e = errno
                if e == EINTR { continue }
                return .failure(SmallFileFailure(errno: e, reason: "cannot be read: \(errnoText(e))"))
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[..<n])
            if bytes.count > limit { return .failure(SmallFileFailure(errno: nil, reason: "is more than the \(limit) bytes expected")) }
        }
        return .success(SmallFile(bytes: bytes, permissions: UInt32(info.st_mode) & 0o7777))
    }
}

/// Why `SmallFile.read` failed; `reason` is a sentence fragment after the file name.
struct SmallFileFailure: Error {
    var errno: Int32?
    var reason: String
}

/// `strerror` text for an errno value.
func errnoText(_ code: Int32) -> String {
    String(cString: strerror(code))
}
