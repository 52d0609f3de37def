import BridgeCore
@testable import BridgeStore
import Foundation
import Glibc
import Testing
import TestSupport

// Files of the state folder are input from outside (issue 14): a power cut, a bad SD card or a person can leave
// anything there. Each test builds a hostile file with the store's own frame format and checks that the store opens,
// reports the problem, and keeps working. Before the fixes, most of these trapped (Int64 overflow) or hung.

/// One event record of seq `seq`, framed as the journal writes it.
func eventRecord(seq: Int64, _ n: Int = 0) -> [UInt8] {
    var out: [UInt8] = []
    PreparedEvent(relayDraft(n, at: t0 + Millis(n))).frame(seq: seq, into: &out)
    return out
}

/// A delivery mark file of `seq`, framed as `markDelivered` writes it.
func deliveryMark(_ seq: Int64) -> [UInt8] {
    Frame.encode(kind: .delivered, seq: seq, payload: Array("{\"delivered_through\":\(seq)}".utf8))
}

/// What a test leaves where a state file should be.
enum Hostile: String, CaseIterable, CustomTestStringConvertible {
    /// A FIFO with no writer: opening it for reading blocked for ever.
    case fifo
    /// A symlink to /dev/zero: reading to end of file never ended.
    case devZero
    /// A sparse file of 64 GB: reading it whole failed to allocate.
    case sparse
    /// A folder.
    case folder

    var testDescription: String { rawValue }

    func make(at path: String) throws {
        switch self {
        case .fifo: #expect(mkfifo(path, 0o640) == 0, "mkfifo: errno \(errno)")
        case .devZero: #expect(symlink("/dev/zero", path) == 0, "symlink: errno \(errno)")
        case .sparse:
            try writeBytes([0xFF, 0x43, 0x42], to: path)
            #expect(truncate(path, 1 << 36) == 0, "truncate: errno \(errno)")
        case .folder: #expect(mkdir(path, 0o750) == 0, "mkdir: errno \(errno)")
        }
    }

    var code: StoreError.Code { self == .sparse ? .tooLarge : .notRegularFile }
}

@Suite struct HostileJournalTests {
    /// A journal file made of `records`, in a fresh folder.
    func journalFolder(_ records: [[UInt8]], name: String = "outbox") throws -> TemporaryFolder {
        let folder = try TemporaryFolder()
        try writeBytes(records.flatMap { $0 }, to: folder.file(name + ".journal"))
        return folder
    }

    // MARK: 1. The dropped count of the header

    @Test func aDroppedCountAboveTheCeilingIsUnreadableAndCompactionCountsFromZero() throws {
        // The auditor's file: {"dropped":9223372036854775807,...}, outbox.max_mb 1, then events until compaction.
        let folder = try journalFolder([Journal.headerRecord(floor: 0, dropped: Int64.max)])
        let journal = try Journal(directory: folder.path, maxBytes: 1 << 20, compaction: .inline)
        #expect(journal.recovery.notes.contains { $0.contains("a dropped count of 9223372036854775807") },
                "\(journal.recovery.problems)")
        #expect(journal.stats.dropped == 0)
        var k = 0
        while journal.stats.compactions == 0 && k < 100 {
            _ = try journal.append((0..<200).map { zoneDraft("z\(($0 + k) % 7)", faulted: $0 % 2 == 0, at: t0 + Millis(k * 200 + $0)) })
            k += 1
        }
        #expect(journal.stats.compactions == 1, "compaction ran while appending (\(journal.stats))")
        let dropped = journal.stats.dropped
        #expect(dropped > 0 && dropped < Int64(k * 200))
        let next = try journal.append([relayDraft(1, at: t0)])[0]
        try journal.markDelivered(through: next.seq)
        journal.close()

        let again = try Journal(directory: folder.path, maxBytes: 1 << 20, compaction: .inline)
        defer { again.close() }
        #expect(again.recovery.isClean, "\(again.recovery.problems)")
        #expect(again.stats.dropped == dropped, "the new header holds the count counted from 0")
        #expect(again.deliveredThrough == next.seq)
    }

    @Test func aDroppedCountAtTheCeilingSaturatesInsteadOfOverflowing() throws {
        let folder = try journalFolder([Journal.headerRecord(floor: 0, dropped: Journal.maxSeq - 1)])
        let journal = try Journal(directory: folder.path, maxBytes: 8192, compaction: .manual)
        #expect(journal.recovery.isClean, "a count in range is read: \(journal.recovery.problems)")
        #expect(journal.stats.dropped == Journal.maxSeq - 1)
        for i in 0..<60 { _ = try journal.append([zoneDraft("z", faulted: i % 2 == 0, at: t0 + Millis(i))]) }
        let summary = try #require(try journal.compact())
        #expect(summary.dropped >= 2)
        #expect(journal.stats.dropped == Journal.maxSeq)
        journal.close()
        let again = try Journal(directory: folder.path, maxBytes: 8192, compaction: .manual)
        defer { again.close() }
        #expect(again.recovery.isClean, "\(again.recovery.problems)")
        #expect(again.stats.dropped == Journal.maxSeq)
    }

    // MARK: 2. Appending near the end of the seqs

    @Test func appendingPastTheCeilingFailsWithAStoreErrorAndDeliveryGoesOn() throws {
        let folder = try journalFolder([Journal.headerRecord(floor: Journal.maxSeq - 3, dropped: 0),
                                        eventRecord(seq: Journal.maxSeq - 2, 1)])
        let journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        defer { journal.close() }
        #expect(journal.recovery.isClean, "seqs up to the ceiling are valid: \(journal.recovery.problems)")
        let last = try journal.append([relayDraft(2, at: t0)])
        #expect(last.map(\.seq) == [Journal.maxSeq - 1])
        let tooMany = thrown(StoreError.self) { try journal.append([relayDraft(3, at: t0), relayDraft(4, at: t0)]) }
        #expect(tooMany?.code == .seqCeiling)
        #expect(tooMany?.message.contains("2^53") == true)
        #expect(try journal.append([relayDraft(5, at: t0)]).map(\.seq) == [Journal.maxSeq], "a failed append used no seq")
        for _ in 0..<2 {
            let error = thrown(StoreError.self) { try journal.append([relayDraft(6, at: t0)]) }
            #expect(error?.code == .seqCeiling)
        }
        #expect(try journal.events(after: 0, limit: 10).map(\.seq) == [Journal.maxSeq - 2, Journal.maxSeq - 1, Journal.maxSeq])
        try journal.markDelivered(through: Journal.maxSeq)
        #expect(journal.stats.pending == 0)
        #expect(journal.lastSeq == Journal.maxSeq)
    }

    @Test func aLastSeqNearInt64MaxNoLongerTrapsTheFirstAppend() throws {
        // Before the ceiling: nextSeq += count overflowed at every start.
        let folder = try journalFolder([Journal.headerRecord(floor: Int64.max - 2, dropped: 0),
                                        eventRecord(seq: Int64.max - 1, 1), eventRecord(seq: Int64.max, 2)])
        let journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        defer { journal.close() }
        #expect(journal.recovery.damaged.first?.reason.hasPrefix("seq 9223372036854775805 out of range") == true,
                "\(journal.recovery.problems)")
        let tail = try #require(journal.recovery.truncatedTail, "nothing verified: the whole file is a damaged tail")
        #expect(tail.offset == 0)
        #expect(journal.lastSeq < 1000)
        let event = try journal.append([relayDraft(3, at: t0)])[0]
        #expect(event.seq == journal.lastSeq)
        try journal.markDelivered(through: event.seq)
        #expect(try journal.events(after: 0, limit: 10) == [event])
    }

    // MARK: 3. Opening with a huge seq

    @Test(arguments: ["outbox", "results"], [false, true])
    func anEventSeqAboveTheCeilingIsDamage(name: String, inTheMiddle: Bool) throws {
        let folder = try TemporaryFolder()
        var journal = try Journal(directory: folder.path, maxBytes: 1 << 20, name: name)
        let good = try journal.append([relayDraft(1, at: t0), relayDraft(2, at: t0)])
        journal.close()
        let path = folder.file(name + ".journal")
        let goodSize = try readBytes(path).count
        let hostile = eventRecord(seq: Int64.max, 3)
        try appendBytes(hostile + (inTheMiddle ? eventRecord(seq: 3, 4) : []), to: path)

        journal = try Journal(directory: folder.path, maxBytes: 1 << 20, name: name)
        let report = journal.recovery
        #expect(report.damaged.count == 1)
        #expect(report.damaged.first?.offset == goodSize)
        #expect(report.damaged.first?.length == hostile.count)
        #expect(report.damaged.first?.reason == "seq 9223372036854775807 out of range (1...2^53)", "\(report.problems)")
        let read = try journal.events(after: 0, limit: 10)
        if inTheMiddle {
            #expect(report.truncatedTail == nil)
            #expect(read.map(\.seq) == [1, 2, 3], "the record after it is read, by recovery and by readers alike")
            #expect(journal.lastSeq == 3)
        } else {
            let tail = try #require(report.truncatedTail)
            #expect(try readBytes(tail.copiedTo) == hostile)
            #expect(read == good)
            #expect(journal.lastSeq == 2 + Int64((hostile.count + 127) / 128))
        }
        let next = try journal.append([relayDraft(5, at: t0)])[0]
        #expect(next.seq == journal.lastSeq)
        try journal.markDelivered(through: next.seq)
        #expect(journal.stats.pending == 0)
        journal.close()

        let again = try Journal(directory: folder.path, maxBytes: 1 << 20, name: name)
        defer { again.close() }
        #expect(again.deliveredThrough == next.seq)
        #expect(again.recovery.truncatedTail == nil)
        #expect(again.recovery.damaged.count == (inTheMiddle ? 1 : 0), "\(again.recovery.problems)")
        #expect(try again.events(after: 0, limit: 10).last == next)
    }

    @Test(arguments: [Int64.max, Journal.maxSeq + 1, -1])
    func aDeliveryMarkOutOfRangeIsSetAsideAndEverythingIsOfferedAgain(mark: Int64) throws {
        let folder = try TemporaryFolder()
        var journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        _ = try journal.append([relayDraft(1, at: t0), relayDraft(2, at: t0), relayDraft(3, at: t0)])
        journal.close()
        let markPath = folder.file("outbox.delivered")
        try writeBytes(deliveryMark(mark), to: markPath)

        journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        #expect(journal.deliveredThrough == 0)
        #expect(journal.lastSeq == 3)
        #expect(journal.stats.pending == 3)
        #expect(journal.recovery.notes.count == 1)
        #expect(journal.recovery.notes.first?.contains("delivery mark is unreadable (seq \(mark) out of range (0...2^53))") == true,
                "\(journal.recovery.notes)")
        let aside = try folder.names().filter { $0.hasPrefix("outbox.delivered.corrupt-") }
        #expect(aside.count == 1)
        #expect(try readBytes(folder.file(aside.first ?? "?")) == deliveryMark(mark))
        let next = try journal.append([relayDraft(4, at: t0)])[0]
        #expect(next.seq == 4)
        try journal.markDelivered(through: 4)
        journal.close()
        let again = try Journal(directory: folder.path, maxBytes: 1 << 20)
        defer { again.close() }
        #expect(again.recovery.isClean)
        #expect(again.deliveredThrough == 4)
    }

    @Test func aHeaderFloorNearInt64MaxFollowedByDamageStartsAFreshJournal() throws {
        // The floor added to the damaged tail's possible records overflowed.
        let header = Journal.headerRecord(floor: Int64.max - 2, dropped: 0)
        let garbage = [UInt8](repeating: 0x5A, count: 300)
        let folder = try journalFolder([header, garbage])
        let journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        let report = journal.recovery
        #expect(report.damaged.first?.reason == "seq 9223372036854775805 out of range (0...2^53)", "\(report.problems)")
        let tail = try #require(report.truncatedTail)
        #expect(tail.offset == 0 && tail.length == header.count + garbage.count)
        #expect(tail.seqFloor == Int64((header.count + garbage.count + 127) / 128))
        let event = try journal.append([relayDraft(1, at: t0)])[0]
        #expect(event.seq == tail.seqFloor + 1)
        try journal.markDelivered(through: event.seq)
        journal.close()
        let again = try Journal(directory: folder.path, maxBytes: 1 << 20)
        defer { again.close() }
        #expect(again.recovery.isClean, "\(again.recovery.problems)")
        #expect(try again.events(after: 0, limit: 10) == [event])
    }

    @Test func aFloorAtTheCeilingFollowedByDamageStaysAtTheCeiling() throws {
        let garbage = [UInt8](repeating: 0x5A, count: 1000)
        let folder = try journalFolder([Journal.headerRecord(floor: Journal.maxSeq, dropped: 0), garbage])
        let journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        defer { journal.close() }
        let tail = try #require(journal.recovery.truncatedTail)
        #expect(tail.seqFloor == Journal.maxSeq, "saturated, not overflowed")
        #expect(journal.lastSeq == Journal.maxSeq)
        let error = thrown(StoreError.self) { try journal.append([relayDraft(1, at: t0)]) }
        #expect(error?.code == .seqCeiling)
        try journal.markDelivered(through: Journal.maxSeq)
        #expect(journal.deliveredThrough == Journal.maxSeq)
    }

    // MARK: The journal's own files

    @Test(arguments: [Hostile.fifo, .devZero, .folder])
    func aJournalOrLockThatIsNoRegularFileIsSetAsideAndANewOneStarted(what: Hostile) throws {
        for name in ["outbox.journal", "outbox.lock"] {
            let folder = try TemporaryFolder()
            try what.make(at: folder.file(name))
            let journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
            let kind = what == .fifo ? "a FIFO" : what == .devZero ? "a character device" : "a folder"
            #expect(journal.recovery.notes.contains { $0.contains("\(folder.file(name)) was \(kind), not a file the agent wrote") },
                    "\(journal.recovery.problems)")
            #expect(try folder.names().contains { $0.hasPrefix(name + ".corrupt-") })
            let event = try journal.append([relayDraft(1, at: t0)])[0]
            #expect(event.seq == 1)
            try journal.markDelivered(through: 1)
            journal.close()
            let again = try Journal(directory: folder.path, maxBytes: 1 << 20)
            defer { again.close() }
            #expect(again.recovery.isClean, "\(again.recovery.problems)")
            #expect(try again.events(after: 0, limit: 10) == [event])
        }
    }

    @Test func foldersWhereLeftoversAreRemovedStopNeitherTheJournalNorCompactionNorTheSnapshot() throws {
        let folder = try TemporaryFolder()
        for name in ["outbox.journal.compacting", "outbox.delivered.tmp-0123456789abcdef", "state.snapshot.tmp-0123456789abcdef"] {
            try Hostile.folder.make(at: folder.file(name))
        }
        let journal = try Journal(directory: folder.path, maxBytes: 8192, compaction: .manual)
        defer { journal.close() }
        #expect(journal.recovery.notes.count == 1)
        #expect(journal.recovery.notes.first?.contains("outbox.journal.compacting was a folder, in the way of compaction") == true,
                "\(journal.recovery.notes)")
        for i in 0..<60 { _ = try journal.append([zoneDraft("z", faulted: i % 2 == 0, at: t0 + Millis(i))]) }
        #expect(try journal.compact() != nil)
        try journal.markDelivered(through: journal.lastSeq)
        let snapshot = SnapshotFile(path: folder.file("state.snapshot"))
        try snapshot.save([1])
        #expect(try snapshot.load() == [1])
        #expect(try folder.names().contains("state.snapshot.tmp-0123456789abcdef"), "a folder is none of ours: left alone")
    }

    @Test func aSparseSixtyFourGigabyteJournalOpensAtOnceAndItsHoleIsKeptAsAHole() throws {
        let folder = try TemporaryFolder()
        var journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        let events = try journal.append([relayDraft(1, at: t0), relayDraft(2, at: t0)])
        journal.close()
        let path = folder.file("outbox.journal")
        let goodSize = try readBytes(path).count
        #expect(truncate(path, 1 << 36) == 0)

        journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        let tail = try #require(journal.recovery.truncatedTail)
        #expect(tail.offset == goodSize && tail.length == (1 << 36) - goodSize)
        var st = stat()
        #expect(stat(tail.copiedTo, &st) == 0)
        #expect(Int(st.st_size) == tail.length, "the copy reads the same")
        #expect(Int(st.st_blocks) * 512 < 1 << 20, "the hole was not written out")
        #expect(try journal.events(after: 0, limit: 10) == events)
        let next = try journal.append([relayDraft(3, at: t0)])[0]
        #expect(next.seq == 2 + Int64((tail.length + 127) / 128) + 1, "above any seq the tail could have held")
        try journal.markDelivered(through: next.seq)
        journal.close()
        let again = try Journal(directory: folder.path, maxBytes: 1 << 20)
        defer { again.close() }
        #expect(again.recovery.isClean)
    }

    @Test func aHoleInTheMiddleIsSkippedWithoutReadingIt() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("outbox.journal")
        let header = Journal.headerRecord(floor: 0, dropped: 0)
        try writeBytes(header + eventRecord(seq: 1, 1), to: path)
        // 16 GB of hole, then one more record.
        let fd = open(path, O_WRONLY)
        defer { close(fd) }
        let later = eventRecord(seq: 2, 2)
        let at: off_t = 1 << 34
        #expect(later.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, at) } == later.count)

        let journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        defer { journal.close() }
        #expect(journal.recovery.damaged.count == 1)
        #expect(journal.recovery.damaged.first?.reason == "bad magic")
        #expect(journal.recovery.truncatedTail == nil)
        #expect(try journal.events(after: 0, limit: 10).map(\.seq) == [1, 2])
        #expect(try journal.append([relayDraft(3, at: t0)])[0].seq == 3)
    }

    @Test func aFileOfManyDamagedRegionsListsAHundredAndCountsTheRest() throws {
        let folder = try TemporaryFolder()
        var journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        _ = try journal.append((0..<260).map { relayDraft($0, at: t0) })
        journal.close()
        let path = folder.file("outbox.journal")
        var bytes = try readBytes(path)
        let offsets = recordOffsets(bytes)   // header, then events 1...260
        for i in stride(from: 1, to: 260, by: 2) { bytes[offsets[i] + 30] ^= 0x01 }   // 130 of them
        try writeBytes(bytes, to: path)

        journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        defer { journal.close() }
        let report = journal.recovery
        #expect(report.damaged.count == RecoveryReport.maxListedDamage)
        #expect(report.unlistedDamage == 30)
        var damagedBytes = 0
        for i in stride(from: 1, to: 260, by: 2) { damagedBytes += offsets[i + 1] - offsets[i] }
        #expect(report.bytesSkipped == damagedBytes)
        #expect(report.problems.count == RecoveryReport.maxListedDamage + 1)
        #expect(report.problems.last?.hasPrefix("30 more damaged regions") == true)
        #expect(try allEvents(journal).count == 130)
    }

    // MARK: 5. The delivery mark as a file

    @Test(arguments: Hostile.allCases)
    func aDeliveryMarkThatIsNoRegularFileOrTooLargeIsSetAsideUnread(what: Hostile) throws {
        let folder = try TemporaryFolder()
        var journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        _ = try journal.append([relayDraft(1, at: t0), relayDraft(2, at: t0)])
        try journal.markDelivered(through: 1)
        journal.close()
        let mark = folder.file("outbox.delivered")
        #expect(unlink(mark) == 0)
        try what.make(at: mark)

        journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        #expect(journal.deliveredThrough == 0, "delivered again from the start: at-least-once")
        #expect(journal.stats.pending == 2)
        let note = journal.recovery.notes.first ?? ""
        #expect(journal.recovery.notes.count == 1)
        #expect(note.contains("the delivery mark is unreadable"), "\(note)")
        #expect(note.contains(what == .sparse ? "68719476736 bytes" : "not a regular file"), "\(note)")
        #expect(try folder.names().contains { $0.hasPrefix("outbox.delivered.corrupt-") })
        try journal.markDelivered(through: 2)
        #expect(try journal.append([relayDraft(3, at: t0)])[0].seq == 3)
        journal.close()
        let again = try Journal(directory: folder.path, maxBytes: 1 << 20)
        defer { again.close() }
        #expect(again.recovery.isClean, "\(again.recovery.problems)")
        #expect(again.deliveredThrough == 2)
    }
}

@Suite struct HostileSmallFileTests {
    @Test(arguments: Hostile.allCases)
    func readRefusesWhatIsNoRegularFileOrOverTheLimitAtOnce(what: Hostile) throws {
        let folder = try TemporaryFolder()
        let path = folder.file("file")
        try what.make(at: path)
        let error = thrown(StoreError.self) { try AtomicFile.read(path, limit: Frame.maxFileSize) }
        #expect(error?.code == what.code)
        #expect(error?.path == path)
        #expect(error?.description.contains(what == .sparse ? "is 68719476736 bytes, more than the 16777236 expected"
                                                           : "is not a regular file") == true, "\(String(describing: error))")
    }

    @Test func theLimitIsTheLargestSizeRead() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("file")
        try writeBytes([1, 2, 3, 4], to: path)
        #expect(try AtomicFile.read(path, limit: 4) == [1, 2, 3, 4])
        let error = thrown(StoreError.self) { try AtomicFile.read(path, limit: 3) }
        #expect(error?.code == .tooLarge)
        #expect(try AtomicFile.read(folder.file("missing"), limit: 3) == nil)
    }

    @Test(arguments: Hostile.allCases)
    func aSnapshotThatIsNoRegularFileOrTooLargeIsSetAsideAndTheAgentStartsWithout(what: Hostile) throws {
        let folder = try TemporaryFolder()
        let path = folder.file("state.snapshot")
        try what.make(at: path)
        let snapshot = SnapshotFile(path: path)
        let error = thrown(StoreError.self) { try snapshot.load() }
        #expect(error?.code == .corrupt)
        let aside = try folder.names().filter { $0.hasPrefix("state.snapshot.corrupt-") }
        #expect(aside.count == 1)
        #expect(error?.message.contains("cannot be used") == true)
        #expect(error?.message.contains(aside.first ?? "?") == true, "\(String(describing: error))")
        #expect(try snapshot.load() == nil, "the agent starts from no snapshot")
        try snapshot.save([7])
        #expect(try snapshot.load() == [7])
    }
}

@Suite struct HostileRecordLogTests {
    func ledgerRecord(id: String, at: Int64, answered: Bool = true) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let entry = CommandLedger.Entry(id: id, at: at, result: answered ? ["status": "succeeded"] : nil)
        return Frame.encode(kind: .ledger, seq: 0, payload: Array(try encoder.encode(entry)))
    }

    @Test func entriesWithAnImpossibleTimeAreDroppedAndRetentionNeverOverflows() throws {
        // The auditor's file: "at": -9223372036854775808 in a ledger over 1 MiB (compacted at open).
        let folder = try TemporaryFolder()
        let now: Int64 = 1_795_975_200_000
        var bytes = try ledgerRecord(id: "cmd_old", at: Int64.min) + ledgerRecord(id: "cmd_future", at: Int64.max, answered: false)
        var n = 0
        while bytes.count <= CommandLedger.compactionFloorBytes {
            bytes += try ledgerRecord(id: "cmd_\(n)", at: now - 1000)
            n += 1
        }
        try writeBytes(bytes, to: folder.file("commands.ledger"))

        let ledger = try CommandLedger(directory: folder.path, now: now)
        #expect(ledger.problems.count == 1)
        #expect(ledger.problems.first?.contains("2 entries with an impossible time (outside years 0000-9999) dropped") == true,
                "\(ledger.problems)")
        #expect(ledger.problems.first?.contains("\"cmd_old\" at -9223372036854775808") == true)
        #expect(!ledger.contains("cmd_old") && !ledger.contains("cmd_future"))
        #expect(ledger.count == n, "the others were kept (recent)")
        #expect(ledger.byteCount < bytes.count, "compacted at open")
        try ledger.recordReceived("cmd_new", now: now)
        try ledger.recordResult("cmd_new", result: ["status": "succeeded"], now: now)
        // Clocks far out of range do not trap either, and times written are clamped into range.
        try ledger.recordReceived("cmd_edge", now: Int64.min)
        try ledger.recordResult("cmd_edge", result: ["status": "succeeded"], now: Int64.max)
        #expect(try ledger.entry("cmd_edge")?.at == CommandLedger.validTimes.upperBound)
        #expect(try ledger.compact(now: Int64.min).isEmpty)
        #expect(ledger.contains("cmd_edge"))
        #expect(try ledger.compact(now: Int64.max).isEmpty)
        #expect(ledger.count == 0, "everything answered is past the retention at the end of time")

        let again = try CommandLedger(directory: folder.path, now: now)
        #expect(again.problems.isEmpty, "\(again.problems)")
        try again.recordReceived("cmd_after", now: now)
        #expect(again.contains("cmd_after"))
    }

    @Test func expiryIsOverflowChecked() {
        let week = CommandLedger.retentionMs
        #expect(CommandLedger.expired(at: 0, now: week))
        #expect(!CommandLedger.expired(at: 1, now: week))
        #expect(CommandLedger.expired(at: Int64.min, now: 1))
        #expect(!CommandLedger.expired(at: Int64.max, now: -1))
        #expect(!CommandLedger.expired(at: Int64.max, now: Int64.min))
        #expect(CommandLedger.expired(at: Int64.min, now: Int64.max))
    }

    @Test func aRecordThatDecodesAsNoEntryIsReported() throws {
        let folder = try TemporaryFolder()
        try writeBytes(Frame.encode(kind: .ledger, seq: 0, payload: Array("{\"at\":1e300}".utf8))
                       + ledgerRecord(id: "cmd_a", at: 1000), to: folder.file("commands.ledger"))
        let ledger = try CommandLedger(directory: folder.path, now: 2000)
        #expect(ledger.problems == ["\(folder.file("commands.ledger")): 1 record(s) verified but are not ledger entries; skipped"])
        #expect(ledger.contains("cmd_a"))
    }

    @Test func overTheReadLimitOnlyTheNewestRecordsAreRead() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("log")
        var bytes: [UInt8] = []
        for i in 0..<100 { bytes += Frame.encode(kind: .deadLetter, seq: 0, payload: Array("record \(i) of the file".utf8)) }
        try writeBytes(bytes, to: path)
        let size = bytes.count / 100
        var seen: [String] = []
        let log = try RecordLog.open(path: path, kind: .deadLetter, readLimit: 10 * size + size / 2) { payload, _ in
            seen.append(String(decoding: payload, as: UTF8.self))
        }
        #expect(seen == (90..<100).map { "record \($0) of the file" })
        #expect(log.problems.count == 1)
        #expect(log.problems.first?.contains("only its last \(10 * size + size / 2) bytes were read") == true, "\(log.problems)")
        #expect(log.byteCount == bytes.count, "nothing was cut: the part not read is not damage")
        let location = try log.append(Array("after".utf8))
        #expect(try log.read(location) == Array("after".utf8))
    }

    @Test func aRecordTooLargeToReadBackIsNotWritten() throws {
        let folder = try TemporaryFolder()
        let log = try RecordLog.open(path: folder.file("log"), kind: .deadLetter) { _, _ in }
        let error = thrown(StoreError.self) { try log.append([UInt8](repeating: 0x20, count: Frame.maxFilePayload + 1)) }
        #expect(error?.code == .tooLarge)
        #expect(log.byteCount == 0)
    }

    @Test(arguments: [Hostile.fifo, .devZero, .folder])
    func aLedgerOrDeadLetterFileThatIsNoRegularFileIsSetAside(what: Hostile) throws {
        let folder = try TemporaryFolder()
        try what.make(at: folder.file("commands.ledger"))
        try what.make(at: folder.file("dead-letter.log"))
        let ledger = try CommandLedger(directory: folder.path, now: 1000)
        #expect(ledger.problems.count == 1)
        #expect(ledger.problems.first?.contains("not a file the agent wrote") == true, "\(ledger.problems)")
        try ledger.recordReceived("cmd_a", now: 1000)
        let deadLetters = try DeadLetterFile(directory: folder.path)
        #expect(deadLetters.problems.count == 1)
        #expect(deadLetters.count == 0)
        try deadLetters.add(Event(id: "evt_01KB0000000000000000000000", seq: 1, type: "zone.faulted",
                                  occurredAt: "2026-11-29T18:00:00.000Z", data: [:]), code: "invalid_event", message: "m", at: 0)
        #expect(deadLetters.count == 1)
        #expect(try folder.names().filter { $0.contains(".corrupt-") }.count == 2)
        #expect(try CommandLedger(directory: folder.path, now: 1000).contains("cmd_a"))
        #expect(try DeadLetterFile(directory: folder.path).count == 1)
    }
}

@Suite struct SeqRangeTests {
    @Test func recordsOutsideTheirKindsSeqRangeAreRefusedLikeDamage() {
        func check(_ kind: Frame.Kind, _ seq: Int64) -> Frame.Check {
            Frame.encode(kind: kind, seq: seq, payload: [1]).withUnsafeBytes { Frame.check($0, maxPayload: 100) }
        }
        #expect(check(.event, 1) == .ok(kind: .event, seq: 1, length: 1))
        #expect(check(.event, Journal.maxSeq) == .ok(kind: .event, seq: Journal.maxSeq, length: 1))
        #expect(check(.event, 0) == .bad("seq 0 out of range (1...2^53)"))
        #expect(check(.event, Journal.maxSeq + 1) == .bad("seq 9007199254740993 out of range (1...2^53)"))
        for kind in [Frame.Kind.header, .seqFloor, .delivered] {
            #expect(check(kind, 0) == .ok(kind: kind, seq: 0, length: 1))
            #expect(check(kind, -1) == .bad("seq -1 out of range (0...2^53)"))
            #expect(check(kind, Int64.min) == .bad("seq -9223372036854775808 out of range (0...2^53)"))
        }
        for kind in [Frame.Kind.snapshot, .ledger, .deadLetter] {
            #expect(check(kind, Int64.max) == .ok(kind: kind, seq: Int64.max, length: 1), "not a seq: never used in arithmetic")
        }
        #expect(Journal.maxSeq == 9_007_199_254_740_992)
    }

    @Test func saturatingAddStopsAtTheCeiling() {
        #expect(Journal.saturatingAdd(1, 2) == 3)
        #expect(Journal.saturatingAdd(Journal.maxSeq - 1, 5) == Journal.maxSeq)
        #expect(Journal.saturatingAdd(Int64.max, Int64.max) == Journal.maxSeq)
    }
}
