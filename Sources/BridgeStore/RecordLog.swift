import Glibc

/// A small append-only file of checksummed JSON records of one kind, each fdatasync'd before `append` returns.
///
/// For the command ledger and the dead-letter file: few records, each of which must survive a power cut.
/// Opening reads every record; damaged bytes are skipped and reported (never fatal), and a torn tail is cut off
/// so the next append starts on a record boundary. `rewrite` replaces the whole file atomically (retention).
/// Each record's `Location` lets its owner keep only an index in memory and `read` a record back when needed.
/// Not thread-safe: one owner.
public final class RecordLog {
    /// Where one record is in the file, valid until the next `rewrite` (which returns the new ones).
    public struct Location: Sendable, Equatable {
        let offset: Int
        let size: Int
    }

    public let path: String
    let kind: Frame.Kind
    private var fd: Int32
    private var size: Int
    /// What opening found wrong, one line each, for the log.
    public private(set) var problems: [String] = []

    private init(path: String, kind: Frame.Kind, fd: Int32, size: Int, problems: [String]) {
        self.path = path; self.kind = kind; self.fd = fd; self.size = size; self.problems = problems
    }

    deinit { Syscall.close(fd) }

    /// Opens or creates the log and hands `each` the payload of every verified record of its kind, and where it
    /// is, oldest first; the payload is only valid during the call.
    ///
    /// Memory stays bounded whatever the file holds: records are read through `FrameScanner`'s window and handed
    /// over one at a time (the owner keeps what it needs), at most `maxListedProblems` damaged regions are listed,
    /// and with `readLimit` only the file's last `readLimit` bytes are read (records are appended oldest first, so
    /// those are the newest), reported. A FIFO, a device or a symlink to one where the file should be is set
    /// aside unread and a new file started, reported.
    static func open(path: String, kind: Frame.Kind, readLimit: Int? = nil,
                     _ each: (ArraySlice<UInt8>, Location) -> Void) throws(StoreError) -> RecordLog {
        let existed = Syscall.exists(path)
        let (fd, setAside) = try Syscall.openRegularSettingAside(path, O_RDWR | O_CREAT, mode: 0o640)
        var problems: [String] = setAside.map { [$0] } ?? []
        do throws(StoreError) {
            if !existed || setAside != nil { try Syscall.fsyncDirectory(Syscall.parentDirectory(of: path)) }
            let file = OpenFile(fd: Glibc.dup(fd), path: path)
            let end = try Syscall.fileSize(fd, path: path)
            var start = 0
            if let readLimit, end > readLimit {
                start = end - readLimit
                problems.append("\(path) is \(end) bytes, more than the \(readLimit) read at start: only its last \(readLimit) bytes were read, the \(start) bytes before them (the oldest records) are ignored")
            }
            var scanner = FrameScanner(file: file, from: start, to: end, maxPayload: Frame.maxFilePayload, payloadKinds: [kind])
            var goodEnd = start
            var unlisted = 0, unlistedBytes = 0
            while let item = try scanner.next() {
                switch item {
                case .record(let k, _, let offset, let size, let payload):
                    if k == kind, let payload { each(payload, Location(offset: offset, size: size)) }
                    goodEnd = offset + size
                case .damaged(let offset, _, _) where offset == start && start > 0:
                    break   // the end of a record that starts before `start`: not damage, only not read
                case .damaged(let offset, let length, let reason):
                    if problems.count < Self.maxListedProblems {
                        problems.append("\(path): \(length) damaged byte(s) at offset \(offset) skipped (\(reason))")
                    } else {
                        unlisted += 1
                        unlistedBytes += length
                    }
                }
            }
            if unlisted > 0 {
                problems.append("\(path): \(unlisted) more damaged regions (\(unlistedBytes) bytes) skipped (not listed one by one)")
            }
            if goodEnd < end {
                // A torn tail: cut it so the next record starts on a boundary (what was there never completed its fsync).
                try Syscall.ftruncate(fd, goodEnd, path: path)
                try Syscall.fdatasync(fd, path: path)
            }
            return RecordLog(path: path, kind: kind, fd: fd, size: goodEnd, problems: problems)
        } catch {
            Syscall.close(fd)
            throw error
        }
    }

    /// How many problems `open` lists one by one; more are counted in one line.
    static let maxListedProblems = 100

    /// Appends one record; returns (where it is) once it is on disk.
    @discardableResult
    public func append(_ payload: [UInt8]) throws(StoreError) -> Location {
        try checkSize(payload, operation: "append")
        let bytes = Frame.encode(kind: kind, seq: 0, payload: payload)
        try Syscall.pwriteAll(fd, bytes, at: size, path: path)
        try Syscall.fdatasync(fd, path: path)
        let location = Location(offset: size, size: bytes.count)
        size += bytes.count
        return location
    }

    /// The payload of the record at `location`, checked again (it may have been damaged since it was written).
    public func read(_ location: Location) throws(StoreError) -> [UInt8] {
        let bytes = try Syscall.pread(fd, count: location.size, at: location.offset, path: path)
        switch Frame.decodeSingle(bytes, kind: kind) {
        case .success(let record): return Array(record.payload)
        case .failure(let problem):
            throw StoreError(code: .corrupt, path: path, operation: "read record", message: "the record at offset \(location.offset) \(problem.reason)")
        }
    }

    /// A record over `Frame.maxFilePayload` could be written but never read back (the reader refuses its length).
    private func checkSize(_ payload: [UInt8], operation: String) throws(StoreError) {
        guard payload.count <= Frame.maxFilePayload else {
            throw StoreError(code: .tooLarge, path: path, operation: operation,
                             message: "a record of \(payload.count) bytes is over the \(Frame.maxFilePayload)-byte limit; it was not written")
        }
    }

    /// The file's size in bytes.
    public var byteCount: Int { size }

    /// Replaces the whole file with `payloads`, atomically; returns where each of them now is.
    @discardableResult
    public func rewrite(_ payloads: [[UInt8]]) throws(StoreError) -> [Location] {
        var bytes: [UInt8] = []
        var locations: [Location] = []
        for p in payloads {
            try checkSize(p, operation: "rewrite")
            let start = bytes.count
            Frame.append(kind: kind, seq: 0, payload: p, to: &bytes)
            locations.append(Location(offset: start, size: bytes.count - start))
        }
        try AtomicFile.write(bytes, to: path)
        Syscall.close(fd)
        // If the new file cannot be opened, appends must fail loudly rather than go to the replaced file.
        fd = -1
        fd = try Syscall.open(path, O_RDWR | O_CLOEXEC)
        size = bytes.count
        return locations
    }
}
