import Glibc

/// Whole-file replacement that survives a crash at any point: readers see the old file or
/// the new one, never a mix, and never a half-written file.
public enum AtomicFile {
    /// Writes a temp file in the same folder, fsyncs it, renames it over `path`, fsyncs the folder.
    ///
    /// The temp file is `<name>.tmp-<16 hex>`; on any failure it is removed and the old file
    /// is untouched. A crash can leave a temp file behind: `removeStaleTemporaries(for:)`
    /// (called by the journal and `SnapshotFile.load` at start) cleans them up.
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o640) throws(StoreError) {
        let directory = Syscall.parentDirectory(of: path)
        var rng = SystemRandomNumberGenerator()
        let suffix = String(rng.next() as UInt64, radix: 16)
        let temp = path + ".tmp-" + String(repeating: "0", count: 16 - suffix.count) + suffix
        let fd = try Syscall.open(temp, O_WRONLY | O_CREAT | O_EXCL, mode: mode, operation: "create")
        var renamed = false
        defer {
            if !renamed { try? Syscall.unlinkIfPresent(temp) }
        }
        do throws(StoreError) {
            // open's mode is filtered by the umask; the caller's mode is meant exactly.
            _ = try Syscall.check("chmod", temp) { fchmod(fd, mode) }
            try Syscall.pwriteAll(fd, bytes, at: 0, path: temp)
            try Syscall.fsync(fd, path: temp)
        } catch {
            Syscall.close(fd)
            throw error
        }
        Syscall.close(fd)
        try Syscall.rename(temp, path)
        renamed = true
        try Syscall.fsyncDirectory(directory)
    }

    /// The whole file, or nil when it does not exist.
    public static func read(_ path: String) throws(StoreError) -> [UInt8]? {
        guard let fd = try Syscall.openIfExists(path, O_RDONLY) else { return nil }
        defer { Syscall.close(fd) }
        var out: [UInt8] = []
        let size = try Syscall.fileSize(fd, path: path)
        var offset = 0
        // Read to end of file rather than trusting the size: a file may have grown meanwhile.
        while true {
            let chunk = try Syscall.pread(fd, count: max(size - offset, 64 * 1024), at: offset, path: path)
            if chunk.isEmpty { break }
            out += chunk
            offset += chunk.count
        }
        return out
    }

    /// Renames `path` to `<path>.corrupt-<epoch ms>` (a free name) so nothing is overwritten; returns the new path.
    @discardableResult
    public static func setAside(_ path: String) throws(StoreError) -> String {
        let aside = asidePath(for: path)
        try Syscall.rename(path, aside)
        try Syscall.fsyncDirectory(Syscall.parentDirectory(of: path))
        return aside
    }

    /// `<path>.corrupt-<epoch ms>`, with `-2`, `-3`… added if that name is taken.
    static func asidePath(for path: String) -> String {
        let base = path + ".corrupt-" + String(Syscall.epochMillis())
        var candidate = base
        var n = 2
        while Syscall.exists(candidate) {
            candidate = base + "-" + String(n)
            n += 1
        }
        return candidate
    }

    /// Removes `<name>.tmp-*` files a crash left next to `path`.
    public static func removeStaleTemporaries(for path: String) throws(StoreError) {
        let directory = Syscall.parentDirectory(of: path)
        let prefix = Syscall.baseName(of: path) + ".tmp-"
        for name in try Syscall.listDirectory(directory) where name.hasPrefix(prefix) {
            try Syscall.unlinkIfPresent(directory + "/" + name)
        }
    }
}
