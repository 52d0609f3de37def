import Glibc

/// A whole small regular file read through one descriptor, with the mode `fstat` gave for that same descriptor.
///
/// The one way the agent reads a file a person names (configuration, board profile, credentials, CA bundle):
/// - opened `O_NONBLOCK`, so a FIFO or a device named by mistake is refused at once instead of blocking the
///   open (a FIFO's open waits for a writer) or the reads; the flag does nothing to a regular file;
/// - only a regular file is read, and at most `limit` bytes of it (`/dev/zero` is not read forever);
/// - the mode checked is that of the descriptor read (not of the path), so the file cannot be swapped between
///   the check and the read.
public struct SmallFile: Sendable {
    public var bytes: [UInt8]
    /// `st_mode` permission bits (`& 0o7777`).
    public var permissions: UInt32

    /// Reads `path` if it is a regular file of at most `limit` bytes; the failure's reason never quotes the content.
    public static func read(_ path: String, limit: Int) -> Result<SmallFile, SmallFileFailure> {
        // What is plainly not a regular file is never opened: opening some devices acts (`/dev/watchdog` starts the
        // watchdog). The descriptor's own type is checked again below, for a file swapped in between.
        var before = stat()
        if stat(path, &before) == 0, before.st_mode & S_IFMT != S_IFREG {
            let what = kind(before.st_mode)
            return .failure(SmallFileFailure(.notRegular(what), reason: "is not a regular file (it is \(what))"))
        }
        var fd: Int32
        repeat { fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY) } while fd < 0 && errno == EINTR
        guard fd >= 0 else {
            let e = errno
            return .failure(SmallFileFailure(.system(e), reason: e == ENOENT ? "does not exist" : "cannot be opened: \(errnoText(e))"))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let e = errno
            return .failure(SmallFileFailure(.system(e), reason: "cannot be examined: \(errnoText(e))"))
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            let what = kind(info.st_mode)
            return .failure(SmallFileFailure(.notRegular(what), reason: "is not a regular file (it is \(what))"))
        }
        guard Int(info.st_size) <= limit else {
            return .failure(SmallFileFailure(.tooLarge, reason: "is \(info.st_size) bytes, more than the \(limit) expected"))
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                let e = errno
                if e == EINTR { continue }
                return .failure(SmallFileFailure(.system(e), reason: "cannot be read: \(errnoText(e))"))
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[..<n])
            if bytes.count > limit { return .failure(SmallFileFailure(.tooLarge, reason: "is more than the \(limit) bytes expected")) }
        }
        return .success(SmallFile(bytes: bytes, permissions: UInt32(info.st_mode) & 0o7777))
    }

    /// What a file that is not a regular one is, in words.
    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "a folder"
        case S_IFIFO: return "a FIFO"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        default: return "not a regular file"
        }
    }
}

/// Why `SmallFile.read` failed; `reason` is a sentence fragment after the file name.
public struct SmallFileFailure: Error, Sendable {
    public enum Problem: Sendable, Equatable {
        /// A call failed with this errno.
        case system(Int32)
        /// Not a regular file: what it is, in words ("a FIFO").
        case notRegular(String)
        /// More than the limit.
        case tooLarge
    }
    public var problem: Problem
    public var reason: String
    init(_ problem: Problem, reason: String) { self.problem = problem; self.reason = reason }

    /// The errno of a failed call, if that is what failed.
    public var errno: Int32? { if case .system(let code) = problem { return code }; return nil }
}

/// `strerror` text for an errno value.
func errnoText(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "error \(code)" }
    return String(cString: text)
}
