import BridgeCore
@testable import BridgeStore
import Foundation
import Synchronization
import Testing

@Suite struct JournalCompactionTests {
    let bound = 8192

    func frameSize(_ e: Event) -> Int { 20 + e.json.encoded().count }

    @Test func deliveredEventsGoFirstAndAreNotCountedAsDropped() throws {
        let folder = try TemporaryFolder()
        let journal = try Journal(directory: folder.path, maxBytes: bound, compaction: .manual)
        defer { journal.close() }
        var events: [Event] = []
        for i in 0..<50 { events += try journal.append([alarmDraft(i, at: t0 + Millis(i))]) }
        #expect(journal.stats.bytesOnDisk > bound)
        try journal.markDelivered(through: 30)

        let summary = try #require(try journal.compact())
        #expect(summary.retired > 0 && summary.retired <= 30)
        #expect(summary.dropped == 0)
        #expect(summary.bytesAfter <= bound / 4 * 3)
        #expect(journal.stats.bytesOnDisk == summary.bytesAfter)
        #expect(journal.stats.dropped == 0)
        #expect(journal.stats.pending == 20)
        // The oldest delivered ones went, and no more than needed.
        let left = try allEvents(journal)
        #expect(left == Array(events[summary.retired...]))
        #expect(summary.bytesAfter + frameSize(events[summary.retired - 1]) > bound / 4 * 3)
    }

    @Test func zonePairsGoFirstWhileAlarmsResultsAndOtherEventsStay() throws {
        let folder = try TemporaryFolder()
        var journal = try Journal(directory: folder.path, maxBytes: bound, compaction: .manual)
        var events: [Event] = []
        let cycles = 7
        for k in 0..<cycles {
            let t = t0 + Millis(k * 10)
            events += try journal.append([alarmDraft(k, at: t), resultDraft(k, at: t)])
            events += try journal.append([zoneDraft("z\(k % 3)", faulted: true, at: t + 1)])
            events += try journal.append([relayDraft(k, at: t + 2)])
            events += try journal.append([zoneDraft("z\(k % 3)", faulted: false, at: t + 3),
                                          zoneDraft("y", faulted: true, at: t + 4)])
            events += try journal.append([zoneDraft("y", faulted: false, at: t + 5)])
        }
        #expect(journal.stats.bytesOnDisk > bound)

        let summary = try #require(try journal.compact())
        #expect(summary.retired == 0)
        #expect(summary.zonePairs > 0)
        #expect(summary.droppedZoneEvents == 2 * summary.zonePairs)
        #expect(summary.droppedOther == 0)
        #expect(summary.bytesAfter <= bound / 4 * 3)
        #expect(journal.stats.dropped == Int64(summary.dropped))
        #expect(!summary.overBound && !journal.stats.overBound)

        let left = try allEvents(journal)
        let leftIDs = Set(left.map(\.id))
        let gone = events.filter { !leftIDs.contains($0.id) }
        #expect(gone.count == summary.dropped)
        #expect(gone.allSatisfy { $0.eventType == .zoneFaulted || $0.eventType == .zoneRestored })
        #expect(left.filter { $0.eventType == .alarmCreated }.count == cycles)
        #expect(left.filter { $0.eventType == .commandResult }.count == cycles)
        #expect(left.filter { $0.eventType == .relayActivated }.count == cycles)
        // Whole pairs of one zone, and the oldest ones.
        for zone in ["z0", "z1", "z2", "y"] {
            let dropped = gone.filter { $0.data["zone"]?.stringValue == zone }
            #expect(dropped.count % 2 == 0)
            #expect(zip(dropped, dropped.dropFirst()).enumerated().allSatisfy { i, pair in
                i % 2 == 1 || (pair.0.eventType == .zoneFaulted && pair.1.eventType == .zoneRestored)
            })
        }
        let newestGone = try #require(gone.map(\.seq).max())
        let oldestKeptZone = try #require(left.filter { $0.eventType == .zoneFaulted || $0.eventType == .zoneRestored }.map(\.seq).min())
        #expect(newestGone < oldestKeptZone)

        // seq continues after compaction, and across a reopen, with the count kept.
        let next = try journal.append([relayDraft(99, at: t0 + 1000)])[0]
        #expect(next.seq == events.last!.seq + 1)
        journal.close()
        journal = try Journal(directory: folder.path, maxBytes: bound, compaction: .manual)
        defer { journal.close() }
        #expect(journal.recovery.isClean, "\(journal.recovery.problems)")
        #expect(journal.stats.dropped == Int64(summary.dropped))
        #expect(journal.lastSeq == next.seq)
        #expect(try allEvents(journal) == left + [next])
    }

    @Test func unpairedZoneEventsGoBeforeEventsOfOtherTypes() throws {
        let folder = try TemporaryFolder()
        let journal = try Journal(directory: folder.path, maxBytes: bound, compaction: .manual)
        defer { journal.close() }
        for k in 0..<25 {
            _ = try journal.append([zoneDraft("zone\(k)", faulted: true, at: t0 + Millis(k))])   // never restored
            _ = try journal.append([relayDraft(k, at: t0 + Millis(k))])
        }
        let summary = try #require(try journal.compact())
        #expect(summary.zonePairs == 0)
        #expect(summary.droppedZoneEvents > 0)
        #expect(summary.droppedOther == 0)
        #expect(try allEvents(journal).filter { $0.eventType == .relayActivated }.count == 25)
    }

    @Test func otherTypesGoOnlyWhenNoZoneEventsAreLeftAndNeverDroppedOnesStay() throws {
        let folder = try TemporaryFolder()
        let journal = try Journal(directory: folder.path, maxBytes: bound, compaction: .manual)
        defer { journal.close() }
        var events: [Event] = []
        for k in 0..<25 {
            events += try journal.append([relayDraft(k, at: t0 + Millis(k))])
            events += try journal.append([alarmDraft(k, at: t0 + Millis(k))])
        }
        _ = try journal.append([zoneDraft("z", faulted: true, at: t0 + 100), zoneDraft("z", faulted: false, at: t0 + 101)])
        let summary = try #require(try journal.compact())
        #expect(summary.zonePairs == 1)
        #expect(summary.droppedOther > 0)
        #expect(summary.bytesAfter <= bound / 4 * 3)
        let left = try allEvents(journal)
        #expect(left.filter { $0.eventType == .alarmCreated }.count == 25)
        // The oldest relay events went.
        let keptRelays = left.filter { $0.eventType == .relayActivated }.map(\.seq)
        let allRelays = events.filter { $0.eventType == .relayActivated }.map(\.seq)
        #expect(keptRelays == Array(allRelays.suffix(keptRelays.count)))
        #expect(journal.stats.dropped == Int64(2 + summary.droppedOther))
    }

    @Test func onlyNeverDroppedEventsLeftExceedTheBoundAndSaySo() throws {
        let folder = try TemporaryFolder()
        let journal = try Journal(directory: folder.path, maxBytes: bound, compaction: .inline)
        defer { journal.close() }
        var events: [Event] = []
        for k in 0..<60 {
            events += try journal.append([k % 2 == 0 ? alarmDraft(k, at: t0) : resultDraft(k, at: t0)])
        }
        #expect(journal.stats.bytesOnDisk > bound)
        #expect(journal.stats.overBound)
        #expect(journal.stats.compactions == 0, "nothing could go, so nothing was rewritten")
        #expect(journal.stats.dropped == 0)
        #expect(try allEvents(journal) == events)

        // Once delivered they may go: the next growth compacts.
        try journal.markDelivered(through: 40)
        _ = try journal.append([alarmDraft(99, at: t0)])
        #expect(journal.stats.compactions == 1)
        #expect(!journal.stats.overBound)
        #expect(journal.stats.bytesOnDisk <= bound)
        #expect(journal.stats.dropped == 0)
        #expect(journal.stats.pending == 21)
    }

    @Test func aFullyCompactedJournalStillContinuesItsSeq() throws {
        let folder = try TemporaryFolder()
        var journal = try Journal(directory: folder.path, maxBytes: 4096, compaction: .manual)
        let big = EventDraft(.deviceOnline, occurredAt: t0, data: ["blob": .string(String(repeating: "b", count: 5000))])
        _ = try journal.append([relayDraft(0, at: t0), big])
        try journal.markDelivered(through: 2)
        let summary = try #require(try journal.compact())
        #expect(summary.retired == 2)
        #expect(journal.stats.records == 0)
        journal.close()
        journal = try Journal(directory: folder.path, maxBytes: 4096, compaction: .manual)
        defer { journal.close() }
        #expect(journal.lastSeq == 2)
        #expect(try journal.append([relayDraft(1, at: t0)])[0].seq == 3)
    }

    @Test func inlineCompactionKeepsEveryAppendWithinTheBound() throws {
        let folder = try TemporaryFolder()
        let journal = try Journal(directory: folder.path, maxBytes: bound, compaction: .inline)
        defer { journal.close() }
        var alarms: [Event] = []
        for k in 0..<200 {
            if k % 10 == 0 { alarms += try journal.append([alarmDraft(k, at: t0 + Millis(k))]) }
            _ = try journal.append([zoneDraft("z\(k % 4)", faulted: k % 8 < 4, at: t0 + Millis(k))])
            #expect(journal.stats.bytesOnDisk <= bound)
        }
        #expect(journal.stats.compactions > 1)
        #expect(journal.stats.dropped > 0)
        let left = try allEvents(journal)
        #expect(left.filter { $0.eventType == .alarmCreated } == alarms)
        #expect(zip(left, left.dropFirst()).allSatisfy { $0.seq < $1.seq })
        #expect(Int64(left.count) + journal.stats.dropped == 220)
        #expect(!(try folder.names().contains("outbox.journal.compacting")))
    }

    @Test func backgroundCompactionRacingManyWritersLosesNothingThatMustStay() throws {
        let folder = try TemporaryFolder()
        let journal = try Journal(directory: folder.path, maxBytes: 16384, compaction: .background)
        let writers = 4, perWriter = 300
        let alarms = Mutex<[Event]>([])
        let failures = Mutex<[String]>([])
        onThreads(writers) { w in
            for k in 0..<perWriter {
                do {
                    if k % 50 == 0 {
                        let e = try journal.append([alarmDraft(k, at: t0)])
                        alarms.withLock { $0 += e }
                    } else {
                        _ = try journal.append([zoneDraft("w\(w)", faulted: k % 2 == 1, at: t0)])
                    }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        _ = try journal.compact()   // waits for a running one, then finishes the job if still over
        #expect(journal.stats.bytesOnDisk <= 16384)
        #expect(journal.stats.compactions >= 1)
        #expect(journal.stats.compactionError == nil)
        let dropped = journal.stats.dropped
        journal.close()

        let reopened = try Journal(directory: folder.path, maxBytes: 16384)
        defer { reopened.close() }
        #expect(reopened.recovery.isClean, "\(reopened.recovery.problems)")
        let left = try allEvents(reopened)
        let expectedAlarms = alarms.withLock { $0 }.sorted { $0.seq < $1.seq }
        #expect(left.filter { $0.eventType == .alarmCreated } == expectedAlarms)
        #expect(zip(left, left.dropFirst()).allSatisfy { $0.seq < $1.seq })
        #expect(Int64(left.count) + dropped == Int64(writers * perWriter))
        #expect(reopened.stats.dropped == dropped)
        #expect(reopened.lastSeq == Int64(writers * perWriter))
    }

    @Test func compactionAlsoClearsDamagedRegions() throws {
        let folder = try TemporaryFolder()
        var journal = try Journal(directory: folder.path, maxBytes: bound, compaction: .manual)
        for k in 0..<45 { _ = try journal.append([alarmDraft(k, at: t0)]) }
        journal.close()
        let path = folder.file("outbox.journal")
        var bytes = try readBytes(path)
        let offsets = recordOffsets(bytes)
        bytes[offsets[5] + 30] ^= 1
        try writeBytes(bytes, to: path)
        journal = try Journal(directory: folder.path, maxBytes: bound, compaction: .manual)
        defer { journal.close() }
        #expect(journal.recovery.damaged.count == 1)
        let summary = try #require(try journal.compact())
        #expect(summary.dropped == 0)
        #expect(summary.bytesAfter < summary.bytesBefore)
        #expect(try allEvents(journal).count == 44)
    }
}
