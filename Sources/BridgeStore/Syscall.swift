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
