import Foundation

/// A command the platform has issued to a bridge, as protocol.md's command object.
///
/// A *raw* command (`raw` set) is text an admin request gave verbatim, for testing how a bridge reads command
/// objects the platform would never build (repeated keys, unknown fields, odd times, not JSON at all): its bytes
/// go into the poll answer as given, and of the typed fields only `id` (under which its result is filed) and
/// `issuedAt` mean anything.
public struct PlatformCommand: Sendable, Equatable {
    /// `cmd_` + random, unless an admin request forced an id (to replay one).
    public var id: String
    /// e.g. `partition.arm`; any string is allowed so that tests can send unsupported types.
    public var type: String
    /// The command's parameters (an object).
    public var params: JSONValue
    /// Platform time of issue.
    public var issuedAt: Millis
    /// Platform time after which the bridge must answer `expired`.
    public var expiresAt: Millis
    /// The app that issued it (`issued_by.app`).
    public var app: String
    /// The scopes the app holds (`issued_by.scopes`).
    public var scopes: [String]
    /// The command object's text, sent byte for byte instead of the typed fields; nil for a typed command.
    public var raw: String?

    /// Makes a typed command.
    public init(
        id: String, type: String, params: JSONValue, issuedAt: Millis, expiresAt: Millis, app: String,
        scopes: [String]
    ) {
        self.id = id
        self.type = type
        self.params = params
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.app = app
        self.scopes = scopes
    }

    /// A raw command: `text` is what the poll answer carries for it, unchecked; `id` files its result.
    public static func raw(id: String, text: String, issuedAt: Millis) -> PlatformCommand {
        var command = PlatformCommand(
            id: id, type: "", params: .object([:]), issuedAt: issuedAt, expiresAt: issuedAt, app: "", scopes: [])
        command.raw = text
        return command
    }

    /// The bytes a poll answer carries for this command: `json` serialised (sorted keys), or the raw text as given.
    public var wire: [UInt8] { raw.map { Array($0.utf8) } ?? json.bytes }

    /// The wire form of a typed command: `{id, type, params, issued_at, expires_at, issued_by: {app, scopes}}`.
    /// For a raw command, the admin API's form `{id, raw, issued_at}` (its wire form is `wire`).
    public var json: JSONValue {
        if let raw {
            return .object(["id": .string(id), "raw": .string(raw), "issued_at": .string(Timestamp.rfc3339(issuedAt))])
        }
        return .object([
            "id": .string(id),
            "type": .string(type),
            "params": params,
            "issued_at": .string(Timestamp.rfc3339(issuedAt)),
            "expires_at": .string(Timestamp.rfc3339(expiresAt)),
            "issued_by": .object(["app": .string(app), "scopes": .array(scopes.map { .string($0) })]),
        ])
    }

    /// The scopes an app issuing `type` holds by default: what protocol.md's table requires for it.
    public static func defaultScopes(for type: String) -> [String] {
        if type.hasPrefix("partition.") || type.hasPrefix("zone.") { return ["sites:write"] }
        if type.hasPrefix("relay.") { return ["devices:write"] }
        if type == "state.sync" { return ["devices:read"] }
        return []
    }

    /// A fresh id: `cmd_` and 20 random base-32 characters (about 100 bits).
    public static func newID() -> String {
        let alphabet = Array("0123456789abcdefghjkmnpqrstvwxyz")
        var generator = SystemRandomNumberGenerator()
        return "cmd_" + String((0..<20).map { _ in alphabet[Int(generator.next(upperBound: UInt32(32)))] })
    }
}

/// An opaque long-poll cursor: the position of the last command a bridge has been given.
///
/// Encoded as unpadded base64url of `pos:<n>` so that a bridge cannot mistake it for a number it may do arithmetic
/// on, and so that it needs no percent-encoding in a query string.
public enum CommandCursor {
    /// The cursor text for a position.
    public static func encode(_ position: Int) -> String {
        Data("pos:\(position)".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The position a cursor names; 0 for an absent or empty cursor, nil for one this platform never issued.
    public static func decode(_ cursor: String?) -> Int? {
        guard let cursor, !cursor.isEmpty else { return 0 }
        var standard = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        standard += String(repeating: "=", count: (4 - standard.count % 4) % 4)
        guard let bytes = Data(base64Encoded: standard), let text = String(data: bytes, encoding: .utf8),
            text.hasPrefix("pos:"), let n = Int(text.dropFirst(4)), n >= 0
        else { return nil }
        return n
    }
}
