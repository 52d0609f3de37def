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

    /// Opens or creates the log; returns it with the payloads of its verified records and where each is, oldest first.
    static func open(path: String, kind: Frame.Kind) throws(StoreError) -> (RecordLog, [(payload: [UInt8], location: Location)]) {
        let existed = Syscall.exists(path)
        let fd = try Syscall.open(path, O_RDWR | O_CREAT | O_CLOEXEC, mode: 0o640)
        if !existed { try Syscall.fsyncDirectory(Syscall.parentDirectory(of: path)) }
        let file = OpenFile(fd: Glibc.dup(fd), path: path)
        let end = try Syscall.fileSize(fd, path: path)
        var scanner = FrameScanner(file: file, from: 0, to: end, maxPayload: Frame.maxFilePayload, payloadKinds: [kind])
        var payloads: [(payload: [UInt8], location: Location)] = []
        var problems: [String] = []
        var goodEnd = 0
        while let item = try scanner.next() {
            switch item {
            case .record(let k, _, let offset, let size, let payload):
                if k == kind, let payload { payloads.append((Array(payload), Location(offset: offset, size: size))) }
                goodEnd = offset + size
            case .damaged(let offset, let length, let reason):
                problems.append("\(path): \(length) damaged byte(s) at offset \(offset) skipped (\(reason))")
            }
        }
        if goodEnd < end {
            // A torn tail: cut it so the next record starts on a boundary (what was there never completed its fsync).
            try Syscall.ftruncate(fd, goodEnd, path: path)
            try Syscall.fdatasync(fd, path: path)
        }
        return (RecordLog(path: path, kind: kind, fd: fd, size: goodEnd, problems: problems), payloads)
    }

    /// Appends one record; returns (where it is) once it is on disk.
    @discardableResult
    public func append(_ payload: [UInt8]) throws(StoreError) -> Location {
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

    /// The file's size in bytes.
    public var byteCount: Int { size }

    /// Replaces the whole file with `payloads`, atomically; returns where each of them now is.
    @discardableResult
    public func rewrite(_ payloads: [[UInt8]]) throws(StoreError) -> [Location] {
        var bytes: [UInt8] = []
        var locations: [Location] = []
        for p in payloads {
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
