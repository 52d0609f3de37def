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
        var report = RecoveryReport()
        // A compaction interrupted by a crash leaves its temporary file; the journal itself is intact.
        do throws(StoreError) {
            try Syscall.unlinkIfPresent(compactionPath)
        } catch {
            // A folder there (unlink refuses it) would make every compaction fail: move it out of the way.
            guard error.errno == EISDIR else { throw error }
            let aside = try AtomicFile.setAside(compactionPath)
            report.notes.append("\(compactionPath) was a folder, in the way of compaction: it was moved to \(aside)")
        }
        try AtomicFile.removeStaleTemporaries(for: deliveredPath)

        let (deliveredThrough, deliveredNote) = try readDeliveryMark(deliveredPath)
        if let deliveredNote { report.notes.append(deliveredNote) }

        // A FIFO, a device or a symlink to one where the journal should be is set aside, never read or written.
        let (fd, notRegular) = try Syscall.openRegularSettingAside(journalPath, O_RDWR | O_CREAT, operation: "open journal")
        if let notRegular { report.notes.append(notRegular) }
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
                    // The count is only ever raised by compaction, by at most the events it drops (each had a
                    // seq), so it cannot be above the seq ceiling; a larger one would overflow when added to.
                    switch payload.flatMap({ try? JSONValue.decode($0) })?["dropped"]?.intValue {
                    case let n? where (0...Frame.maxSeq).contains(n):
                        dropped = n
                    case let n?:
                        report.notes.append("\(journalPath): the journal header is unreadable (a dropped count of \(n), outside 0...2^53): the count of dropped events restarts at 0")
                    case nil:
                        report.notes.append("\(journalPath): the journal header is unreadable: the count of dropped events restarts at 0")
                    }
                } else {
                    report.addDamage(DamagedRegion(path: journalPath, offset: offset, length: frameSize,
                                                   reason: "a journal header record in the middle of the file"))
                }
            case .record(.seqFloor, let seq, _, _, _):
                highest = max(highest, seq)
            case .record(.event, let seq, let offset, let frameSize, _):
                if seq <= highest {
                    report.addDamage(DamagedRegion(path: journalPath, offset: offset, length: frameSize,
                                                   reason: "seq \(seq) out of order (after \(highest))"))
                } else {
                    index.add(seq: seq, offset: offset)
                    highest = seq
                }
            case .record(let kind, _, let offset, let frameSize, _):
                report.addDamage(DamagedRegion(path: journalPath, offset: offset, length: frameSize,
                                               reason: "a '\(Character(Unicode.Scalar(kind.rawValue)))' record does not belong in a journal"))
            case .damaged(let offset, let length, let reason):
                let region = DamagedRegion(path: journalPath, offset: offset, length: length, reason: reason)
                report.addDamage(region)
                lastItemDamaged = region
            }
        }
        report.records = index.records
        if !sawHeader {
            report.notes.append("\(journalPath): the journal header is missing: the count of dropped events restarts at 0")
        }

        var endOffset = size
        // Every one is in 0...maxSeq (Frame.check refuses records outside it).
        var lastSeq = max(headerFloor, highest, deliveredThrough)
        if let tail = lastItemDamaged {
            report.listLast(tail)
            // The records in the damaged tail may have been durable and even delivered (the
            // damage could be later than the write). Number new events above any seq the
            // tail could have held, so a seq is never given twice. At most the ceiling: a tail
            // that large was never written by the agent, and appends then fail (they never trap).
            let couldHold = Int64(tail.length / Frame.minimumEventFrame + (tail.length % Frame.minimumEventFrame == 0 ? 0 : 1))
            let floor = Journal.saturatingAdd(lastSeq, couldHold)
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
    ///
    /// Unreadable includes a mark that fails its check, one whose seq is outside 0...2^53 (`Frame.check`), a file
    /// that is not a regular file (a FIFO would block the open, a symlink to /dev/zero would read for ever) or
    /// is larger than any mark, and a read that fails: delivering again is always safe, refusing to start is not.
    static func readDeliveryMark(_ path: String) throws(StoreError) -> (Int64, String?) {
        let why: String
        do throws(StoreError) {
            guard let bytes = try AtomicFile.read(path, limit: Frame.maxFileSize) else { return (0, nil) }
            switch Frame.decodeSingle(bytes, kind: .delivered) {
            case .success(let record):
                return (record.seq, nil)
            case .failure(let problem):
                why = problem.reason
            }
        } catch {
            why = error.message
        }
        let kept: String
        do throws(StoreError) {
            kept = "kept as " + (try AtomicFile.setAside(path))
        } catch {
            // Left in place: the next `markDelivered` replaces it (rename over it) or fails saying why.
            kept = "it could not be set aside (\(error.message))"
        }
        return (0, "\(path): the delivery mark is unreadable (\(why)); \(kept); every event in the journal will be offered to the platform again (the platform answers repeated ids as duplicates)")
    }

    /// Copies `length` bytes at `offset` to `<journal>.corrupt-<epoch ms>`, durably; returns that path.
    ///
    /// Holes are not copied, only left as holes (the copy has the same length and reads the same): a journal
    /// made sparse by hand (a size of 64 GB set with truncate) costs a few seeks here, not 64 GB of disk.
    static func keepAside(file: OpenFile, offset: Int, length: Int, journalPath: String,
                          directory: String) throws(StoreError) -> String {
        let path = AtomicFile.asidePath(for: journalPath)
        let out = try Syscall.open(path, O_WRONLY | O_CREAT | O_EXCL)
        defer { Syscall.close(out) }
        let end = offset + length
        var copiedEnd = end
        var position = offset
        while position < end {
            // The next stretch of data: from the next data offset to the next hole (or all of it, where the
            // file system cannot tell).
            guard let dataStart = Syscall.nextData(file.fd, from: position), dataStart < end else { break }
            let from = max(position, dataStart)
            let to = min(end, Syscall.nextHole(file.fd, from: from) ?? end)
            var done = from
            while done < to {
                let chunk = try Syscall.pread(file.fd, count: min(256 * 1024, to - done), at: done, path: file.path)
                if chunk.isEmpty { break }
                try Syscall.pwriteAll(out, chunk, at: done - offset, path: path)
                done += chunk.count
            }
            if done < to {   // the file ended early
                copiedEnd = done
                break
            }
            position = max(to, from + 1)
        }
        try Syscall.ftruncate(out, copiedEnd - offset, path: path)
        try Syscall.fsync(out, path: path)
        try Syscall.fsyncDirectory(directory)
        return path
    }

    /// `a + b` for counts and seqs read from disk: never past the seq ceiling, never a trap.
    static func saturatingAdd(_ a: Int64, _ b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b > 0 ? Frame.maxSeq : 0) : min(max(sum, 0), Frame.maxSeq)
    }
}
