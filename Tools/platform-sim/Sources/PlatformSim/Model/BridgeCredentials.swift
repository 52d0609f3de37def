import Foundation

/// A bridge's API key and signing secret: the same `{"api_key","signing_secret"}` file the agent reads.
///
/// `description` never shows either value, so a credentials value can be logged or interpolated safely.
public struct BridgeCredentials: Sendable, Equatable, CustomStringConvertible {
    /// The bearer token the bridge sends in `Authorization`.
    public var apiKey: String
    /// The HMAC key (its UTF-8 bytes) for `X-Chekt-Signature` in both directions.
    public var signingSecret: String

    /// Makes credentials from the two values.
    public init(apiKey: String, signingSecret: String) {
        self.apiKey = apiKey
        self.signingSecret = signingSecret
    }

    public var description: String { "BridgeCredentials(api_key: <hidden>, signing_secret: <hidden>)" }

    /// Reads a credentials object: both keys present, non-empty strings; any other key is an error.
    ///
    /// `source` names where it came from in error messages; the values themselves never appear there.
    public static func from(_ json: JSONValue, source: String) throws(SetupError) -> BridgeCredentials {
        guard let members = json.objectValue else {
            throw SetupError("\(source): expected an object {\"api_key\": \"...\", \"signing_secret\": \"...\"}")
        }
        for key in members.keys where key != "api_key" && key != "signing_secret" {
            throw SetupError("\(source): unknown key \"\(key)\" (expected api_key and signing_secret)")
        }
        guard let apiKey = members["api_key"]?.stringValue, !apiKey.isEmpty else {
            throw SetupError("\(source): api_key must be a non-empty string")
        }
        guard let secret = members["signing_secret"]?.stringValue, !secret.isEmpty else {
            throw SetupError("\(source): signing_secret must be a non-empty string")
        }
        return BridgeCredentials(apiKey: apiKey, signingSecret: secret)
    }

    /// Loads a credentials file.
    public static func load(path: String) throws(SetupError) -> BridgeCredentials {
        let json = try readJSONFile(path, what: "credentials file")
        return try from(json, source: path)
    }
}

/// A bridge the platform knows: its id and credentials.
public struct BridgeRegistration: Sendable, Equatable {
    /// The bridge id, as in the agent's `bridge.id` and the URL path.
    public var id: String
    /// Its key and secret.
    public var credentials: BridgeCredentials

    /// Makes a registration.
    public init(id: String, credentials: BridgeCredentials) {
        self.id = id
        self.credentials = credentials
    }

    /// Bridge ids go into URL paths unescaped, so they are kept to a safe alphabet.
    public static func validateID(_ id: String) -> String? {
        guard !id.isEmpty, id.count <= 128 else { return "bridge id must be 1 to 128 characters" }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
        guard id.allSatisfy({ allowed.contains($0) }) else {
            return "bridge id \"\(id)\" may hold only letters, digits, '_', '-' and '.'"
        }
        return nil
    }
}

/// A start-up problem (bad flag, unreadable file) with a message that says what to fix.
public struct SetupError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong and where.
    public let message: String

    /// Makes an error with a message.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

/// Reads and parses a JSON file, naming the file and the fault (never the content) on error.
func readJSONFile(_ path: String, what: String) throws(SetupError) -> JSONValue {
    guard let data = FileManager.default.contents(atPath: path) else {
        if FileManager.default.fileExists(atPath: path) {
            throw SetupError("\(path): cannot read the \(what) (check its permissions)")
        }
        throw SetupError("\(path): no such \(what)")
    }
    do {
        return try JSONValue.parse(data)
    } catch {
        throw SetupError("\(path): the \(what) is not valid JSON (\(error.description))")
    }
}
