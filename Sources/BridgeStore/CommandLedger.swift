import BridgeCore
import FoundationEssentials

/// The command ledger: every platform command id, recorded (fsync'd) before it is executed, and its result after.
///
/// This is what makes commands at-most-once (protocol.md, Commands): an id already in the ledger is never executed
/// again; its stored result is re-sent. An id recorded as received with no result was interrupted mid-execution
/// (a crash or power cut): it is not executed again either, and is answered `failed` (see docs/protocol.md).
/// Entries are kept `retentionMs` (7 days) after their last change; the file is rewritten when it passes 1 MiB.
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

    public static let retentionMs: Int64 = 7 * 86_400_000
    private let log: RecordLog
    private var entries: [String: Entry] = [:]
    public var problems: [String] { log.problems }

    /// Opens `<directory>/commands.ledger`, creating it if needed.
    public init(directory: String, now: Int64) throws(StoreError) {
        let (log, payloads) = try RecordLog.open(path: directory + "/commands.ledger", kind: .ledger)
        self.log = log
        let decoder = JSONDecoder()
        for payload in payloads {
            guard let entry = try? decoder.decode(Entry.self, from: Data(payload)) else { continue }
            entries[entry.id] = entry
        }
        if log.byteCount > 1 << 20 { try? compact(now: now) }  // a failed compaction only leaves a larger file
    }

    public func entry(_ id: String) -> Entry? { entries[id] }

    /// Ids received but with no result: interrupted by a crash or power cut.
    public func openEntries() -> [String] { entries.values.filter { $0.result == nil }.sorted { $0.at < $1.at }.map(\.id) }
    public var count: Int { entries.count }

    /// Records that `id` is about to be executed. Durable on return.
    public func recordReceived(_ id: String, now: Int64) throws(StoreError) {
        try write(Entry(id: id, at: now, result: nil))
    }

    /// Records the result of `id`. Durable on return.
    public func recordResult(_ id: String, result: JSONObject, now: Int64) throws(StoreError) {
        try write(Entry(id: id, at: now, result: result))
    }

    private func write(_ entry: Entry) throws(StoreError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let bytes = try? encoder.encode(entry) else {
            throw StoreError(code: .invalidArgument, path: log.path, operation: "record command", message: "cannot encode the entry")
        }
        try log.append(Array(bytes))
        entries[entry.id] = entry
    }

    /// The file's size in bytes.
    public var byteCount: Int { log.byteCount }

    /// Drops answered entries older than the retention and rewrites the file. Open entries (no result yet) are
    /// always kept, whatever the clock says: a bridge without an RTC may have recorded them in 1970.
    public func compact(now: Int64) throws(StoreError) {
        entries = entries.filter { $0.value.result == nil || now - $0.value.at < Self.retentionMs }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let kept = entries.values.sorted { $0.at < $1.at }.compactMap { try? encoder.encode($0) }.map { Array($0) }
        try log.rewrite(kept)
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
        let (log, payloads) = try RecordLog.open(path: directory + "/dead-letter.log", kind: .deadLetter)
        self.log = log
        count = payloads.count
    }

    /// Appends `{"event": ..., "code": ..., "message": ..., "at": ...}`. Durable on return.
    public func add(_ event: Event, code: String, message: String, at: Int64) throws(StoreError) {
        let record: JSONValue = ["event": event.json, "code": .string(code), "message": .string(message),
                                 "at": .string(Timestamp.rfc3339(at))]
        try log.append(record.encoded())
        count += 1
    }
}
