// The state folder's files as the agent finds them at start: the journal (`journal/outbox.journal` and its delivery
// mark `journal/outbox.delivered`), the command ledger (`commands.ledger`), the dead-letter file (`dead-letter.log`)
// and the snapshot (`state.snapshot`), each opened the way the agent opens it (Launcher, Uplink) in a fresh folder.
//
// Input: one flags byte, then the files' contents in that order, separated by "\n~~\n" (a missing part is a missing
// file; an empty part is an empty file). Flags:
//   bit 0  rewrite the CRC-32C of every record-shaped place (the fuzzer cannot compute checksums, so without this
//          almost every mutation stops at "checksum mismatch"; with it, lengths, kinds, seqs and payloads get through)
//   bit 1  journal bound 4096 bytes, and compact() after opening
//   bit 2  after opening: append an event, mark it delivered, close and open again; the reopened journal must have
//          nothing left to cut, keep the event, and the mark (a seq is never given twice)
//   bit 3-4 the ledger's `now`: 0 (no RTC), 2026, or past the 7-day retention of everything
//
// Seeds: with CHEKT_FUZZ_SEEDS=<folder> set, the binary writes inputs made with the store's own API into the folder
// and exits (Tools/fuzz/run does this before fuzzing), so no binary seed has to be kept in the repository.
import BridgeCore
import BridgeStore
import FoundationEssentials
import FuzzSupport
import Glibc

let separator = Array("\n~~\n".utf8)
let fileNames = ["journal/outbox.journal", "journal/outbox.delivered", "commands.ledger", "dead-letter.log", "state.snapshot"]
let nowChoices: [Int64] = [0, 1_795_975_200_000, 4_000_000_000_000]

/// Rewrites the checksum of every place that starts like a record (magic FF 43 42, a known kind) and holds its whole
/// payload: the CRC-32C of bytes 3..<16 and the payload (Sources/BridgeStore/Frame.swift). Last place first, so a
/// record inside another's payload is fixed before the outer checksum covers it.
func fixChecksums(_ bytes: inout [UInt8]) {
    let kinds: Set<UInt8> = [0x48, 0x45, 0x46, 0x44, 0x53, 0x4C, 0x58]
    var p = bytes.count - 20
    while p >= 0 {
        defer { p -= 1 }
        guard bytes[p] == 0xFF, bytes[p + 1] == 0x43, bytes[p + 2] == 0x42, kinds.contains(bytes[p + 3]) else { continue }
        let length = Int(bytes[p + 4]) | Int(bytes[p + 5]) << 8 | Int(bytes[p + 6]) << 16 | Int(bytes[p + 7]) << 24
        guard length <= bytes.count - p - 20 else { continue }
        let crc = CRC32C.checksum(bytes[(p + 3)..<(p + 16)] + bytes[(p + 20)..<(p + 20 + length)])
        for k in 0..<4 { bytes[p + 16 + k] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(k))) }
    }
}

/// A fresh folder in $CHEKT_FUZZ_TMPDIR (Tools/fuzz/run sets one and removes it after the run, so the folders of
/// inputs that crashed go too), else /dev/shm (no disk writes for the fsyncs), else /tmp.
func makeFolder() -> String {
    let chosen = getenv("CHEKT_FUZZ_TMPDIR").map { String(cString: $0) }
    for base in (chosen.map { [$0] } ?? []) + ["/dev/shm", "/tmp"] {
        var template = Array("\(base)/chekt-fuzz-journal-XXXXXX".utf8CString)
        if let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) { return String(cString: made) }
    }
    fatalError("cannot create a temporary folder: errno \(errno)")
}

func write(_ bytes: [UInt8], to path: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o640)
    precondition(fd >= 0, "cannot create \(path): errno \(errno)")
    var done = 0
    while done < bytes.count {
        let n = bytes[done...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        precondition(n > 0, "cannot write \(path): errno \(errno)")
        done += n
    }
    close(fd)
}

func draft(_ n: Int) -> EventDraft {
    EventDraft(.zoneFaulted, occurredAt: 1_795_975_200_000 + Int64(n), data: ["zone": "front_door", "partition": "main", "input": "in1"])
}

/// Reads the whole journal a page at a time, as the uplink and `chekt-bridge events` do; checks the order.
func readAll(_ journal: Journal, after start: Int64) {
    var after = start
    var pages = 0
    while pages < 1000 {
        pages += 1
        guard let page = try? journal.events(after: after, limit: 64), !page.isEmpty else { return }
        for event in page {
            Fuzz.require(event.seq > after, "events(after: \(after)) returned seq \(event.seq)")
            Fuzz.require(event.seq <= journal.lastSeq, "events returned seq \(event.seq) above lastSeq \(journal.lastSeq)")
            after = event.seq
        }
    }
}

func exerciseJournal(_ folder: String, flags: UInt8) {
    let directory = folder + "/journal"
    let maxBytes = flags & 2 != 0 ? 4096 : 1 << 30
    guard let journal = try? Journal(directory: directory, maxBytes: maxBytes, compaction: .manual) else { return }
    _ = journal.recovery.problems
    _ = journal.stats
    readAll(journal, after: 0)
    readAll(journal, after: journal.deliveredThrough)
    if flags & 2 != 0 {
        _ = try? journal.compact()
        readAll(journal, after: 0)
    }
    guard flags & 4 != 0 else { journal.close(); return }

    let before = journal.lastSeq
    guard let appended = try? journal.append([draft(1)]), let event = appended.first else { journal.close(); return }
    Fuzz.require(event.seq > before, "append gave seq \(event.seq), not above lastSeq \(before)")
    let marked = (try? journal.markDelivered(through: event.seq)) != nil
    journal.close()

    guard let reopened = try? Journal(directory: directory, maxBytes: maxBytes, compaction: .manual) else { return }
    defer { reopened.close() }
    Fuzz.require(reopened.recovery.truncatedTail == nil,
                 "reopened after recovery, the journal has a damaged tail again: \(reopened.recovery.problems)")
    Fuzz.require(reopened.lastSeq >= event.seq, "reopened lastSeq \(reopened.lastSeq) is below the appended seq \(event.seq)")
    if marked {
        Fuzz.require(reopened.deliveredThrough == event.seq,
                     "delivery mark \(event.seq) read back as \(reopened.deliveredThrough)")
    }
    let back = try? reopened.events(after: event.seq - 1, limit: 1)
    Fuzz.require(back?.first == event, "the appended event seq \(event.seq) did not read back: \(String(describing: back))")
}

func exerciseLedger(_ folder: String, now: Int64) {
    guard let ledger = try? CommandLedger(directory: folder, now: now) else { return }
    _ = ledger.problems
    for id in ledger.openEntries().prefix(16) { _ = try? ledger.entry(id) }
    _ = try? ledger.recordReceived("cmd_fuzz", now: now)
    _ = try? ledger.recordResult("cmd_fuzz", result: ["status": "succeeded"], now: now)
    Fuzz.require(ledger.contains("cmd_fuzz"), "a recorded command id is not in the ledger")
    _ = try? ledger.compact(now: now)
    Fuzz.require(ledger.contains("cmd_fuzz"), "compaction dropped a command id recorded just now")
}

func exerciseDeadLetters(_ folder: String) {
    guard let file = try? DeadLetterFile(directory: folder) else { return }
    _ = file.problems
    let before = file.count
    let event = Event(id: "evt_01KB0000000000000000000000", seq: 1, type: "zone.faulted",
                      occurredAt: "2026-11-29T18:00:00.000Z", data: [:])
    if (try? file.add(event, code: "invalid_event", message: "fuzz", at: 0)) != nil {
        Fuzz.require(file.count == before + 1, "dead-letter count \(file.count) after one add to \(before)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Fuzz.bytes(data, size)
    guard let flags = bytes.first else { return 0 }
    var parts = Fuzz.parts(Array(bytes.dropFirst()), separator: separator, limit: fileNames.count)
    if flags & 1 != 0 { for i in parts.indices { fixChecksums(&parts[i]) } }

    let folder = makeFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    guard mkdir(folder + "/journal", 0o750) == 0 else { fatalError("mkdir: errno \(errno)") }
    for (part, name) in zip(parts, fileNames) { write(part, to: folder + "/" + name) }

    exerciseJournal(folder, flags: flags)
    exerciseLedger(folder, now: nowChoices[Int(flags >> 3 & 3) % nowChoices.count])
    exerciseDeadLetters(folder)
    _ = try? SnapshotFile(path: folder + "/state.snapshot").load()
    return 0
}

// MARK: Seeds

/// With CHEKT_FUZZ_SEEDS set: writes seeds made with the store's API there, then exits.
@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<Int32>?,
                       _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32 {
    guard let target = getenv("CHEKT_FUZZ_SEEDS").map({ String(cString: $0) }) else { return 0 }
    // _exit, not exit: this frame's strings are still alive, which LeakSanitizer's exit check would call leaks.
    do {
        try writeSeeds(to: target)
    } catch {
        Fuzz.printError("fuzz-journal: cannot write seeds: \(error)")
        _exit(1)
    }
    _exit(0)
}

func read(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { return out }
        out += buffer[0..<n]
    }
}

func writeSeeds(to target: String) throws {
    let folder = makeFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let journal = try Journal(directory: folder + "/journal", maxBytes: 1 << 20, compaction: .manual)
    _ = try journal.append([draft(1), draft(2)])
    _ = try journal.append([EventDraft(.alarmCreated, occurredAt: 1_795_975_200_100,
                                       data: ["alarm_id": "alm_1", "partition": "main", "zone": "front_door", "kind": "burglary"])])
    try journal.markDelivered(through: 2)
    _ = try journal.append([EventDraft(.relayActivated, occurredAt: 1_795_975_200_200,
                                       data: ["relay": "door_strike", "mode": "pulse", "duration_ms": 3000, "source": "command"])])
    journal.close()
    let ledger = try CommandLedger(directory: folder, now: 1_795_975_200_000)
    try ledger.recordReceived("cmd_1", now: 1_795_975_200_000)
    try ledger.recordResult("cmd_1", result: ["status": "succeeded", "completed_at": "2026-11-29T18:00:00.123Z"], now: 1_795_975_200_100)
    try ledger.recordReceived("cmd_2", now: 1_795_975_200_200)
    let deadLetters = try DeadLetterFile(directory: folder)
    try deadLetters.add(Event(id: "evt_01KB0000000000000000000000", seq: 3, type: "zone.faulted",
                              occurredAt: "2026-11-29T18:00:00.000Z", data: ["zone": "front_door"]),
                        code: "invalid_event", message: "unknown zone", at: 1_795_975_200_300)
    try SnapshotFile(path: folder + "/state.snapshot").save(Array(#"{"format":1,"partitions":{"main":"disarmed"}}"#.utf8))

    let files = fileNames.map { read(folder + "/" + $0) ?? [] }
    func seed(_ name: String, flags: UInt8, _ parts: [[UInt8]]) {
        var input: [UInt8] = [flags]
        for (i, part) in parts.enumerated() {
            if i > 0 { input += separator }
            input += part
        }
        write(input, to: target + "/" + name)
    }
    let journalBytes = files[0]
    seed("generated-all-files", flags: 1, files)
    seed("generated-reopen", flags: 1 | 4, files)
    seed("generated-compact", flags: 1 | 2 | 4, files)
    seed("generated-journal-only", flags: 1, [journalBytes])
    seed("generated-torn-tail", flags: 0 | 4, [Array(journalBytes.dropLast(7))] + Array(files.dropFirst()))
    seed("generated-ledger-old", flags: 1 | (2 << 3), [[], [], files[2]])
}
