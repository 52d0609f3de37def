import BridgeCore

/// A long-poll answer's body, read strictly before anything in it is acted on (protocol.md, Commands;
/// docs/protocol.md, "Reading a command").
///
/// Pure and total: any bytes give a value, never a trap (Tools/fuzz/fuzz-commands). What the agent cannot read
/// with one meaning it does not execute:
/// - a key repeated anywhere in a command object makes that command ambiguous (two parsers could read it
///   differently, which is how signature-checked systems get bypassed): it is refused;
/// - a key repeated at the top level, `commands` that is not an array, or a `cursor` that is not a string
///   makes the whole answer unusable: every command id that can be read is refused and the cursor stays.
public struct CommandPoll: Sendable {
    /// The commands whose id can be read, in order; each carries the reason it must be refused, if any.
    public var commands: [CommandEnvelope]
    /// Commands without a usable id (nothing can be answered for them).
    public var unreadable: Int
    /// The next cursor; nil when absent (then `problem` says so).
    public var cursor: String?
    /// Why the answer as a whole is unusable; nil when it is usable.
    public var problem: String?
    /// True when the body is a JSON object with a `commands` key (an idle answer may come unsigned).
    public var hasCommandsKey: Bool

    /// The longest cursor taken.
    public static let maximumCursorBytes = 4096

    /// Reads a poll answer. Bytes that are not JSON give no commands and a `problem`.
    public static func parse(_ body: [UInt8]) -> CommandPoll {
        var poll = CommandPoll(commands: [], unreadable: 0, cursor: nil, problem: nil, hasCommandsKey: false)
        let document: JSONReader.Document
        do { document = try JSONReader.read(body) } catch {
            poll.problem = "the answer is not valid JSON (\(error))"
            return poll
        }
        guard let root = document.value.objectValue else {
            poll.problem = "the answer is \(document.value.kindName), not a JSON object"
            return poll
        }
        // Repeated keys, by the command they are in (`commands[i]…`), or at the top level.
        var ambiguous: [Int: JSONReader.DuplicateKey] = [:]
        for repeated in document.duplicateKeys {
            if case .key("commands")? = repeated.steps.first, repeated.steps.count >= 2, case .index(let i) = repeated.steps[1] {
                if ambiguous[i] == nil { ambiguous[i] = repeated }
            } else if poll.problem == nil {
                poll.problem = "the answer repeats the key \(ConfigText.quoted(repeated.key))"
                    + (repeated.path.isEmpty ? "" : " in \(ConfigText.printable(repeated.path))")
            }
        }
        if let commands = root["commands"] {
            poll.hasCommandsKey = true
            if let list = commands.arrayValue {
                for (i, item) in list.enumerated() {
                    if let command = CommandEnvelope(item, repeatedKey: ambiguous[i]) {
                        poll.commands.append(command)
                    } else {
                        poll.unreadable += 1
                    }
                }
            } else if poll.problem == nil {
                poll.problem = "\"commands\" is \(commands.kindName), not an array"
            }
        } else if poll.problem == nil {
            poll.problem = "the answer has no \"commands\""
        }
        if let cursor = root["cursor"]?.stringValue, cursor.utf8.count <= maximumCursorBytes {
            poll.cursor = cursor
        } else if let cursor = root["cursor"]?.stringValue, poll.problem == nil {
            // It goes into every poll's URL and into commands.cursor: a longer one would wedge the poll (414).
            poll.problem = "\"cursor\" is \(cursor.utf8.count) bytes, more than the \(maximumCursorBytes) accepted"
        } else if poll.problem == nil {
            poll.problem = root["cursor"] == nil ? "the answer has no \"cursor\"" : "\"cursor\" is not a string"
        }
        return poll
    }
}

/// One command as the platform sent it, with its fields read and checked, or the reason it must not run.
public struct CommandEnvelope: Sendable, Equatable {
    public var id: String
    public var type: String
    public var params: JSONObject
    /// Platform time it was issued; nil when absent.
    public var issuedAt: Millis?
    /// Platform time after which it must not run; nil when absent (no expiry).
    public var expiresAt: Millis?
    public var app: String?
    /// `issued_by.scopes`; empty when `issued_by` is absent.
    public var scopes: [String]
    /// Why it must be refused `rejected`/`invalid_params` although it is authentic; nil when it is well-formed.
    public var problem: String?

    /// The command object's keys (protocol.md): anything else is a field whose meaning the agent cannot establish.
    static let keys: Set<String> = ["id", "type", "params", "issued_at", "expires_at", "issued_by"]
    static let issuerKeys: Set<String> = ["app", "scopes"]

    /// Reads one element of `commands`; nil when it has no usable id (not an object, no id, an id that is not
    /// `Uplink.isAcceptableID`, or an id given twice: there is nothing to answer then).
    init?(_ value: JSONValue, repeatedKey: JSONReader.DuplicateKey? = nil) {
        guard let object = value.objectValue, let id = object["id"]?.stringValue, Uplink.isAcceptableID(id) else { return nil }
        if let repeatedKey, repeatedKey.steps.count == 2, repeatedKey.key == "id" { return nil }
        self.id = id
        var problems: [String] = []
        if let repeatedKey {
            problems.append("the command repeats the key \(ConfigText.quoted(repeatedKey.key))"
                            + (repeatedKey.steps.count > 2 ? " in \(ConfigText.printable(repeatedKey.path))" : ""))
        }
        let unknown = object.keys.filter { !Self.keys.contains($0) }.sorted()
        if !unknown.isEmpty { problems.append("unknown field\(unknown.count == 1 ? "" : "s") " + Self.list(unknown)) }

        switch object["type"] {
        case .string(let t)?: type = t
        case let other?: type = ""; problems.append("\"type\" must be a string, not \(other.kindName)")
        case nil: type = ""; problems.append("\"type\" is missing")
        }
        switch object["params"] {
        case .object(let o)?: params = o
        case nil, .null?: params = [:]
        case let other?: params = [:]; problems.append("\"params\" must be an object, not \(other.kindName)")
        }
        func time(_ key: String) -> Millis? {
            guard let field = object[key] else { return nil }
            if let text = field.stringValue, let ms = Timestamp.parse(text) { return ms }
            let shown = field.stringValue.map { ConfigText.quoted(String($0.prefix(64))) } ?? field.kindName
            problems.append("\"\(key)\" must be an RFC 3339 time, e.g. 2026-11-29T18:00:00.123Z; found \(shown)")
            return nil
        }
        issuedAt = time("issued_at")
        expiresAt = time("expires_at")

        scopes = []
        switch object["issued_by"] {
        case nil: break
        case .object(let issuer)?:
            let unknownIssuer = issuer.keys.filter { !Self.issuerKeys.contains($0) }.sorted()
            if !unknownIssuer.isEmpty { problems.append("unknown field\(unknownIssuer.count == 1 ? "" : "s") in \"issued_by\": " + Self.list(unknownIssuer)) }
            switch issuer["app"] {
            case .string(let a)?: app = a
            case nil: break
            case let other?: problems.append("\"issued_by.app\" must be a string, not \(other.kindName)")
            }
            switch issuer["scopes"] {
            case .array(let list)?:
                let names = list.compactMap(\.stringValue)
                if names.count == list.count { scopes = names } else { problems.append("\"issued_by.scopes\" must be an array of strings") }
            case nil: break
            case let other?: problems.append("\"issued_by.scopes\" must be an array of strings, not \(other.kindName)")
            }
        case let other?: problems.append("\"issued_by\" must be an object, not \(other.kindName)")
        }
        problem = problems.isEmpty ? nil : problems.joined(separator: "; ")
    }

    /// Keys for a message: the first few, quoted, and how many more.
    static func list(_ keys: [String]) -> String {
        let shown = keys.prefix(5).map { ConfigText.quoted(String($0.prefix(64))) }.joined(separator: ", ")
        return keys.count > 5 ? shown + " and \(keys.count - 5) more" : shown
    }
}
