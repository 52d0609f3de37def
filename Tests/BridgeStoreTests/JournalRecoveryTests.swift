import BridgeCore
@testable import BridgeStore
import Foundation
import Glibc
import Testing
import TestSupport

@Suite struct JournalRecoveryTests {
    /// A journal with `count` relay events, closed; returns them.
    func makeJournal(_ folder: TemporaryFolder, count: Int) throws -> [Event] {
        let journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        defer { journal.close() }
        var events: [Event] = []
        for i in 0..<count { events += try journal.append([relayDraft(i, at: t0 + Millis(i))]) }
        return events
    }

    var journalPath: (TemporaryFolder) -> String { { $0.file("outbox.journal") } }

    @Test func tornTailIsReportedCutKeptAsideAndTheSeqContinuesAboveIt() throws {
        let folder = try TemporaryFolder()
        let events = try makeJournal(folder, count: 3)
        let path = journalPath(folder)
        let goodSize = try readBytes(path).count
        // Half of a fourth record, as a power cut in the middle of its write leaves it.
        var record: [UInt8] = []
        PreparedEvent(relayDraft(3, at: t0 + 3)).frame(seq: 4, into: &record)
        let torn = Array(record[0..<(record.count / 2)])
        try appendBytes(torn, to: path)

        let journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        let report = journal.recovery
        #expect(report.records == 3)
        #expect(report.damaged.count == 1)
        #expect(report.damaged.first?.offset == goodSize)
        #expect(report.damaged.first?.length == torn.count)
        #expect(report.damaged.first?.reason.hasPrefix("truncated record") == true)
        let tail = try #require(report.truncatedTail)
        #expect(tail.offset == goodSize)
        #expect(tail.length == torn.count)
        #expect(try readBytes(tail.copiedTo) == torn, "the removed bytes are kept unchanged")
        #expect(tail.copiedTo.hasPrefix(path + ".corrupt-"))
        #expect(report.problems.count == 1)
        #expect(report.problems[0].contains("copied to \(tail.copiedTo)"))
        // A seq the torn record might have had is never given again.
        #expect(tail.seqFloor >= 4)
        #expect(journal.lastSeq == tail.seqFloor)

        #expect(try journal.events(after: 0, limit: 10) == events)
        let next = try journal.append([relayDraft(9, at: t0 + 9)])[0]
        #expect(next.seq == tail.seqFloor + 1)
        journal.close()

        // The repair is durable: the next open is clean and keeps the numbering.
        let again = try Journal(directory: folder.path, maxBytes: 1 << 20)
        defer { again.close() }
        #expect(again.recovery.isClean, "\(again.recovery.problems)")
        #expect(again.lastSeq == next.seq)
        #expect(try again.events(after: 0, limit: 10) == events + [next])
        #expect(try again.append([relayDraft(10, at: t0 + 10)])[0].seq == next.seq + 1)
    }

    @Test func tornHeaderOfTheLastRecordIsHandledTheSameWay() throws {
        let folder = try TemporaryFolder()
        _ = try makeJournal(folder, count: 2)
        try appendBytes([0xFF, 0x43, 0x42, 0x45, 0x10], to: journalPath(folder))
        let journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        defer { journal.close() }
        #expect(journal.recovery.truncatedTail?.length == 5)
        #expect(journal.recovery.damaged.first?.reason.hasPrefix("truncated record header") == true)
        #expect(try journal.events(after: 0, limit: 10).count == 2)
    }

    @Test func corruptMiddleRecordIsSkippedAndReportedAndTheRestIsRead() throws {
        let folder = try TemporaryFolder()
        let events = try makeJournal(folder, count: 5)
        let path = journalPath(folder)
        var bytes = try readBytes(path)
        let offsets = recordOffsets(bytes)   // header, then events 1...5
        #expect(offsets.count == 6)
        bytes[offsets[3] + 40] ^= 0x01      // one bit of event 3's payload
        try writeBytes(bytes, to: path)

        let journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        let report = journal.recovery
        #expect(report.damaged == [DamagedRegion(path: path, offset: offsets[3], length: offsets[4] - offsets[3],
                                                 reason: "checksum mismatch")])
        #expect(report.truncatedTail == nil)
        #expect(report.records == 4)
        #expect(report.problems == ["\(offsets[4] - offsets[3]) damaged bytes at offset \(offsets[3]) of \(path) (checksum mismatch): skipped; the records after them were read"])
        #expect(try journal.events(after: 0, limit: 10).map(\.seq) == [1, 2, 4, 5])
        #expect(try journal.events(after: 2, limit: 1) == [events[3]])
        #expect(try journal.append([relayDraft(6, at: t0)])[0].seq == 6)
        #expect(journal.stats.records == 5)
        journal.close()
        #expect(try readBytes(path).count > bytes.count, "nothing was cut: the damage is not at the tail")
    }

    @Test(arguments: [
        (0, "bad magic"),          // the magic
        (3, "unknown record kind 0x47"), // 'E' ^ 0x02
        (7, "impossible length"),  // the top byte of the length
        (9, "checksum mismatch"),  // the seq
    ])
    func damagedHeaderFieldsAreNamedAndResyncFindsTheNextRecord(field: Int, reason: String) throws {
        let folder = try TemporaryFolder()
        _ = try makeJournal(folder, count: 4)
        let path = journalPath(folder)
        var bytes = try readBytes(path)
        let offsets = recordOffsets(bytes)
        bytes[offsets[2] + field] ^= (field == 3 ? 0x02 : 0x40)
        try writeBytes(bytes, to: path)

        let journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        defer { journal.close() }
        #expect(journal.recovery.damaged.count == 1)
        #expect(journal.recovery.damaged.first?.offset == offsets[2])
        #expect(journal.recovery.damaged.first?.length == offsets[3] - offsets[2])
        #expect(journal.recovery.damaged.first?.reason.hasPrefix(reason) == true, "\(journal.recovery.damaged)")
        #expect(try journal.events(after: 0, limit: 10).map(\.seq) == [1, 3, 4])
    }

    @Test func bitRotInTheLastCompleteRecordRaisesTheFloorAboveEverySeqItCouldHaveHeld() throws {
        let folder = try TemporaryFolder()
        _ = try makeJournal(folder, count: 3)
        let path = journalPath(folder)
        var bytes = try readBytes(path)
        let offsets = recordOffsets(bytes)
        bytes[offsets[3] + 30] ^= 0x04
        try writeBytes(bytes, to: path)
        let length = bytes.count - offsets[3]

        let journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        defer { journal.close() }
        let tail = try #require(journal.recovery.truncatedTail)
        #expect(tail.length == length)
        #expect(tail.seqFloor == 2 + Int64((length + Frame.minimumEventFrame - 1) / Frame.minimumEventFrame))
        #expect(tail.seqFloor >= 3, "seq 3 was written and may have been delivered: it is not reused")
        #expect(try journal.append([relayDraft(0, at: t0)])[0].seq == tail.seqFloor + 1)
    }

    @Test func garbageFromTheStartIsKeptAsideAndAFreshHeaderWritten() throws {
        let folder = try TemporaryFolder()
        let path = journalPath(folder)
        var rng = SystemRandomNumberGenerator()
        let garbage = (0..<1000).map { _ in UInt8.random(in: 0...0xFE, using: &rng) }
        try writeBytes(garbage, to: path)

        let journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        let tail = try #require(journal.recovery.truncatedTail)
        #expect(tail.offset == 0 && tail.length == 1000)
        #expect(try readBytes(tail.copiedTo) == garbage)
        #expect(journal.recovery.notes.contains { $0.contains("header is missing") })
        #expect(try journal.append([relayDraft(0, at: t0)])[0].seq == 9)   // above ceil(1000 / 128) = 8
        journal.close()
        let again = try Journal(directory: folder.path, maxBytes: 1 << 20)
        defer { again.close() }
        #expect(again.recovery.isClean)
        #expect(again.lastSeq == 9)
    }

    @Test func damagedHeaderLosesOnlyTheDroppedCount() throws {
        let folder = try TemporaryFolder()
        _ = try makeJournal(folder, count: 2)
        let path = journalPath(folder)
        var bytes = try readBytes(path)
        bytes[25] ^= 0x01
        try writeBytes(bytes, to: path)
        let journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        defer { journal.close() }
        #expect(journal.recovery.damaged.first?.offset == 0)
        #expect(journal.recovery.truncatedTail == nil)
        #expect(journal.recovery.notes.contains { $0.contains("header is missing") })
        #expect(try journal.events(after: 0, limit: 10).count == 2)
        #expect(journal.stats.dropped == 0)
    }

    @Test func unreadableDeliveryMarkIsSetAsideAndEverythingIsOfferedAgain() throws {
        let folder = try TemporaryFolder()
        _ = try makeJournal(folder, count: 4)
        var journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        try journal.markDelivered(through: 3)
        journal.close()
        let mark = folder.file("outbox.delivered")
        var bytes = try readBytes(mark)
        bytes[bytes.count - 2] ^= 0x20
        try writeBytes(bytes, to: mark)

        journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        defer { journal.close() }
        #expect(journal.deliveredThrough == 0)
        #expect(journal.stats.pending == 4)
        #expect(journal.recovery.notes.count == 1)
        #expect(journal.recovery.notes[0].contains("delivery mark is unreadable (checksum mismatch)"))
        let aside = try folder.names().filter { $0.hasPrefix("outbox.delivered.corrupt-") }
        #expect(aside.count == 1)
        #expect(try readBytes(folder.file(aside[0])) == bytes)
        #expect(journal.lastSeq == 4)
    }

    @Test func deliveryMarkAheadOfALostJournalKeepsSeqsAboveIt() throws {
        let folder = try TemporaryFolder()
        _ = try makeJournal(folder, count: 5)
        var journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        try journal.markDelivered(through: 5)
        journal.close()
        try FileManager.default.removeItem(atPath: journalPath(folder))   // e.g. deleted by hand
        journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        defer { journal.close() }
        #expect(journal.lastSeq == 5)
        #expect(try journal.append([relayDraft(0, at: t0)])[0].seq == 6)
        #expect(journal.stats.pending == 1)
    }

    @Test func leftoversOfAnInterruptedCompactionOrMarkWriteAreRemoved() throws {
        let folder = try TemporaryFolder()
        _ = try makeJournal(folder, count: 1)
        try writeBytes([1, 2, 3], to: folder.file("outbox.journal.compacting"))
        try writeBytes([1, 2, 3], to: folder.file("outbox.delivered.tmp-00000000deadbeef"))
        let journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        defer { journal.close() }
        #expect(try folder.names() == ["outbox.journal", "outbox.lock"])
        #expect(journal.recovery.isClean)
    }

    /// No gap: the failed batch's seqs were seen by no one (the durable end did not move), so the next append
    /// is numbered from them, and its bytes replace the debris.
    @Test func failedWriteLeavesNoGapAndItsDebrisIsCut() throws {
        let folder = try TemporaryFolder()
        let path = journalPath(folder)
        let journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        let first = try journal.append([relayDraft(0, at: t0)])
        // The next commit "fails" after half-writing, as ENOSPC in the middle of a write would.
        journal.setBeforeCommit {
            journal.setBeforeCommit(nil)
            try? appendBytes([0xFF, 0x43, 0x42, 0x45, 1, 2, 3, 4, 5, 6, 7], to: path)
            return StoreError(path: path, operation: "write", errno: ENOSPC, message: "write failed: No space left on device")
        }
        let error = thrown(StoreError.self) { try journal.append([relayDraft(1, at: t0), relayDraft(2, at: t0)]) }
        #expect(error?.code == .noSpace)
        #expect(journal.lastSeq == 1)
        #expect(try journal.events(after: 0, limit: 10).map(\.seq) == [1])
        let next = try journal.append([relayDraft(3, at: t0)])
        #expect(next[0].seq == 2, "the failed write's seqs 2 and 3 were never durable: 2 is the next")
        journal.close()
        let again = try Journal(directory: folder.path, maxBytes: 1 << 20)
        defer { again.close() }
        #expect(again.recovery.isClean, "\(again.recovery.problems)")
        #expect(try again.events(after: 0, limit: 10).map(\.seq) == [1, 2])
        #expect(try again.events(after: 0, limit: 10).map(\.id) == [first[0].id, next[0].id])
    }
}
