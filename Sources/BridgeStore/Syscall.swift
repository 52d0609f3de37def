import Glibc

/// The C calls the store makes, each mapped to a `StoreError` once, where it is made.
///
/// Every call that can be interrupted by a signal is retried on EINTR here and only
/// here (as swift-system's `valueOrErrno(retryOnInterrupt:)`), so callers never see it.
enum Syscall {
    /// Runs `call` until it does not fail with EINTR; on -1 returns the errno.
    @inline(__always)
    static func retrying<T: FixedWidthInteger & SignedInteger>(_ call: () -> T) -> Result<T, Errno> {
        while true {
            let r = call()
            if r != -1 { return .success(r) }
            let e = Glibc.errno
            if e != EINTR { return .failure(Errno(e)) }
        }
    }

    /// Runs `call` (retrying EINTR) and turns -1 into a `StoreError` naming `path` and `operation`.
    static func check<T: FixedWidthInteger & SignedInteger>(
        _ operation: String, _ path: String, _ call: () -> T
    ) throws(StoreError) -> T {
        switch retrying(call) {
        case .success(let v): return v
        case .failure(let e): throw e.error(operation, path)
        }
    }

    /// `open(2)` with `O_CLOEXEC` added.
    static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o640, operation: String = "open") throws(StoreError) -> Int32 {
        try check(operation, path) { Glibc.open(path, flags | O_CLOEXEC, mode) }
    }

    /// `open(2)` that reports a missing file as nil instead of an error.
    static func openIfExists(_ path: String, _ flags: Int32) throws(StoreError) -> Int32? {
        switch retrying({ Glibc.open(path, flags | O_CLOEXEC) }) {
        case .success(let fd): return fd
        case .failure(let e) where e.code == ENOENT: return nil
        case .failure(let e): throw e.error("open", path)
        }
    }

    static func close(_ fd: Int32) {
        // Not retried: on Linux the descriptor is released even when close reports EINTR.
        _ = Glibc.close(fd)
    }

    /// Writes all of `bytes` at `offset`, looping over short writes.
    static func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws(StoreError) {
        var done = 0
        while done < bytes.count {
            let n = try check("write", path) {
                Glibc.pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            }
            if n == 0 { throw Errno(EIO).error("write", path) }
            done += n
        }
    }

    static func pwriteAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int, path: String) throws(StoreError) {
        // withUnsafeBytes rethrows untyped errors: carry the typed one out as a Result.
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(StoreError) in try pwriteAll(fd, raw, at: offset, path: path) }
        }
        try result.get()
    }

    /// Reads up to `buffer.count` bytes at `offset`; fewer only at end of file.
    static func preadFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int, path: String) throws(StoreError) -> Int {
        var done = 0
        while done < buffer.count {
            let n = try check("read", path) {
                Glibc.pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Reads `count` bytes at `offset` (fewer at end of file) into a new array.
    static func pread(_ fd: Int32, count: Int, at offset: Int, path: String) throws(StoreError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let n = try bytes.withUnsafeMutableBytes { raw in
            Result { () throws(StoreError) in try preadFully(fd, into: raw, at: offset, path: path) }
        }.get()
        if n < count { bytes.removeLast(count - n) }
        return bytes
    }

    static func fsync(_ fd: Int32, path: String) throws(StoreError) {
        _ = try check("fsync", path) { Glibc.fsync(fd) }
    }

    /// `fdatasync(2)`: the data and the size, not the timestamps: what a record append needs.
    static func fdatasync(_ fd: Int32, path: String) throws(StoreError) {
        _ = try check("fdatasync", path) { Glibc.fdatasync(fd) }
    }

    static func ftruncate(_ fd: Int32, _ length: Int, path: String) throws(StoreError) {
        _ = try check("truncate", path) { Glibc.ftruncate(fd, off_t(length)) }
    }

    static func fileSize(_ fd: Int32, path: String) throws(StoreError) -> Int {
        var st = stat()
        _ = try check("stat", path) { fstat(fd, &st) }
        return Int(st.st_size)
    }

    /// `SEEK_DATA` and `SEEK_HOLE` of <linux/fs.h> (Linux 3.1): Glibc declares them only under _GNU_SOURCE, which
    /// the Swift module does not define.
    private static let seekData: Int32 = 3, seekHole: Int32 = 4

    /// The first offset at or after `offset` that holds data (`lseek` `SEEK_DATA`): nil when only a hole follows
    /// to the end of the file. Where the file system cannot tell (or the call fails), `offset` itself: reading on
    /// is always correct, only slower.
    static func nextData(_ fd: Int32, from offset: Int) -> Int? {
        let r = Glibc.lseek(fd, off_t(offset), seekData)
        if r >= 0 { return Int(r) }
        return Glibc.errno == ENXIO ? nil : offset
    }

    /// The first offset at or after `offset` where a hole starts (`SEEK_HOLE`; the end of the file counts as one).
    /// Where the file system cannot tell, `nil`: treat the rest of the file as data.
    static func nextHole(_ fd: Int32, from offset: Int) -> Int? {
        let r = Glibc.lseek(fd, off_t(offset), seekHole)
        return r >= 0 ? Int(r) : nil
    }

    /// Opens a file of the state folder only if it is a regular file (what the store writes), so that a FIFO,
    /// a device or a symlink to one left there by a person is never read or written. A path that `stat` shows
    /// is no regular file is not even opened (opening some devices does something: /dev/watchdog starts the
    /// watchdog); for the rest, the open is `O_NONBLOCK | O_NOCTTY` (a FIFO's or a device's open does not wait),
    /// the same descriptor is checked with `fstat` (the path cannot be swapped in between), and it is switched
    /// back to blocking. Returns a nil descriptor, with what was found in words, when it is not a regular file.
    static func openRegular(_ path: String, _ flags: Int32, mode: mode_t = 0o640,
                            operation: String = "open") throws(StoreError) -> (fd: Int32?, found: String) {
        var st = stat()
        if stat(path, &st) == 0, st.st_mode & S_IFMT != S_IFREG { return (nil, fileKind(st.st_mode)) }
        let fd = try open(path, flags | O_NONBLOCK | O_NOCTTY, mode: mode, operation: operation)
        if fstat(fd, &st) != 0 {
            let e = Glibc.errno
            close(fd)
            throw Errno(e).error("stat", path)
        }
        guard st.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            return (nil, fileKind(st.st_mode))
        }
        let status = fcntl(fd, F_GETFL)
        if status >= 0 { _ = fcntl(fd, F_SETFL, status & ~O_NONBLOCK) }
        return (fd, fileKind(st.st_mode))
    }

    /// `openRegular`, and when the path is not a regular file: sets it aside (`<path>.corrupt-<epoch ms>`, so
    /// nothing is lost) and opens again, which creates the file when `flags` has `O_CREAT`. Returns the
    /// descriptor and, when something was set aside, one line saying so for the log.
    static func openRegularSettingAside(_ path: String, _ flags: Int32, mode: mode_t = 0o640,
                                        operation: String = "open") throws(StoreError) -> (fd: Int32, problem: String?) {
        let first = try openRegular(path, flags, mode: mode, operation: operation)
        if let fd = first.fd { return (fd, nil) }
        let aside = try AtomicFile.setAside(path)
        let problem = "\(path) was \(first.found), not a file the agent wrote: it was moved to \(aside) and a new one started"
        let second = try openRegular(path, flags, mode: mode, operation: operation)
        guard let fd = second.fd else {
            throw StoreError(code: .notRegularFile, path: path, operation: operation,
                             message: "it is \(second.found) again after the previous one was moved to \(aside)")
        }
        return (fd, problem)
    }

    /// What a file that is not a regular one is, in words.
    static func fileKind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: return "a regular file"
        case S_IFDIR: return "a folder"
        case S_IFIFO: return "a FIFO"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        default: return "something other than a file"
        }
    }

    static func rename(_ from: String, _ to: String) throws(StoreError) {
        _ = try check("rename to \(to)", from) { Glibc.rename(from, to) }
    }

    /// Removes a file; a missing file is not an error.
    static func unlinkIfPresent(_ path: String) throws(StoreError) {
        switch retrying({ Glibc.unlink(path) }) {
        case .success, .failure(Errno(ENOENT)): return
        case .failure(let e): throw e.error("unlink", path)
        }
    }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// Makes the rename or creation of an entry in `directory` durable.
    static func fsyncDirectory(_ directory: String) throws(StoreError) {
        let fd = try open(directory, O_RDONLY | O_DIRECTORY, operation: "open folder")
        defer { close(fd) }
        try fsync(fd, path: directory)
    }

    /// `mkdir -p` with `mode` for every folder it creates; an existing non-folder is ENOTDIR.
    static func makeDirectories(_ path: String, mode: mode_t) throws(StoreError) {
        var st = stat()
        if stat(path, &st) == 0 {
            if st.st_mode & S_IFMT == S_IFDIR { return }
            throw Errno(ENOTDIR).error("create folder", path, hint: "it exists and is not a folder")
        }
        let parent = parentDirectory(of: path)
        if parent != path { try makeDirectories(parent, mode: mode) }
        switch retrying({ mkdir(path, mode) }) {
        case .success: break
        case .failure(Errno(EEXIST)):
            // Raced with another creator: fine if it is a folder now.
            if stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFDIR { return }
            throw Errno(ENOTDIR).error("create folder", path, hint: "it exists and is not a folder")
        case .failure(let e): throw e.error("create folder", path)
        }
        // mkdir's mode is filtered by the umask; the store's folders must be exactly `mode`.
        _ = try check("chmod", path) { chmod(path, mode) }
        try fsyncDirectory(parent)
    }

    static func parentDirectory(of path: String) -> String {
        var p = Substring(path)
        while p.count > 1, p.hasSuffix("/") { p = p.dropLast() }
        guard let slash = p.lastIndex(of: "/") else { return "." }
        if slash == p.startIndex { return "/" }
        return String(p[..<slash])
    }

    static func baseName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// Wall-clock epoch milliseconds: used only to name files set aside, never for ordering.
    static func epochMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// Names in `directory`, without "." and ".."; empty when the folder does not exist.
    static func listDirectory(_ directory: String) throws(StoreError) -> [String] {
        guard let dir = opendir(directory) else {
            let e = Glibc.errno
            if e == ENOENT { return [] }
            throw Errno(e).error("list folder", directory)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: entry.pointee.d_name)) {
                    String(cString: $0)
                }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}

/// An errno value from a failed C call.
struct Errno: Error, Equatable {
    var code: Int32
    init(_ code: Int32) { self.code = code }

    /// The words of `strerror`, e.g. "No space left on device".
    var words: String { String(cString: strerror(code)) }

    /// A `StoreError` naming the path, the operation, errno and strerror's words, with advice where there is some.
    func error(_ operation: String, _ path: String, hint: String? = nil) -> StoreError {
        var message = "\(operation) failed: \(words)"
        if let hint { message += " (\(hint))" }
        if let advice = Errno.advice[code] { message += "; \(advice)" }
        return StoreError(path: path, operation: operation, errno: code, message: message)
    }

    private static let advice: [Int32: String] = [
        ENOSPC: "the state partition is full: free space there or lower outbox.max_mb",
        EDQUOT: "the agent's user is over its disk quota on the state partition",
        EACCES: "the agent's user may not write there: fix the owner or mode (install -d -o chekt-bridge -m 0750 DIR)",
        EPERM: "the agent's user may not write there: fix the owner or mode (install -d -o chekt-bridge -m 0750 DIR)",
        EROFS: "the state partition is mounted read-only",
        ENOTDIR: "a part of this path is a file, not a folder: check bridge.state_dir / --state-dir",
        EIO: "the storage device reported an I/O error: check the SD card or disk (dmesg)",
    ]
}

extension StoreError.Code {
    /// The code for an errno value.
    init(errno: Int32) {
        switch errno {
        case ENOTDIR: self = .notADirectory
        case EACCES, EPERM: self = .permissionDenied
        case ENOSPC, EDQUOT: self = .noSpace
        case EROFS: self = .readOnly
        case ENOENT: self = .notFound
        case EWOULDBLOCK: self = .locked
        default: self = .io
        }
    }
}
