import BridgeCore
import Glibc
import Testing
@testable import BridgeStore

@Suite struct CommandLedgerTests {
    func tempDir() -> String {
        var template = Array("/tmp/chekt-ledger-test-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    /// Overwrites, in place, the byte `offset` bytes after the first occurrence of `text` in the file (damage a
    /// checksum must catch).
    func damage(_ path: String, at text: String, offset: Int = 0, with byte: UInt8) throws {
        let bytes = try #require(try AtomicFile.read(path, limit: 1 << 20))
        let needle = Array(text.utf8)
        let at = try #require((0...(bytes.count - needle.count)).first { Array(bytes[$0..<($0 + needle.count)]) == needle })
        let fd = open(path, O_WRONLY)
        #expect(fd >= 0)
        var replacement = byte
        #expect(pwrite(fd, &replacement, 1, off_t(at + offset)) == 1)
        close(fd)
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
        #expect(try again.entry("cmd_a")?.result == ["status": "succeeded"])
        #expect(try again.entry("cmd_b") != nil)
        #expect(try again.entry("cmd_b")?.result == nil)
        #expect(again.openEntries() == ["cmd_b"])
        #expect(try again.entry("cmd_c") == nil)
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
        #expect(try again.entry("cmd_a") != nil)
        #expect(try again.entry("cmd_b") == nil)
        try again.recordReceived("cmd_c", now: 2001)
        let third = try CommandLedger(directory: dir, now: 3000)
        #expect(try third.entry("cmd_c") != nil)
        #expect(third.count == 2)
    }

    @Test func compactionDropsOnlyEntriesPastRetention() throws {
        let dir = tempDir()
        let ledger = try CommandLedger(directory: dir, now: 0)
        try ledger.recordResult("old", result: ["status": "succeeded"], now: 0)
        try ledger.recordResult("new", result: ["status": "failed"], now: CommandLedger.retentionMs)
        try ledger.compact(now: CommandLedger.retentionMs + 1)
        let again = try CommandLedger(directory: dir, now: CommandLedger.retentionMs + 2)
        #expect(try again.entry("old") == nil)
        #expect(try again.entry("new")?.result == ["status": "failed"])
    }

    /// Results stay in the file; the ledger reads them back, also after a rewrite moved every record.
    @Test func resultsAreReadBackFromTheFileAfterAppendsAndRewrites() throws {
        let dir = tempDir()
        let ledger = try CommandLedger(directory: dir, now: 0)
        for i in 0..<50 {
            try ledger.recordReceived("cmd_\(i)", now: Int64(i))
            try ledger.recordResult("cmd_\(i)", result: ["status": "succeeded", "message": .string("n\(i)")], now: Int64(i))
        }
        #expect(try ledger.entry("cmd_7")?.result?["message"] == "n7")
        try ledger.compact(now: 100)
        #expect(ledger.count == 50)
        #expect(try ledger.entry("cmd_7")?.result?["message"] == "n7")
        #expect(try ledger.entry("cmd_49")?.result?["message"] == "n49")
        // Appends after the rewrite land after the rewritten records.
        try ledger.recordResult("cmd_50", result: ["status": "failed"], now: 101)
        #expect(try ledger.entry("cmd_50")?.result == ["status": "failed"])
        #expect(try ledger.entry("cmd_0")?.result?["message"] == "n0")
        let again = try CommandLedger(directory: dir, now: 102)
        #expect(try again.entry("cmd_50")?.result == ["status": "failed"])
        #expect(again.count == 51)
    }

    /// A busy site must not rewrite the file at every command: once past 1 MiB, the next rewrite waits until the
    /// file has doubled since the last one.
    @Test func compactionIsDueOnlyWhenTheFileHasGrownEnough() throws {
        let dir = tempDir()
        let ledger = try CommandLedger(directory: dir, now: 0)
        let filler = JSONValue.string(String(repeating: "x", count: 1000))
        var i = 0
        while !ledger.compactionDue {
            try ledger.recordResult("cmd_\(i)", result: ["status": "succeeded", "message": filler], now: 1)
            i += 1
        }
        #expect(ledger.byteCount > CommandLedger.compactionFloorBytes)
        try ledger.compact(now: 2)  // nothing is past the retention: the file stays as large
        let afterRewrite = ledger.byteCount
        #expect(afterRewrite > CommandLedger.compactionFloorBytes)
        #expect(!ledger.compactionDue)
        try ledger.recordResult("cmd_next", result: ["status": "succeeded", "message": filler], now: 3)
        #expect(!ledger.compactionDue)
        while ledger.byteCount <= 2 * afterRewrite {
            #expect(!ledger.compactionDue)
            try ledger.recordResult("cmd_\(i)", result: ["status": "succeeded", "message": filler], now: 3)
            i += 1
        }
        #expect(ledger.compactionDue)
    }

    /// A record damaged after the file was opened: the id stays known (never executed again), reading its result
    /// fails clearly, and a compaction leaves it out and says so.
    @Test func aRecordDamagedAfterOpeningIsReportedNotMisread() throws {
        let dir = tempDir()
        let ledger = try CommandLedger(directory: dir, now: 0)
        try ledger.recordResult("cmd_a", result: ["status": "succeeded", "message": "first"], now: 1)
        try ledger.recordResult("cmd_b", result: ["status": "succeeded", "message": "second"], now: 2)
        try damage(dir + "/commands.ledger", at: "first", with: UInt8(ascii: "F"))
        #expect(ledger.contains("cmd_a"))
        #expect(throws: StoreError.self) { _ = try ledger.entry("cmd_a") }
        #expect(try ledger.entry("cmd_b")?.result?["message"] == "second")
        let dropped = try ledger.compact(now: 3)
        #expect(dropped.count == 1)
        #expect(dropped.first?.contains("cmd_a") == true)
        #expect(try ledger.entry("cmd_b")?.result?["message"] == "second")
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
        let bytes = try #require(try AtomicFile.read(dir + "/dead-letter.log", limit: 1 << 20))
        #expect(String(decoding: bytes, as: UTF8.self).contains("\"code\":\"http_422\""))
    }

    /// Damaged bytes found when opening are skipped and reported, for the ledger and the dead-letter file alike.
    @Test func damageFoundAtOpeningIsReported() throws {
        let dir = tempDir()
        let event = Event(id: "evt_x", seq: 7, type: "zone.faulted", occurredAt: "2026-11-29T18:00:00.000Z", data: ["zone": "z"])
        do {
            let ledger = try CommandLedger(directory: dir, now: 0)
            try ledger.recordResult("cmd_first", result: ["status": "succeeded"], now: 1)
            try ledger.recordResult("cmd_second", result: ["status": "succeeded"], now: 2)
            let deadLetters = try DeadLetterFile(directory: dir)
            try deadLetters.add(event, code: "first", message: "m", at: 0)
            try deadLetters.add(event, code: "second", message: "m", at: 1)
        }
        try damage(dir + "/commands.ledger", at: "cmd_first", offset: 1, with: UInt8(ascii: "#"))
        try damage(dir + "/dead-letter.log", at: "\"first\"", offset: 1, with: UInt8(ascii: "#"))
        let ledger = try CommandLedger(directory: dir, now: 3)
        #expect(!ledger.contains("cmd_first"))
        #expect(ledger.contains("cmd_second"))
        #expect(ledger.problems.count == 1)
        let deadLetters = try DeadLetterFile(directory: dir)
        #expect(deadLetters.count == 1)
        #expect(deadLetters.problems.count == 1)
    }

    @Test func aLedgerInAFolderThatCannotExistFailsClearly() throws {
        let dir = tempDir()
        let file = dir + "/plain"
        #expect(creat(file, 0o600) >= 0)
        #expect(throws: StoreError.self) { _ = try CommandLedger(directory: file + "/sub", now: 0) }
    }
}
