import BridgeCore
import FoundationEssentials

/// The snapshot file's document: the engine's persisted state with a format version and when it was saved.
struct SnapshotDocument: Codable {
    static let currentVersion = 1
    var version: Int
    var savedAt: String
    var engine: PersistedState

    enum CodingKeys: String, CodingKey { case version, savedAt = "saved_at", engine }

    static func encode(_ state: PersistedState, savedAt: Millis) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(SnapshotDocument(version: currentVersion, savedAt: Timestamp.rfc3339(savedAt), engine: state)))
    }

    /// The version is read first, alone: another version's `engine` may have any shape, and the error must say
    /// which version it is, not which key it lacks.
    static func decode(_ bytes: [UInt8]) throws -> PersistedState {
        struct Version: Decodable { var version: Int }
        let data = Data(bytes)
        let found = try JSONDecoder().decode(Version.self, from: data).version
        guard found == currentVersion else { throw SnapshotVersionError(found: found) }
        return try JSONDecoder().decode(SnapshotDocument.self, from: data).engine
    }
}

struct SnapshotVersionError: Error, CustomStringConvertible {
    var found: Int
    var description: String { "snapshot format version \(found) is not the supported version \(SnapshotDocument.currentVersion)" }
}

/// The one log line an event gets: `#12 zone.faulted zone=front_door partition=main input=in1`.
public enum EventLine {
    public static func format(_ event: Event) -> String {
        var line = "#\(event.seq) \(event.type)"
        for key in event.data.keys.sorted() {
            line += " \(key)=\(render(event.data[key]!))"
        }
        return line
    }

    static func render(_ v: JSONValue) -> String {
        switch v {
        case .string(let s): return s.contains(" " as Character) ? "\"\(s)\"" : s
        case .array(let a): return "[" + a.map(render).joined(separator: ",") + "]"
        case .object: return String(decoding: v.encoded(), as: UTF8.self)
        case .null: return "null"
        case .bool(let b): return String(b)
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        }
    }
}
