import Foundation

/// A command the platform has issued to a bridge, as protocol.md's command object.
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

    /// Makes a command.
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

    /// The wire form: `{id, type, params, issued_at, expires_at, issued_by: {app, scopes}}`.
    public var json: JSONValue {
        .object([
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
