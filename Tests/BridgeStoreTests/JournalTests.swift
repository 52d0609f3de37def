import BridgeCore
@testable import BridgeStore
import Foundation
import Glibc
import Testing
import TestSupport

@Suite struct JournalTests {
    @Test func appendThenReadGivesExactlyTheFieldsRecorded() throws {
        let folder = try TemporaryFolder()
        let journal = try Journal(directory: folder.file("j"), maxBytes: 1 << 20)
        defer { journal.close() }
        let data: JSONObject = ["relay": "door_strike", "mode": "pulse", "duration_ms": 3000, "source": "command",
                                "command_id": "cmd_1", "nested": ["list": [1, "two", true, nil], "x": 1.5],
                                "text": "quote \" slash / unicode é ✓"]
        let recorded = try journal.append([EventDraft(.relayActivated, occurredAt: t0 + 123, data: data),
                                           EventDraft(type: "custom.type", occurredAt: t0 + 124)])
        #expect(recorded.map(\.seq) == [1, 2])
        #expect(recorded[0].type == "relay.activated")
        #expect(recorded[0].occurredAt == "2025-11-29T18:00:00.123Z")
        #expect(recorded[0].data == data)
        #expect(recorded[1].data == [:])
        #expect(recorded.allSatisfy { EventID.isWellFormed($0.id) })

        let read = try journal.events(after: 0, limit: 10)
        #expect(read == recorded)
        #expect(try journal.events(after: 1, limit: 10) == [recorded[1]])
        #expect(try journal.events(after: 2, limit: 10).isEmpty)
        #expect(try journal.events(after: 0, limit: 1) == [recorded[0]])
        #expect(try journal.events(after: 0, limit: 0).isEmpty)
        #expect(journal.lastSeq == 2)
    }

    @Test func storedPayloadIsTheProtocolJSONWithSortedKeys() throws {
        let folder = try TemporaryFolder()
        let journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        let e = try journal.append([EventDraft(.zoneFaulted, occurredAt: t0, data: ["zone": "z1", "partition": "p", "input": "i"])])[0]
        journal.close()
        let bytes = try readBytes(folder.file("outbox.journal"))
        let offsets = recordOffsets(bytes)
        #expect(offsets.count == 2, "header + one event")
        let payload = String(decoding: bytes[(offsets[1] + 20)...], as: UTF8.self)
        #expect(payload == #"{"data":{"input":"i","partition":"p","zone":"z1"},"id":"\#(e.id)","occurred_at":"2025-11-29T18:00:00.000Z","seq":1,"type":"zone.faulted"}"#)
        #expect(payload == String(decoding: e.json.encoded(), as: UTF8.self), "the bytes the uplink would send")
    }

    @Test func seqContinuesAcrossReopenAndNothingIsLost() throws {
        let folder = try TemporaryFolder()
        var all: [Event] = []
        for round in 0..<3 {
            let journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
            #expect(journal.recovery.isClean)
            #expect(journal.recovery.records == round * 5)
            #expect(journal.lastSeq == Int64(round * 5))
            for i in 0..<5 {
                all += try journal.append([relayDraft(i, at: t0 + Millis(round * 10 + i))])
            }
            journal.close()
        }
        #expect(all.map(\.seq) == Array(1...15))
        let journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        defer { journal.close() }
        #expect(try allEvents(journal) == all)
    }

    @Test func idsAreUniqueULIDShapedAndFollowOccurredAt() throws {
        let folder = try TemporaryFolder()
        let journal = try Journal(directory: folder.path, maxBytes: 1 << 22)
        defer { journal.close() }
        var events: [Event] = []
        for i in 0..<300 {
            events += try journal.append([zoneDraft("z", faulted: i % 2 == 0, at: t0 + Millis(i * 7)),
                                          zoneDraft("z", faulted: i % 2 == 0, at: t0 + Millis(i * 7))])
        }
        #expect(Set(events.map(\.id)).count == events.count)
        #expect(events.allSatisfy { EventID.isWellFormed($0.id) })
        for (a, b) in zip(events, events.dropFirst()) where Timestamp.parse(a.occurredAt)! < Timestamp.parse(b.occurredAt)! {
            #expect(a.id < b.id)
        }
        #expect(events.allSatisfy { EventID.time(of: $0.id) == Timestamp.parse($0.occurredAt) })
    }

    @Test func readsPageThroughManyIndexStrides() throws {
        let folder = try TemporaryFolder()
        let journal = try Journal(directory: folder.path, maxBytes: 1 << 24)
        var recorded: [Event] = []
        for i in 0..<40 {
            recorded += try journal.append((0..<50).map { relayDraft(i * 50 + $0, at: t0 + Millis(i)) })
        }
        #expect(journal.stats.bytesOnDisk > 8 * SparseIndex.strideBytes)
        #expect(try allEvents(journal, page: 7) == recorded)
        // Every starting point finds the right next event, also right after an index entry.
        for after in stride(from: Int64(0), through: 2000, by: 37) {
            let page = try journal.events(after: after, limit: 3)
            #expect(page.map(\.seq) == Array((after + 1)...(after + 3)).filter { $0 <= 2000 })
        }
        journal.close()
        let reopened = try Journal(directory: folder.path, maxBytes: 1 << 24)
        defer { reopened.close() }
        #expect(try reopened.events(after: 1234, limit: 2) == Array(recorded[1234...1235]))
    }

    @Test func deliveryMarkIsPersistedAndCountsPending() throws {
        let folder = try TemporaryFolder()
        var journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        #expect(journal.stats.pending == 0)
        #expect(journal.stats.oldestPendingAt == nil)
        for i in 0..<10 { _ = try journal.append([relayDraft(i, at: t0 + Millis(i) * 1000)]) }
        #expect(journal.stats.pending == 10)
        #expect(journal.stats.oldestPendingAt == t0)
        try journal.markDelivered(through: 4)
        #expect(journal.deliveredThrough == 4)
        #expect(journal.stats.pending == 6)
        #expect(journal.stats.oldestPendingAt == t0 + 4000)
        try journal.markDelivered(through: 2)   // going back is a no-op
        #expect(journal.deliveredThrough == 4)
        #expect(throws: StoreError.self) { try journal.markDelivered(through: 11) }
        journal.close()

        journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        #expect(journal.deliveredThrough == 4)
        #expect(journal.stats.pending == 6)
        #expect(journal.stats.records == 10)
        #expect(journal.stats.oldestPendingAt == t0 + 4000)
        try journal.markDelivered(through: 10)
        #expect(journal.stats.pending == 0)
        #expect(journal.stats.oldestPendingAt == nil)
        _ = try journal.append([relayDraft(99, at: t0 + 99_000)])
        #expect(journal.stats.pending == 1)
        #expect(journal.stats.oldestPendingAt == t0 + 99_000)
        journal.close()
        #expect(try folder.names().contains("outbox.delivered"))
        #expect(!(try folder.names().contains { $0.contains(".tmp-") }))
    }

    @Test func markAboveLastSeqIsRefusedWithAReason() throws {
        let folder = try TemporaryFolder()
        let journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        defer { journal.close() }
        let error = thrown(StoreError.self) { try journal.markDelivered(through: 1) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("last recorded seq is 0") == true)
    }

    @Test func closedJournalRefusesWorkAndReleasesItsLock() throws {
        let folder = try TemporaryFolder()
        let journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        let second = thrown(StoreError.self) { try Journal(directory: folder.path, maxBytes: 1 << 20) }
        #expect(second?.code == .locked)
        #expect(second?.message.contains("another process") == true)
        journal.close()
        journal.close()
        #expect((thrown(StoreError.self) { try journal.append([relayDraft(1, at: t0)]) })?.code == .closed)
        #expect((thrown(StoreError.self) { try journal.events(after: 0, limit: 1) })?.code == .closed)
        let again = try Journal(directory: folder.path, maxBytes: 1 << 20)
        again.close()
    }

    @Test func oversizedEventIsRefusedAndNothingIsWritten() throws {
        let folder = try TemporaryFolder()
        let journal = try Journal(directory: folder.path, maxBytes: 1 << 20)
        defer { journal.close() }
        let huge = EventDraft(.relayActivated, occurredAt: t0, data: ["blob": .string(String(repeating: "x", count: 300_000))])
        let error = thrown(StoreError.self) { try journal.append([relayDraft(1, at: t0), huge]) }
        #expect(error?.code == .tooLarge)
        #expect(journal.lastSeq == 0)
        #expect(try journal.append([relayDraft(1, at: t0)])[0].seq == 1)
    }

    @Test func newFolderIsCreatedWithMode0750() throws {
        let folder = try TemporaryFolder()
        let journal = try Journal(directory: folder.file("a/b/journal"), maxBytes: 1 << 20)
        journal.close()
        var st = stat()
        #expect(stat(folder.file("a/b/journal"), &st) == 0)
        #expect(st.st_mode & 0o777 == 0o750)
        #expect(stat(folder.file("a/b/journal/outbox.journal"), &st) == 0)
        #expect(st.st_mode & 0o777 == 0o640)
    }

    @Test func tinyBoundIsRefused() throws {
        let folder = try TemporaryFolder()
        let error = thrown(StoreError.self) { try Journal(directory: folder.path, maxBytes: 100) }
        #expect(error?.code == .invalidArgument)
    }
}
