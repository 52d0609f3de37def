import BridgeCore
@testable import BridgeStore
import Foundation
import Glibc
import Testing

/// A fresh folder under /tmp for one test, removed when the value goes away.
final class TemporaryFolder {
    let path: String

    init() throws {
        var template = Array("/tmp/chekt-store-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        let path = try #require(made.map { String(cString: $0) }, "mkdtemp failed: errno \(errno)")
        self.path = path
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }

    /// Names in the folder (or a sub-folder), sorted.
    func names(_ sub: String? = nil) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: sub.map { path + "/" + $0 } ?? path).sorted()
    }
}

func readBytes(_ path: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}

func writeBytes(_ bytes: [UInt8], to path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

func appendBytes(_ bytes: [UInt8], to path: String) throws {
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    try handle.seekToEnd()
    try handle.write(contentsOf: Data(bytes))
}

/// Record start offsets of a journal file, walked with the documented layout (not the store's
/// own scanner): offset 4 holds the u32 LE payload length, a record is 20 + length bytes.
func recordOffsets(_ bytes: [UInt8]) -> [Int] {
    var offsets: [Int] = []
    var p = 0
    while p + 20 <= bytes.count {
        offsets.append(p)
        let length = Int(bytes[p + 4]) | Int(bytes[p + 5]) << 8 | Int(bytes[p + 6]) << 16 | Int(bytes[p + 7]) << 24
        p += 20 + length
    }
    return offsets
}

/// A zone.faulted or zone.restored draft.
func zoneDraft(_ zone: String, faulted: Bool, at t: Millis) -> EventDraft {
    EventDraft(faulted ? .zoneFaulted : .zoneRestored, occurredAt: t,
               data: ["zone": .string(zone), "partition": "main", "input": .string("in_" + zone)])
}

func alarmDraft(_ n: Int, at t: Millis) -> EventDraft {
    EventDraft(.alarmCreated, occurredAt: t,
               data: ["alarm_id": .string("alm_\(n)"), "partition": "main", "zone": "front_door", "kind": "burglary"])
}

func resultDraft(_ n: Int, at t: Millis) -> EventDraft {
    EventDraft(.commandResult, occurredAt: t,
               data: ["command_id": .string("cmd_\(n)"), "status": "succeeded", "completed_at": "2026-11-29T18:00:00.000Z"])
}

func relayDraft(_ n: Int, at t: Millis) -> EventDraft {
    EventDraft(.relayActivated, occurredAt: t,
               data: ["relay": .string("door_\(n)"), "mode": "pulse", "duration_ms": 3000, "source": "command"])
}

/// Runs `body(i)` on `count` new threads at once and waits for all of them.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for i in 0..<count {
        group.enter()
        let thread = Thread {
            body(i)
            group.leave()
        }
        thread.start()
    }
    group.wait()
}

/// All events of a journal, read in pages of `page`.
func allEvents(_ journal: Journal, page: Int = 1000) throws -> [Event] {
    var out: [Event] = []
    var after: Int64 = 0
    while true {
        let batch = try journal.events(after: after, limit: page)
        if batch.isEmpty { return out }
        out += batch
        after = batch[batch.count - 1].seq
    }
}

let t0: Millis = 1_764_439_200_000   // 2025-11-29T18:00:00Z
