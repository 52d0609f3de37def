import BridgeCore
import Glibc
import Testing
@testable import BridgeStore

@Suite struct CommandLedgerTests {
    func tempDir() -> String {
        var template = Array("/tmp/chekt-ledger-test-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    @Test func entriesSurviveReopenWithTheirResults() throws {
        let dir = tempDir()
        do {
            let ledger = try CommandLedger(directory: dir, now: 1000)
            try ledger.recordReceived("cmd_a", now: 1000)
            try ledger.recordResult("cmd_a", result: ["status": "succeeded"], now: 1001)
            try ledger.recordReceived("cmd_b", now: 1002)
        }
        let again = try CommandLedger(directory: dir, now: 2000)
        #expect(again.entry("cmd_a")?.result == ["status": "succeeded"])
        #expect(again.entry("cmd_b") != nil)
        #expect(again.entry("cmd_b")?.result == nil)
        #expect(again.openEntries() == ["cmd_b"])
        #expect(again.entry("cmd_c") == nil)
    }

    @Test func aTornLastRecordIsCutAndEarlierOnesKept() throws {
        let dir = tempDir()
        do {
            let ledger = try CommandLedger(directory: dir, now: 1000)
            try ledger.recordReceived("cmd_a", now: 1000)
            try ledger.recordReceived("cmd_b", now: 1001)
        }
        let path = dir + "/commands.ledger"
        var st = stat()
        stat(path, &st)
        #expect(truncate(path, off_t(st.st_size - 5)) == 0)
        let again = try CommandLedger(directory: dir, now: 2000)
        #expect(again.entry("cmd_a") != nil)
        #expect(again.entry("cmd_b") == nil)
        try again.recordReceived("cmd_c", now: 2001)
        let third = try CommandLedger(directory: dir, now: 3000)
        #expect(third.entry("cmd_c") != nil)
        #expect(third.count == 2)
    }

    @Test func compactionDropsOnlyEntriesPastRetention() throws {
        let dir = tempDir()
        let ledger = try CommandLedger(directory: dir, now: 0)
        try ledger.recordResult("old", result: ["status": "succeeded"], now: 0)
        try ledger.recordResult("new", result: ["status": "failed"], now: CommandLedger.retentionMs)
        try ledger.compact(now: CommandLedger.retentionMs + 1)
        let again = try CommandLedger(directory: dir, now: CommandLedger.retentionMs + 2)
        #expect(again.entry("old") == nil)
        #expect(again.entry("new")?.result == ["status": "failed"])
    }

    @Test func deadLettersAreCountedAcrossReopen() throws {
        let dir = tempDir()
        let event = Event(id: "evt_x", seq: 7, type: "zone.faulted", occurredAt: "2026-11-29T18:00:00.000Z", data: ["zone": "z"])
        do {
            let file = try DeadLetterFile(directory: dir)
            #expect(file.count == 0)
            try file.add(event, code: "invalid_event", message: "bad", at: 0)
            try file.add(event, code: "http_422", message: "refused", at: 1)
        }
        let again = try DeadLetterFile(directory: dir)
        #expect(again.count == 2)
        let bytes = try #require(try AtomicFile.read(dir + "/dead-letter.log"))
        #expect(String(decoding: bytes, as: UTF8.self).contains("\"code\":\"http_422\""))
    }

    @Test func aLedgerInAFolderThatCannotExistFailsClearly() throws {
        let dir = tempDir()
        let file = dir + "/plain"
        #expect(creat(file, 0o600) >= 0)
        #expect(throws: StoreError.self) { _ = try CommandLedger(directory: file + "/sub", now: 0) }
    }
}
