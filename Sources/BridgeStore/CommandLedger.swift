import BridgeCore
import FoundationEssentials

/// The command ledger: every platform command id, recorded (fsync'd) before it is executed, and its result after.
///
/// This is what makes commands at-most-once (protocol.md, Commands): an id already in the ledger is never executed
/// again; its stored result is re-sent. An id recorded as received with no result was interrupted mid-execution
/// (a crash or power cut): it is not executed again either, and is answered `failed` (see docs/protocol.md).
/// Entries are kept `retentionMs` (7 days) after their last change.
///
/// Memory: per id, only when it was written, whether it has a result, and where its record is in the file (about
/// 0.2 KB, `chekt-bridge-bench growth`); a result is read back from the file when a repeated id needs it. Holding
/// decoded results cost about 1.1 KB per command, 7 days long (7.7 MB at 1,000 commands a day).
/// The file is rewritten without expired entries once it passes 1 MiB and twice its size after the last rewrite,
/// so a busy site does not rewrite it at every command.
/// Not thread-safe: one owner (the uplink's command thread).
public final class CommandLedger {
    public struct Entry: Sendable, Equatable, Codable {
        public var id: String
        /// When the entry was last written (epoch ms).
        public var at: Int64
        /// nil while executing; the result body (status, code, message, completed_at, state) once done.
        public var result: JSONObject?
        public init(id: String, at: Int64, result: JSONObject?) { self.id = id; self.at = at; self.result = result }
    }

    /// What is kept in memory for one id.
    private struct Slot {
        var at: Int64
        var answered: Bool
        var record: RecordLog.Location
    }

    public static let retentionMs: Int64 = 7 * 86_400_000
    /// A rewrite is considered once the file passes this size (and twice its size after the last rewrite).
    public static let compactionFloorBytes = 1 << 20
    private let log: RecordLog
    private var slots: [String: Slot] = [:]
    private var sizeAfterRewrite = 0
    /// What opening found wrong (damaged bytes, records dropped), one line each, for the log.
    public private(set) var problems: [String] = []

    /// The times an entry may carry (epoch ms, years 0000-9999, as `Timestamp` shows them): what the agent writes
    /// (`now` is clamped to them). An entry outside was not written by the agent, and its age would overflow.
    public static let validTimes: ClosedRange<Int64> = -62_167_219_200_000...253_402_300_799_999

    /// How much of the file opening reads: its last 32 MiB, the newest entries (a ledger is rewritten once it
    /// passes 1 MiB and twice its size after the last rewrite; 32 MiB is some 100,000 commands in the 7 days kept).
    /// Memory is then bounded by what those bytes can name, about 2 bytes per byte at worst.
    public static let readLimitBytes = 32 << 20

    /// Opens `<directory>/commands.ledger`, creating it if needed.
    public init(directory: String, now: Int64) throws(StoreError) {
        let decoder = JSONDecoder()
        var slots: [String: Slot] = [:]
        var undecodable = 0, outOfRange = 0
        var examples: [String] = []
        let path = directory + "/commands.ledger"
        log = try RecordLog.open(path: path, kind: .ledger, readLimit: Self.readLimitBytes) { payload, location in
            guard let entry = try? decoder.decode(Entry.self, from: Data(payload)) else {
                undecodable += 1
                return
            }
            guard Self.validTimes.contains(entry.at) else {
                outOfRange += 1
                if examples.count < 5 { examples.append("\(entry.id.prefix(64).debugDescription) at \(entry.at)") }
                return
            }
            slots[entry.id] = Slot(at: entry.at, answered: entry.result != nil, record: location)
        }
        self.slots = slots
        problems = log.problems
        if undecodable > 0 {
            problems.append("\(path): \(undecodable) record(s) verified but are not ledger entries; skipped")
        }
        if outOfRange > 0 {
            problems.append("\(path): \(outOfRange) entries with an impossible time (outside years 0000-9999) dropped, e.g. \(examples.joined(separator: ", "))")
        }
        if compactionDue, let dropped = try? compact(now: now) { problems += dropped }  // a failed one only leaves a larger file
    }

    /// True when `id` was ever recorded (within the retention): such a command is never executed again.
    public func contains(_ id: String) -> Bool { slots[id] != nil }

    /// The entry of `id`, its result read back from the file; nil when `id` is not in the ledger. Throws when the
    /// record can no longer be read (damaged since the file was opened); the id is still `contains`ed.
    public func entry(_ id: String) throws(StoreError) -> Entry? {
        guard let slot = slots[id] else { return nil }
        guard slot.answered else { return Entry(id: id, at: slot.at, result: nil) }
        let payload = try log.read(slot.record)
        guard let entry = try? JSONDecoder().decode(Entry.self, from: Data(payload)), entry.id == id else {
            throw StoreError(code: .corrupt, path: log.path, operation: "read command \(id)", message: "its record does not hold its entry")
        }
        return entry
    }

    /// Ids received but with no result: interrupted by a crash or power cut.
    public func openEntries() -> [String] { slots.filter { !$0.value.answered }.sorted { $0.value.at < $1.value.at }.map(\.key) }
    public var count: Int { slots.count }

    /// Records that `id` is about to be executed. Durable on return.
    public func recordReceived(_ id: String, now: Int64) throws(StoreError) {
        try write(Entry(id: id, at: Self.clamped(now), result: nil))
    }

    /// Records the result of `id`. Durable on return.
    public func recordResult(_ id: String, result: JSONObject, now: Int64) throws(StoreError) {
        try write(Entry(id: id, at: Self.clamped(now), result: result))
    }

    private static func clamped(_ time: Int64) -> Int64 { min(max(time, validTimes.lowerBound), validTimes.upperBound) }

    /// True when an entry written at `at` is past the retention at `now`; no overflow, whatever the two are.
    static func expired(at: Int64, now: Int64) -> Bool {
        let (age, overflow) = now.subtractingReportingOverflow(at)
        return overflow ? now > at : age >= retentionMs
    }

    private func write(_ entry: Entry) throws(StoreError) {
        let location = try log.append(Self.encode(entry, path: log.path))
        slots[entry.id] = Slot(at: entry.at, answered: entry.result != nil, record: location)
    }

    private static func encode(_ entry: Entry, path: String) throws(StoreError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let bytes = try? encoder.encode(entry) else {
            throw StoreError(code: .invalidArgument, path: path, operation: "record command", message: "cannot encode the entry")
        }
        return Array(bytes)
    }

    /// The file's size in bytes.
    public var byteCount: Int { log.byteCount }

    /// True when the file has grown enough since the last rewrite for `compact` to be worth its write.
    public var compactionDue: Bool {
        log.byteCount > max(Self.compactionFloorBytes, 2 * sizeAfterRewrite)
    }

    /// Drops answered entries older than the retention and rewrites the file. Open entries (no result yet) are
    /// always kept, whatever the clock says: a bridge without an RTC may have recorded them in 1970.
    /// A record that can no longer be read back (damaged since the file was opened) is left out, as reopening the
    /// file would leave it out; what was dropped so is returned, one line each, for the log.
    @discardableResult
    public func compact(now: Int64) throws(StoreError) -> [String] {
        let kept = slots.filter { !$0.value.answered || !Self.expired(at: $0.value.at, now: now) }.sorted { $0.value.at < $1.value.at }
        var survivors: [(id: String, slot: Slot)] = [], payloads: [[UInt8]] = [], problems: [String] = []
        for (id, slot) in kept {
            do {
                payloads.append(try log.read(slot.record))
                survivors.append((id, slot))
            } catch {
                problems.append("\(log.path): command \(id) dropped at compaction: \(error)")
            }
        }
        let locations = try log.rewrite(payloads)
        slots = [:]
        for ((id, var slot), location) in zip(survivors, locations) {
            slot.record = location
            slots[id] = slot
        }
        sizeAfterRewrite = log.byteCount
        return problems
    }
}

/// Events the platform rejected, with its reason: `<directory>/dead-letter.log`, one checksummed record each.
///
/// Nothing is dropped silently: an event the platform refuses is moved here (fsync'd) before the outbox moves on,
/// logged, and counted in `status`. Not thread-safe: one owner (the uplink's delivery thread).
public final class DeadLetterFile {
    private let log: RecordLog
    public private(set) var count: Int
    public var problems: [String] { log.problems }
    public var path: String { log.path }

    public init(directory: String) throws(StoreError) {
        // Only counted: the records stay on disk (the file is never trimmed, so it is not held in memory).
        var count = 0
        log = try RecordLog.open(path: directory + "/dead-letter.log", kind: .deadLetter) { _, _ in count += 1 }
        self.count = count
    }

    /// Appends `{"event": ..., "code": ..., "message": ..., "at": ...}`. Durable on return.
    public func add(_ event: Event, code: String, message: String, at: Int64) throws(StoreError) {
        let record: JSONValue = ["event": event.json, "code": .string(code), "message": .string(message),
                                 "at": .string(Timestamp.rfc3339(at))]
        try log.append(record.encoded())
        count += 1
    }
}
