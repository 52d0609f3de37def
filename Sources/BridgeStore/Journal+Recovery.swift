import BridgeCore
import Glibc

/// Opening a journal: verify every record, skip damage, cut a damaged tail, restore the marks.
extension Journal {
    /// What recovery hands to the journal.
    struct Recovered {
        var file: OpenFile
        var dataStart: Int
        var endOffset: Int
        var index: SparseIndex
        var lastSeq: Int64
        var dropped: Int64
        var deliveredThrough: Int64
        var report: RecoveryReport
    }

    /// Version of the journal format, in the header record.
    static let formatVersion = 1

    static func headerRecord(floor: Int64, dropped: Int64) -> [UInt8] {
        Frame.encode(kind: .header, seq: floor, payload: Array("{\"dropped\":\(dropped),\"format\":\(formatVersion)}".utf8))
    }

    /// Scans the whole journal once (verifying every checksum), builds the sparse index, and
    /// repairs what it must. Damage is reported, never thrown: only I/O failures throw.
    static func recover(journalPath: String, deliveredPath: String, compactionPath: String,
                        directory: String) throws(StoreError) -> Recovered {
        // A compaction interrupted by a crash leaves its temporary file; the journal itself is intact.
        try Syscall.unlinkIfPresent(compactionPath)
        try AtomicFile.removeStaleTemporaries(for: deliveredPath)

        var report = RecoveryReport()
        let (deliveredThrough, deliveredNote) = try readDeliveryMark(deliveredPath)
        if let deliveredNote { report.notes.append(deliveredNote) }

        let fd = try Syscall.open(journalPath, O_RDWR | O_CREAT, operation: "open journal")
        let file = OpenFile(fd: fd, path: journalPath)
        let size = try Syscall.fileSize(fd, path: journalPath)

        if size == 0 {
            // New, or created just before a crash (its name may not be durable yet either):
            // write the header, make the file and its name durable.
            let header = headerRecord(floor: deliveredThrough, dropped: 0)
            try Syscall.pwriteAll(fd, header, at: 0, path: journalPath)
            try Syscall.fdatasync(fd, path: journalPath)
            try Syscall.fsyncDirectory(directory)
            return Recovered(file: file, dataStart: header.count, endOffset: header.count, index: SparseIndex(),
                             lastSeq: deliveredThrough, dropped: 0, deliveredThrough: deliveredThrough, report: report)
        }

        var scanner = FrameScanner(file: file, from: 0, to: size, payloadKinds: [.header])
        var index = SparseIndex()
        var headerFloor: Int64 = 0
        var dropped: Int64 = 0
        var dataStart = 0
        var sawHeader = false
        // The highest event seq or floor record seen so far, in file order.
        var highest: Int64 = 0
        var lastItemDamaged: DamagedRegion?

        while let item = try scanner.next() {
            lastItemDamaged = nil
            switch item {
            case .record(.header, let seq, let offset, let frameSize, let payload):
                if offset == 0 {
                    sawHeader = true
                    headerFloor = seq
                    dataStart = frameSize
                    if let n = payload.flatMap({ try? JSONValue.decode($0) })?["dropped"]?.intValue {
                        dropped = n
                    } else {
                        report.notes.append("\(journalPath): the journal header is unreadable: the count of dropped events restarts at 0")
                    }
                } else {
                    report.damaged.append(DamagedRegion(path: journalPath, offset: offset, length: frameSize,
                                                        reason: "a journal header record in the middle of the file"))
                }
            case .record(.seqFloor, let seq, _, _, _):
                highest = max(highest, seq)
            case .record(.event, let seq, let offset, let frameSize, _):
                if seq <= highest {
                    report.damaged.append(DamagedRegion(path: journalPath, offset: offset, length: frameSize,
                                                        reason: "seq \(seq) out of order (after \(highest))"))
                } else {
                    index.add(seq: seq, offset: offset)
                    highest = seq
                }
            case .record(let kind, _, let offset, let frameSize, _):
                report.damaged.append(DamagedRegion(path: journalPath, offset: offset, length: frameSize,
                                                    reason: "a '\(Character(Unicode.Scalar(kind.rawValue)))' record does not belong in a journal"))
            case .damaged(let offset, let length, let reason):
                let region = DamagedRegion(path: journalPath, offset: offset, length: length, reason: reason)
                report.damaged.append(region)
                lastItemDamaged = region
            }
        }
        report.records = index.records
        if !sawHeader {
            report.notes.append("\(journalPath): the journal header is missing: the count of dropped events restarts at 0")
        }

        var endOffset = size
        var lastSeq = max(headerFloor, highest, deliveredThrough)
        if let tail = lastItemDamaged {
            // The records in the damaged tail may have been durable and even delivered (the
            // damage could be later than the write). Number new events above any seq the
            // tail could have held, so a seq is never given twice.
            let floor = lastSeq + Int64((tail.length + Frame.minimumEventFrame - 1) / Frame.minimumEventFrame)
            let aside = try keepAside(file: file, offset: tail.offset, length: tail.length, journalPath: journalPath,
                                      directory: directory)
            let marker: [UInt8]
            if tail.offset == 0 {
                marker = headerRecord(floor: floor, dropped: dropped)
                dataStart = marker.count
            } else {
                marker = Frame.encode(kind: .seqFloor, seq: floor,
                                      payload: Array("{\"reason\":\"\(tail.length) damaged bytes removed at offset \(tail.offset)\"}".utf8))
            }
            // Marker first, then cut: a crash in between leaves the marker and some damage
            // after it, which the next open handles the same way.
            try Syscall.pwriteAll(fd, marker, at: tail.offset, path: journalPath)
            try Syscall.fdatasync(fd, path: journalPath)
            endOffset = tail.offset + marker.count
            try Syscall.ftruncate(fd, endOffset, path: journalPath)
            try Syscall.fsync(fd, path: journalPath)
            lastSeq = floor
            report.truncatedTail = TruncatedTail(offset: tail.offset, length: tail.length, copiedTo: aside, seqFloor: floor)
        }
        return Recovered(file: file, dataStart: dataStart, endOffset: endOffset, index: index, lastSeq: lastSeq,
                         dropped: dropped, deliveredThrough: deliveredThrough, report: report)
    }

    /// Reads `<name>.delivered`; an unreadable one is set aside and counts as 0 (everything is
    /// offered again; the platform answers repeated ids as duplicates).
    static func readDeliveryMark(_ path: String) throws(StoreError) -> (Int64, String?) {
        guard let bytes = try AtomicFile.read(path) else { return (0, nil) }
        switch Frame.decodeSingle(bytes, kind: .delivered) {
        case .success(let record) where record.seq >= 0:
            return (record.seq, nil)
        case .success(let record):
            let aside = try AtomicFile.setAside(path)
            return (0, "\(path): the delivery mark \(record.seq) is negative; kept as \(aside); every event in the journal will be offered to the platform again")
        case .failure(let problem):
            let aside = try AtomicFile.setAside(path)
            return (0, "\(path): the delivery mark is unreadable (\(problem.reason)); kept as \(aside); every event in the journal will be offered to the platform again (the platform answers repeated ids as duplicates)")
        }
    }

    /// Copies `length` bytes at `offset` to `<journal>.corrupt-<epoch ms>`, durably; returns that path.
    static func keepAside(file: OpenFile, offset: Int, length: Int, journalPath: String,
                          directory: String) throws(StoreError) -> String {
        let path = AtomicFile.asidePath(for: journalPath)
        let out = try Syscall.open(path, O_WRONLY | O_CREAT | O_EXCL)
        defer { Syscall.close(out) }
        var done = 0
        while done < length {
            let chunk = try Syscall.pread(file.fd, count: min(256 * 1024, length - done), at: offset + done, path: file.path)
            if chunk.isEmpty { break }
            try Syscall.pwriteAll(out, chunk, at: done, path: path)
            done += chunk.count
        }
        try Syscall.fsync(out, path: path)
        try Syscall.fsyncDirectory(directory)
        return path
    }
}
