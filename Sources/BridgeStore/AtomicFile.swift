import BridgeCore
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

    /// The whole file, or nil when it does not exist; at most `limit` bytes, and only a regular file.
    ///
    /// Every file of the state folder is input from outside (a power cut, a bad SD card or a person can leave
    /// anything there), so this reads through `SmallFile.read`: opened `O_NONBLOCK | O_CLOEXEC`, a FIFO, device,
    /// folder or socket is refused at once (`.notRegularFile`) instead of blocking or reading for ever, and a file
    /// over `limit` is refused (`.tooLarge`) before anything is allocated for it. Callers choose what a refused
    /// file means (the snapshot and the delivery mark are set aside and reported).
    public static func read(_ path: String, limit: Int) throws(StoreError) -> [UInt8]? {
        // What is plainly no regular file is not even opened (opening /dev/watchdog starts the watchdog);
        // SmallFile checks the descriptor it reads again, so a file swapped in meanwhile is refused too.
        var st = stat()
        if stat(path, &st) == 0, st.st_mode & S_IFMT != S_IFREG {
            throw StoreError(code: .notRegularFile, path: path, operation: "read",
                             message: "it is not a regular file (it is \(Syscall.fileKind(st.st_mode))); the agent only reads files it wrote there")
        }
        switch SmallFile.read(path, limit: limit) {
        case .success(let file):
            return file.bytes
        case .failure(let failure):
            switch failure.problem {
            case .system(ENOENT):
                return nil
            case .system(let e):
                throw Errno(e).error("read", path)
            case .notRegular:
                throw StoreError(code: .notRegularFile, path: path, operation: "read",
                                 message: "it \(failure.reason); the agent only reads files it wrote there")
            case .tooLarge:
                throw StoreError(code: .tooLarge, path: path, operation: "read",
                                 message: "it \(failure.reason): no file the agent writes there is that large")
            }
        }
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
            do throws(StoreError) {
                try Syscall.unlinkIfPresent(directory + "/" + name)
            } catch {
                // A folder of that name is none of ours (temporaries are files with a random name, created O_EXCL):
                // it is in nobody's way, and failing here would make the snapshot or the journal unusable.
                guard error.errno == EISDIR else { throw error }
            }
        }
    }
}
