import BridgeCore
import Glibc

/// The bridge's API key and signing secret (config.md, Credentials); never printed, logged or reflected.
///
/// `description`, `debugDescription` and the reflection `Mirror` (what
/// `dump` and the debugger show) all say only `Credentials(<redacted>)`: not a
/// prefix, not a suffix, not a length. Rotation is loading the file again.
public struct Credentials: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Sent as `Authorization: Bearer <apiKey>`.
    public var apiKey: String
    /// The HMAC key for `X-Chekt-Signature`, used as its UTF-8 bytes.
    public var signingSecret: String

    /// Makes credentials from values already checked by the caller (tests, the reference platform).
    public init(apiKey: String, signingSecret: String) {
        self.apiKey = apiKey
        self.signingSecret = signingSecret
    }

    /// `signingSecret` as the bytes `Signature` takes.
    public var signingSecretBytes: [UInt8] { Array(signingSecret.utf8) }

    public var description: String { "Credentials(<redacted>)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }

    /// The largest credentials file accepted; a real one is about 150 bytes.
    static let maximumFileBytes = 64 * 1024

    /// Loads the file named by upstream.credentials, or the same file name in $CREDENTIALS_DIRECTORY when that is set
    /// and the file exists there (systemd credentials win).
    ///
    /// Refuses, with a `CredentialsError` whose message says what to do:
    /// a missing or unreadable file; a file any group or other permission bit
    /// is set on (`chmod 600 FILE`, as ssh refuses a private key; systemd's
    /// credential files are 0400 and pass); not a JSON object; `api_key` or
    /// `signing_secret` missing, not a string, empty, or with leading or
    /// trailing whitespace (a pasted line break would otherwise fail every
    /// request with a confusing 401); an `api_key` with spaces or control
    /// characters (it goes into a header); any other key (a typo must not be
    /// ignored; it is not named, in case a secret was typed where a key
    /// belongs). Error messages name the file, never any of its content.
    public static func load(path: String, environment: [String: String]) throws(CredentialsError) -> (Credentials, resolvedPath: String) {
        let resolved = resolve(path: path, environment: environment)
        let file: SmallFile
        switch SmallFile.read(resolved, limit: maximumFileBytes) {
        case .success(let f): file = f
        case .failure(let failure):
            let code: CredentialsError.Code = failure.errno == ENOENT ? .notFound : .unreadable
            var message = "credentials file \(resolved) \(failure.reason)"
            if code == .notFound {
                message += "; create it with {\"api_key\": \"...\", \"signing_secret\": \"...\"} and chmod 600 it"
                    + " (upstream.credentials in the site config names it)"
            } else if failure.errno == EACCES {
                message += "; it must be readable by the user chekt-bridge runs as"
            }
            throw CredentialsError(code: code, path: resolved, message: message)
        }
        guard file.permissions & 0o077 == 0 else {
            throw CredentialsError(
                code: .permissionsTooOpen, path: resolved,
                message: "credentials file \(resolved) is accessible by group or others (mode \(octal(file.permissions))); "
                    + "run: chmod 600 \(resolved)")
        }
        let credentials = try parse(file.bytes, path: resolved)
        return (credentials, resolvedPath: resolved)
    }

    /// `$CREDENTIALS_DIRECTORY/<file name of path>` when the variable is set and that file exists; else `path`.
    static func resolve(path: String, environment: [String: String]) -> String {
        guard let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty else { return path }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let candidate = directory.hasSuffix("/") ? directory + name : directory + "/" + name
        var info = stat()
        return stat(candidate, &info) == 0 ? candidate : path
    }

    /// Decodes and checks the JSON; never puts a byte of `bytes` into an error.
    public static func parse(_ bytes: [UInt8], path: String) throws(CredentialsError) -> Credentials {
        let expected = "expected {\"api_key\": \"...\", \"signing_secret\": \"...\"}"
        // The configuration files' strict reader: a trailing comma or a repeated key is refused here too.
        let document: JSONReader.Document
        do {
            document = try JSONReader.read(bytes)
        } catch {
            // Only the place: the reader's message may quote the text.
            throw CredentialsError(code: .invalidJSON, path: path,
                                   message: "credentials file \(path) is not valid JSON (line \(error.line), column \(error.column)); \(expected)")
        }
        guard case .object(let object) = document.value else {
            throw CredentialsError(code: .invalidJSON, path: path, message: "credentials file \(path) is not a JSON object; \(expected)")
        }
        if let repeated = document.duplicateKeys.first {
            // Named only when it is one of the two keys: a mistyped file may have a secret where a key belongs.
            let what = ["api_key", "signing_secret"].contains(repeated.key) ? "\"\(repeated.key)\"" : "a key"
            throw CredentialsError(code: .repeatedKey, path: path,
                                   message: "credentials file \(path) has \(what) twice (lines \(repeated.firstLine) and \(repeated.line)); keep one")
        }
        func value(_ key: String) throws(CredentialsError) -> String {
            guard let raw = object[key] else {
                throw CredentialsError(code: .missingKey, path: path, message: "credentials file \(path) has no \"\(key)\"; \(expected)")
            }
            guard let text = raw.stringValue else {
                throw CredentialsError(code: .wrongType, path: path,
                                       message: "credentials file \(path): \"\(key)\" must be a string, not \(raw.kindName)")
            }
            guard !text.isEmpty else {
                throw CredentialsError(code: .emptyValue, path: path, message: "credentials file \(path): \"\(key)\" is empty")
            }
            guard let first = text.unicodeScalars.first, let last = text.unicodeScalars.last,
                  !first.properties.isWhitespace, !last.properties.isWhitespace else {
                throw CredentialsError(code: .invalidValue, path: path,
                                       message: "credentials file \(path): \"\(key)\" starts or ends with whitespace (a pasted line break?); remove it")
            }
            return text
        }
        let apiKey = try value("api_key")
        let signingSecret = try value("signing_secret")
        guard object.count == 2 else {
            // The key is not named: a mistyped file may have a secret where a key belongs.
            throw CredentialsError(code: .unknownKey, path: path,
                                   message: "credentials file \(path) has keys other than \"api_key\" and \"signing_secret\"; remove them")
        }
        guard !apiKey.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) else {
            throw CredentialsError(code: .invalidValue, path: path,
                                   message: "credentials file \(path): \"api_key\" contains a space or control character")
        }
        return Credentials(apiKey: apiKey, signingSecret: signingSecret)
    }

    private static func octal(_ mode: UInt32) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

/// Why the credentials could not be loaded; `message` names the file and the fix, never a key or secret.
public struct CredentialsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public enum Code: String, Sendable, Hashable {
        case notFound = "not_found"
        /// Not readable by this user, not a regular file, or too large.
        case unreadable
        /// Group or other permission bits are set.
        case permissionsTooOpen = "permissions_too_open"
        case invalidJSON = "invalid_json"
        /// A key appears twice (which one counts would be a guess).
        case repeatedKey = "repeated_key"
        case missingKey = "missing_key"
        case unknownKey = "unknown_key"
        case wrongType = "wrong_type"
        case emptyValue = "empty_value"
        /// Whitespace at either end, or a character that cannot go into a header.
        case invalidValue = "invalid_value"
    }

    public var code: Code
    /// The file that was read (after `$CREDENTIALS_DIRECTORY` was applied).
    public var path: String
    public var message: String

    public var description: String { message }
}
